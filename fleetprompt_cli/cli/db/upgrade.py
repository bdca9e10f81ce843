"""fleetprompt db upgrade"""

from __future__ import annotations

import typer

from fleetprompt_cli.cli.context import get_app
from fleetprompt_cli.cli.db.status import render
from fleetprompt_cli.cli.options import JsonOption

__all__ = ["register"]


def upgrade(ctx: typer.Context, json_output: bool = JsonOption) -> None:
    """Migrate the state store to this fleetprompt's schema.

    PostgreSQL is migrated under an advisory lock, so concurrent upgrades are
    safe; SQLite stores migrate themselves on first use, so this only reports.
    """
    from fleetprompt_cli.actions.db import db_upgrade

    app = get_app(ctx, json_output=json_output)
    result = db_upgrade(app.settings)
    if json_output:
        app.emit_json("db_upgrade", result.to_json())
        return
    render(app, result)
    app.note("migrated" if result.upgraded else "already current; nothing to do")


def register(app: typer.Typer) -> None:
    app.command()(upgrade)
