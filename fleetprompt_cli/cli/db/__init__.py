"""fleetprompt db: the state store's schema (upgrade, status)."""

from __future__ import annotations

import typer

from fleetprompt_cli.cli.db import status, upgrade

__all__ = ["app"]

app = typer.Typer(help="The state store's schema: status and migrations.", no_args_is_help=True)
for module in (status, upgrade):
    module.register(app)
