"""fleetprompt index flag SLUG --featured/--verified"""

from __future__ import annotations

from pathlib import Path

import typer

from fleetprompt_cli.cli.context import get_app
from fleetprompt_cli.cli.options import IndexDirOption, JsonOption

__all__ = ["register"]


def flag(
    ctx: typer.Context,
    slug: str = typer.Argument(..., help="The package."),
    featured: bool = typer.Option(None, "--featured/--no-featured", help="Feature it or not."),
    verified: bool = typer.Option(None, "--verified/--no-verified", help="Verified or not."),
    index: Path = IndexDirOption,
    json_output: bool = JsonOption,
) -> None:
    """Set the maintainer flags of a package in an index folder."""
    from fleetprompt_cli.actions.indexes import flag_package

    app = get_app(ctx, json_output=json_output)
    flags = flag_package(app.settings, index, slug, featured=featured, verified=verified)
    if json_output:
        app.emit_json("flags", {"slug": slug, **flags})
        return
    shown = ", ".join(f"{k}={'yes' if v else 'no'}" for k, v in flags.items())
    app.out.print(f"{slug}: {shown}", highlight=False)


def register(app: typer.Typer) -> None:
    app.command()(flag)
