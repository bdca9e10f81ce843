"""fleetprompt resume SLUG"""

from __future__ import annotations

import typer

from fleetprompt_cli.cli.options import ActorOption, JsonOption, TenantOption, complete_installed
from fleetprompt_cli.cli.pause import run_transition

__all__ = ["register"]


def resume(
    ctx: typer.Context,
    slug: str = typer.Argument(
        ..., help="The paused package to resume.", autocompletion=complete_installed
    ),
    tenant: str = TenantOption,
    actor: str = ActorOption,
    json_output: bool = JsonOption,
) -> None:
    """Resume a paused package."""
    run_transition(ctx, "resume", slug, tenant, actor, json_output)


def register(app: typer.Typer) -> None:
    app.command()(resume)
