"""Reviews and ratings: one review per actor per package, helpful votes.

Writing goes through the store's repository (ratings sums move in the same
transaction); reading for the detail page uses the stats reader, so ``show``
never imports sqlmodel.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from fleetprompt_cli.actions.indexes import open_catalog
from fleetprompt_cli.actions.search import not_found
from fleetprompt_cli.core.names import canonical_slug
from fleetprompt_cli.errors import InvalidInput
from fleetprompt_cli.settings import Settings
from fleetprompt_cli.store.stats_reader import ReviewRow, read_reviews, read_stats

__all__ = ["ReviewList", "add_review", "list_reviews", "vote_helpful"]


@dataclass
class ReviewList:
    """A package's reviews with its average and count."""

    slug: str
    rating_avg: float | None
    rating_count: int
    reviews: list[ReviewRow]

    def to_json(self) -> dict[str, Any]:
        return {
            "slug": self.slug,
            "rating_avg": self.rating_avg,
            "rating_count": self.rating_count,
            "reviews": [asdict(r) for r in self.reviews],
        }


def _known(settings: Settings, slug: str) -> str:
    slug = canonical_slug(slug)
    view = open_catalog(settings)
    try:
        if not view.catalog.versions(slug):
            raise not_found(slug, view.catalog.slugs_and_names())
    finally:
        view.catalog.close()
    return slug


def add_review(
    settings: Settings,
    store: Any,
    slug: str,
    rating: int,
    *,
    title: str | None,
    content: str | None,
) -> ReviewRow:
    """Write (or replace) the actor's review of a package."""
    from fleetprompt_cli.store import repository as repo

    slug = _known(settings, slug)
    if not 1 <= rating <= 5:
        raise InvalidInput(f"a rating is a whole number from 1 to 5, not {rating}")
    with store.session() as s:
        tenant = repo.resolve_tenant(s, settings.tenant)
        review = repo.upsert_review(
            s, tenant.id, slug, settings.actor, rating, title=title, content=content
        )
        return ReviewRow(
            review.id,
            review.actor,
            review.rating,
            review.title,
            review.content,
            review.helpful_count,
            review.updated_at.isoformat(),
        )


def list_reviews(settings: Settings, slug: str, *, limit: int = 20) -> ReviewList:
    """A package's reviews, most helpful first, with its average rating."""
    slug = _known(settings, slug)
    figures = read_stats(settings.database_url, [slug]).get(slug)
    count = figures.rating_count if figures else 0
    average = round(figures.rating, 2) if figures and figures.rating is not None else None
    return ReviewList(slug, average, count, read_reviews(settings.database_url, slug, limit))


def vote_helpful(settings: Settings, store: Any, review_id: int) -> bool:
    """Count the actor's helpful vote on a review once; False if already voted."""
    from fleetprompt_cli.store import repository as repo

    with store.session() as s:
        tenant = repo.resolve_tenant(s, settings.tenant)
        return repo.vote_helpful(s, tenant.id, review_id, settings.actor)
