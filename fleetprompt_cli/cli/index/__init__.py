"""fleetprompt index: add, remove, list, update, flag and verify indexes."""

from __future__ import annotations

import typer

from fleetprompt_cli.cli.index import add, flag, listing, remove, update, verify

__all__ = ["app"]

app = typer.Typer(help="Manage the indexes packages come from.", no_args_is_help=True)
for module in (listing, add, remove, update, flag, verify):
    module.register(app)
