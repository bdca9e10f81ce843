"""fleetprompt pause SLUG"""

from __future__ import annotations

import shlex
import sys

import typer

from fleetprompt_cli.cli.context import get_app
from fleetprompt_cli.cli.options import ActorOption, JsonOption, TenantOption, complete_installed

__all__ = ["register", "run_transition"]


def run_transition(ctx: typer.Context, name: str, slug: str, tenant, actor, json_output) -> None:
    """Apply pause or resume through the state machine and report the new status."""
    from fleetprompt_cli.actions import adjust as lifecycle

    app = get_app(ctx, json_output=json_output)
    settings = app.settings.with_overrides(tenant=tenant, actor=actor)
    command = "fleetprompt " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    apply = lifecycle.pause if name == "pause" else lifecycle.resume
    item = apply(app.store, settings.tenant, slug, actor=settings.actor, command=command)
    if json_output:
        app.emit_json(name, {"installation": item.to_json()})
        return
    app.out.print(f"{item.slug} is {item.status} in tenant {item.tenant}", highlight=False)


def pause(
    ctx: typer.Context,
    slug: str = typer.Argument(
        ..., help="The installed package to pause.", autocompletion=complete_installed
    ),
    tenant: str = TenantOption,
    actor: str = ActorOption,
    json_output: bool = JsonOption,
) -> None:
    """Pause an active package (its resources stay installed)."""
    run_transition(ctx, "pause", slug, tenant, actor, json_output)


def register(app: typer.Typer) -> None:
    app.command()(pause)
