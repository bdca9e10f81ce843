"""fleetprompt reviews list SLUG"""

from __future__ import annotations

import typer

from fleetprompt_cli.cli.context import get_app
from fleetprompt_cli.cli.options import JsonOption

__all__ = ["register"]


def list_(
    ctx: typer.Context,
    slug: str = typer.Argument(..., help="The package."),
    limit: int = typer.Option(20, "--limit", "-n", help="Show at most this many reviews."),
    json_output: bool = JsonOption,
) -> None:
    """A package's reviews, most helpful first, with its average rating."""
    from fleetprompt_cli.actions.reviews import list_reviews
    from fleetprompt_cli.cli.render import review_lines

    app = get_app(ctx, json_output=json_output)
    result = list_reviews(app.settings, slug, limit=limit)
    if json_output:
        app.emit_json("reviews", result.to_json())
        return
    app.out.print(review_lines(result.slug, result.rating_avg, result.rating_count, result.reviews))


def register(app: typer.Typer) -> None:
    app.command("list")(list_)
