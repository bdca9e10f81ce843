"""fleetprompt directives: the command log (list, show)."""

from __future__ import annotations

import typer

from fleetprompt_cli.cli.directives import listing, show

__all__ = ["app"]

app = typer.Typer(
    help="The command log: every change requested, and its steps.", no_args_is_help=True
)
for module in (listing, show):
    module.register(app)
