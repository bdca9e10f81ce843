"""fleetprompt search [QUERY]"""

from __future__ import annotations

import typer

from fleetprompt_cli.cli.context import get_app
from fleetprompt_cli.cli.options import INT64_MAX, JsonOption

__all__ = ["register"]


def search(
    ctx: typer.Context,
    query: list[str] = typer.Argument(None, help="Words to look for (slug, name, keywords, ...)."),
    category: str = typer.Option(None, "--category", "-c", help="operations, sales, hr, ..."),
    pricing: str = typer.Option(
        None, "--pricing", "-p", help="free, freemium, paid, revenue_share"
    ),
    tier: str = typer.Option(
        None, "--tier", help="Only packages a tenant of this tier may install."
    ),
    limit: int = typer.Option(
        20, "--limit", "-n", min=1, max=INT64_MAX, help="Show at most this many packages."
    ),
    sort: str = typer.Option(
        "match",
        "--sort",
        "-s",
        help="match (best match, then most installed) or rating (Bayesian average).",
    ),
    json_output: bool = JsonOption,
) -> None:
    """Search the index: best match first, then most installed."""
    from fleetprompt_cli.actions.search import search as run_search

    app = get_app(ctx, json_output=json_output)
    text = " ".join(query or [])
    result = run_search(
        app.settings, text, category=category, pricing=pricing, tier=tier, limit=limit, sort=sort
    )
    if json_output:
        app.emit_json("search", result.to_json())
        return
    for warning in result.warnings:
        app.warn(warning)
    if not result.packages:
        app.note(f"No packages match {result.query!r}." if text else "No packages match.")
        return
    from fleetprompt_cli.cli.render import package_table

    app.out.print(package_table(result.packages, app.out.width))
    if result.total > len(result.packages):
        app.note(f"{len(result.packages)} of {result.total} shown; use --limit to see more.")


def register(app: typer.Typer) -> None:
    app.command()(search)
