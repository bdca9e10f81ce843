"""fleetprompt tenant create SLUG --tier TIER"""

from __future__ import annotations

import typer

from fleetprompt_cli.cli.context import get_app
from fleetprompt_cli.cli.options import JsonOption
from fleetprompt_cli.core.vocab import Tier

# A Literal makes a bad tier a usage error (exit 2) before anything runs, and
# lists the choices in --help.

__all__ = ["register"]


def create(
    ctx: typer.Context,
    slug: str = typer.Argument(
        ..., metavar="SLUG", help="The tenant's name: lower-case letters, digits, dashes."
    ),
    tier: Tier = typer.Option("free", "--tier", help="The tier: what it may install."),
    json_output: bool = JsonOption,
) -> None:
    """Create a tenant."""
    from fleetprompt_cli.actions.tenants import create_tenant

    app = get_app(ctx, json_output=json_output)
    tenant = create_tenant(app.store, slug, tier)
    if json_output:
        app.emit_json("tenant", {"tenant": tenant.to_json()})
        return
    app.out.print(f"created tenant {tenant.slug} ({tenant.tier} tier)", highlight=False)


def register(app: typer.Typer) -> None:
    app.command()(create)
