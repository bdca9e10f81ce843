"""fleetprompt reviews helpful ID"""

from __future__ import annotations

import typer

from fleetprompt_cli.cli.context import get_app
from fleetprompt_cli.cli.options import INT64_MAX, TenantOption

__all__ = ["register"]


def helpful(
    ctx: typer.Context,
    review_id: int = typer.Argument(
        ..., metavar="ID", min=1, max=INT64_MAX, help="The review's id."
    ),
    tenant: str = TenantOption,
    actor: str = typer.Option(None, "--actor", help="Who votes [env: FLEETPROMPT_ACTOR]."),
) -> None:
    """Mark a review helpful (once per actor)."""
    from fleetprompt_cli.actions.reviews import vote_helpful

    app = get_app(ctx)
    settings = app.settings.with_overrides(tenant=tenant, actor=actor)
    counted = vote_helpful(settings, app.store, review_id)
    app.out.print(
        f"review {review_id}: "
        + ("marked helpful" if counted else "you already marked it helpful"),
        highlight=False,
    )


def register(app: typer.Typer) -> None:
    app.command()(helpful)
