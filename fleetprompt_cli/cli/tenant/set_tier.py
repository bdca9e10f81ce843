"""fleetprompt tenant set-tier SLUG TIER"""

from __future__ import annotations

import typer

from fleetprompt_cli.cli.context import get_app
from fleetprompt_cli.cli.options import JsonOption
from fleetprompt_cli.core.vocab import Tier

# A Literal makes a bad tier a usage error (exit 2) before anything runs, and
# lists the choices in --help.

__all__ = ["register"]


def set_tier(
    ctx: typer.Context,
    slug: str = typer.Argument(..., metavar="SLUG", help="The tenant."),
    tier: Tier = typer.Argument(..., help="The new tier."),
    json_output: bool = JsonOption,
) -> None:
    """Change a tenant's tier (what packages it may install)."""
    from fleetprompt_cli.actions.tenants import set_tier as run_set_tier

    app = get_app(ctx, json_output=json_output)
    tenant = run_set_tier(app.store, slug, tier)
    if json_output:
        app.emit_json("tenant", {"tenant": tenant.to_json()})
        return
    app.out.print(f"tenant {tenant.slug} is now on the {tenant.tier} tier", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("set-tier")(set_tier)
