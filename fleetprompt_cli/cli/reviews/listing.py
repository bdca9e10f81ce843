"""fleetprompt reviews list SLUG"""

from __future__ import annotations

import typer

from fleetprompt_cli.cli.context import get_app
from fleetprompt_cli.cli.options import INT64_MAX, JsonOption

__all__ = ["register"]


def list_(
    ctx: typer.Context,
    slug: str = typer.Argument(..., help="The package."),
    limit: int = typer.Option(
        20, "--limit", "-n", min=1, max=INT64_MAX, help="Show at most this many reviews."
    ),
    sort: str = typer.Option(
        "helpful", "--sort", "-s", help="helpful (default), newest or rating (best first)."
    ),
    json_output: bool = JsonOption,
) -> None:
    """A package's reviews with its average rating and a 5-to-1 star histogram."""
    from fleetprompt_cli.actions.reviews import list_reviews
    from fleetprompt_cli.cli.render import review_lines

    app = get_app(ctx, json_output=json_output)
    result = list_reviews(app.settings, slug, limit=limit, sort=sort)
    if json_output:
        app.emit_json("reviews", result.to_json())
        return
    app.out.print(
        review_lines(
            result.slug,
            result.rating_avg,
            result.rating_count,
            result.reviews,
            histogram=result.histogram,
        )
    )


def register(app: typer.Typer) -> None:
    app.command("list")(list_)
