"""fleetprompt reviews add SLUG --rating N"""

from __future__ import annotations

import typer

from fleetprompt_cli.cli.context import get_app
from fleetprompt_cli.cli.options import JsonOption, TenantOption

__all__ = ["register"]


def add(
    ctx: typer.Context,
    slug: str = typer.Argument(..., help="The package."),
    rating: int = typer.Option(..., "--rating", "-r", min=1, max=5, help="1 to 5 stars."),
    title: str = typer.Option(None, "--title", help="A one-line summary."),
    text: str = typer.Option(None, "--text", help="The review itself."),
    tenant: str = TenantOption,
    actor: str = typer.Option(None, "--actor", help="Who writes it [env: FLEETPROMPT_ACTOR]."),
    json_output: bool = JsonOption,
) -> None:
    """Rate a package your tenant has or had installed (writing again replaces your review)."""
    from fleetprompt_cli.actions.reviews import add_review

    app = get_app(ctx, json_output=json_output)
    settings = app.settings.with_overrides(tenant=tenant, actor=actor)
    review = add_review(settings, app.store, slug, rating, title=title, content=text)
    if json_output:
        app.emit_json("review", {"slug": slug, "review": review.__dict__})
        return
    app.out.print(
        f"review {review.id} of {slug} {review.version} by {review.actor}: {'★' * review.rating}",
        highlight=False,
    )


def register(app: typer.Typer) -> None:
    app.command()(add)
