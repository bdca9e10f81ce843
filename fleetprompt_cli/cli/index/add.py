"""fleetprompt index add NAME URL"""

from __future__ import annotations

import typer

from fleetprompt_cli.cli.context import get_app
from fleetprompt_cli.cli.options import JsonOption

__all__ = ["register"]


def add(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="A short name for the index."),
    url: str = typer.Argument(..., help="A git URL (https://, ssh, file://) or a folder."),
    trust: str = typer.Option(
        None,
        "--trust",
        metavar="POLICY",
        help="require (default for git) or verify-if-present (default for folders).",
    ),
    json_output: bool = JsonOption,
) -> None:
    """Add an index after the existing ones (earlier indexes win for a slug)."""
    from rich.text import Text

    from fleetprompt_cli.actions.indexes import add_index

    app = get_app(ctx, json_output=json_output)
    # A Text, not a str: rich would read a str status as markup ("[/]" in a URL).
    with app.err.status(Text(f"Fetching {url}…"), spinner="dots"):
        status = add_index(app.settings, name, url, trust=trust)
    if json_output:
        app.emit_json("index", {"index": status.__dict__})
        return
    app.out.print(
        f"added index {status.name} ({status.kind}, {status.packages} packages, "
        f"trust: {status.trust})",
        highlight=False,
    )


def register(app: typer.Typer) -> None:
    app.command()(add)
