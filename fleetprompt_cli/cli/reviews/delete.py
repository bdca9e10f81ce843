"""fleetprompt reviews delete SLUG"""

from __future__ import annotations

import typer

from fleetprompt_cli.cli.context import get_app
from fleetprompt_cli.cli.options import JsonOption, TenantOption

__all__ = ["register"]


def delete(
    ctx: typer.Context,
    slug: str = typer.Argument(..., help="The package whose review to remove."),
    tenant: str = TenantOption,
    actor: str = typer.Option(None, "--actor", help="Whose review [env: FLEETPROMPT_ACTOR]."),
    json_output: bool = JsonOption,
) -> None:
    """Remove your own review of a package (in this tenant)."""
    from fleetprompt_cli.actions.reviews import delete_review

    app = get_app(ctx, json_output=json_output)
    settings = app.settings.with_overrides(tenant=tenant, actor=actor)
    review = delete_review(settings, app.store, slug)
    if json_output:
        app.emit_json("review_deleted", {"slug": slug, "review": review.__dict__})
        return
    app.out.print(f"deleted review {review.id} of {slug} by {review.actor}", highlight=False)


def register(app: typer.Typer) -> None:
    app.command()(delete)
