"""fleetprompt reviews: list, add and vote on package reviews."""

from __future__ import annotations

import typer

from fleetprompt_cli.cli.reviews import add, delete, helpful, listing

__all__ = ["app"]

app = typer.Typer(help="Read and write package reviews and ratings.", no_args_is_help=True)
for module in (listing, add, helpful, delete):
    module.register(app)
