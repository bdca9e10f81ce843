"""fleetprompt tenant: create, list and set-tier."""

from __future__ import annotations

import typer

from fleetprompt_cli.cli.tenant import create, listing, set_tier

__all__ = ["app"]

app = typer.Typer(help="Manage tenants (organizations) and their tiers.", no_args_is_help=True)
for module in (create, listing, set_tier):
    module.register(app)
