"""Reviews and ratings: one review per (tenant, actor, package), helpful votes.

A tenant reviews a package it has or had installed (its history says so),
and the review records the version it had.  Writing goes through the
store's repository (rating sums move in the same transaction); reading uses
the stats reader, so ``show`` and ``reviews list`` never import sqlmodel.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from fleetprompt_cli.actions.indexes import open_catalog
from fleetprompt_cli.actions.search import not_found
from fleetprompt_cli.core.names import canonical_slug
from fleetprompt_cli.errors import InvalidInput, ReviewRefused, UsageError
from fleetprompt_cli.settings import Settings
from fleetprompt_cli.store.stats_reader import (
    REVIEW_ORDERS,
    ReviewRow,
    read_histogram,
    read_reviews,
    read_stats,
)

if TYPE_CHECKING:
    from fleetprompt_cli.store.engine import Store
    from fleetprompt_cli.store.models import Review

__all__ = [
    "REVIEW_SORTS",
    "ReviewList",
    "add_review",
    "delete_review",
    "list_reviews",
    "vote_helpful",
]

REVIEW_SORTS = tuple(REVIEW_ORDERS)
# Documented limits of what a reviewer writes (characters).
MAX_TITLE = 200
MAX_CONTENT = 10_000


@dataclass
class ReviewList:
    """A package's reviews with its average, count and star histogram."""

    slug: str
    rating_avg: float | None
    rating_count: int
    reviews: list[ReviewRow]
    histogram: dict[int, int] = field(default_factory=dict)
    sort: str = "helpful"

    def to_json(self) -> dict[str, Any]:
        return {
            "slug": self.slug,
            "rating_avg": self.rating_avg,
            "rating_count": self.rating_count,
            "histogram": {str(stars): n for stars, n in self.histogram.items()},
            "sort": self.sort,
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


def _row(review: Review) -> ReviewRow:
    from fleetprompt_cli.store.models import saved_id

    return ReviewRow(
        saved_id(review),
        review.actor,
        review.rating,
        review.title,
        review.content,
        review.helpful_count,
        review.updated_at.isoformat(),
        review.version,
    )


def add_review(
    settings: Settings,
    store: Store,
    slug: str,
    rating: int,
    *,
    title: str | None,
    content: str | None,
) -> ReviewRow:
    """Write (or replace) the actor's review of a package the tenant has or had installed."""
    from fleetprompt_cli.store import repository as repo

    slug = _known(settings, slug)
    if not 1 <= rating <= 5:
        raise InvalidInput(f"a rating is a whole number from 1 to 5, not {rating}")
    if title is not None and len(title) > MAX_TITLE:
        raise InvalidInput(f"--title is {len(title)} characters; at most {MAX_TITLE}")
    if content is not None and len(content) > MAX_CONTENT:
        raise InvalidInput(f"--text is {len(content)} characters; at most {MAX_CONTENT}")
    with store.session() as s:
        tenant_id = repo.saved_id(repo.resolve_tenant(s, settings.tenant))
        version = repo.reviewed_version(s, tenant_id, slug)
        if version is None:
            raise ReviewRefused(
                f"tenant {settings.tenant} has never installed {slug}: "
                "only a tenant that has or had a package installed can review it"
            )
        review = repo.upsert_review(
            s,
            tenant_id,
            slug,
            settings.actor,
            rating,
            title=title,
            content=content,
            version=version,
        )
        return _row(review)


def delete_review(settings: Settings, store: Store, slug: str) -> ReviewRow:
    """Remove the actor's own review of a package in this tenant."""
    from fleetprompt_cli.store import repository as repo

    slug = canonical_slug(slug)
    with store.session() as s:
        tenant_id = repo.saved_id(repo.resolve_tenant(s, settings.tenant))
        return _row(repo.delete_review(s, tenant_id, slug, settings.actor))


def list_reviews(
    settings: Settings, slug: str, *, limit: int = 20, sort: str = "helpful"
) -> ReviewList:
    """A package's reviews in ``sort`` order, with its average rating and histogram."""
    if sort not in REVIEW_ORDERS:
        raise UsageError(f"--sort must be one of {', '.join(REVIEW_SORTS)}, not {sort!r}")
    slug = _known(settings, slug)
    figures = read_stats(settings.database_url, [slug]).get(slug)
    count = figures.rating_count if figures else 0
    average = round(figures.rating, 1) if figures and figures.rating is not None else None
    histogram = (
        read_histogram(settings.database_url, slug) if count else dict.fromkeys(range(5, 0, -1), 0)
    )
    reviews = read_reviews(settings.database_url, slug, limit, sort) if count else []
    return ReviewList(slug, average, count, reviews, histogram, sort)


def vote_helpful(settings: Settings, store: Store, review_id: int) -> bool:
    """Count the actor's helpful vote on a review once; False if already voted."""
    from fleetprompt_cli.store import repository as repo

    with store.session() as s:
        tenant_id = repo.saved_id(repo.resolve_tenant(s, settings.tenant))
        return repo.vote_helpful(s, tenant_id, review_id, settings.actor)
