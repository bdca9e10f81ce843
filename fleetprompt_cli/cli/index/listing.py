"""fleetprompt index list"""

from __future__ import annotations

import typer

from fleetprompt_cli.cli.context import get_app
from fleetprompt_cli.cli.options import JsonOption

__all__ = ["register"]


def list_(ctx: typer.Context, json_output: bool = JsonOption) -> None:
    """The configured indexes, first one wins for each package."""
    from rich.table import Table

    from fleetprompt_cli.actions.indexes import list_indexes

    app = get_app(ctx, json_output=json_output)
    indexes = list_indexes(app.settings)
    if json_output:
        app.emit_json("indexes", {"indexes": [i.__dict__ for i in indexes]})
        return
    table = Table("Name", "Kind", "Packages", "Trust", "Location", box=None, pad_edge=False)
    for index in indexes:
        table.add_row(index.name, index.kind, str(index.packages), index.trust, index.url)
    app.out.print(table)


def register(app: typer.Typer) -> None:
    app.command("list")(list_)
