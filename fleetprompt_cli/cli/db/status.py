"""fleetprompt db status"""

from __future__ import annotations

from typing import Any

import typer

from fleetprompt_cli.cli.context import App, get_app
from fleetprompt_cli.cli.options import JsonOption
from fleetprompt_cli.errors import ExitCode

__all__ = ["register", "render"]

_MEANING = {
    "current": "up to date",
    "empty": "no schema yet (created on first use)",
    "older": "older than this fleetprompt: run 'fleetprompt db upgrade'",
    "newer": "newer than this fleetprompt: upgrade fleetprompt",
    "unversioned": "has fleetprompt tables without a schema version",
}


def render(app: App, result: Any) -> None:
    """The store, its revision and the expected one, as one short block."""
    app.out.print(f"store     {result.url}", highlight=False, soft_wrap=True)
    app.out.print(f"backend   {result.backend}", highlight=False)
    app.out.print(f"schema    {result.current or 'none'}", highlight=False)
    app.out.print(f"expected  {result.expected}", highlight=False)
    app.out.print(f"state     {result.state}: {_MEANING.get(result.state, '')}", highlight=False)


def status(ctx: typer.Context, json_output: bool = JsonOption) -> None:
    """The store's schema revision against the one this fleetprompt expects."""
    from fleetprompt_cli.actions.db import db_status

    app = get_app(ctx, json_output=json_output)
    result = db_status(app.settings)
    if json_output:
        app.emit_json("db_status", result.to_json())
    else:
        render(app, result)
    if result.state in ("newer", "unversioned"):
        # Scripts can tell "this code cannot use the store" from the exit code.
        raise typer.Exit(int(ExitCode.UNAVAILABLE))


def register(app: typer.Typer) -> None:
    app.command()(status)
