"""fleetprompt index remove NAME"""

from __future__ import annotations

import typer

from fleetprompt_cli.cli.context import get_app

__all__ = ["register"]


def remove(
    ctx: typer.Context, name: str = typer.Argument(..., help="The index to remove.")
) -> None:
    """Remove an added index."""
    from fleetprompt_cli.actions.indexes import remove_index

    app = get_app(ctx)
    remove_index(app.settings, name)
    app.out.print(f"removed index {name}", highlight=False)


def register(app: typer.Typer) -> None:
    app.command()(remove)
