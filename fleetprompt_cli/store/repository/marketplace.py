"""Marketplace data, global by design: package stats and reviews.

Reads for search, show and ``reviews list`` go through
:mod:`fleetprompt_cli.store.stats_reader`; this module writes.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, delete, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from fleetprompt_cli.core.names import canonical_slug
from fleetprompt_cli.errors import InvalidInput, NotFound, ReviewRefused
from fleetprompt_cli.store.models import Installation, Review, ReviewVote, Revision
from fleetprompt_cli.store.repository._common import _bump_stats, _insert, _now


def reviewed_version(session: Session, tenant_id: int, slug: str) -> str | None:
    """The version the tenant has installed, or last had, of ``slug``; None if never.

    The audit trail decides: the newest revision that made an installation of
    ``slug`` active (installed, upgraded, resumed) carries its version.
    """
    row = session.exec(
        select(Revision.to_version)
        .join(
            Installation,
            and_(
                col(Installation.id) == Revision.installation_id,
                col(Installation.tenant_id) == Revision.tenant_id,
            ),
        )
        .where(
            Revision.tenant_id == tenant_id,
            Installation.slug == canonical_slug(slug),
            Revision.to_status == "active",
        )
        .order_by(col(Revision.id).desc())
        .limit(1)
    ).first()
    return row


def upsert_review(
    session: Session,
    tenant_id: int,
    slug: str,
    actor: str,
    rating: int,
    *,
    title: str | None = None,
    content: str | None = None,
    version: str | None = None,
    now: datetime | None = None,
) -> Review:
    """Write ``actor``'s one review of ``slug`` for this tenant, keeping the rating sums in step.

    A review belongs to (tenant, actor, package): the same actor name in
    another tenant writes another review, never this one.
    """
    if not isinstance(rating, int) or not 1 <= rating <= 5:
        raise InvalidInput(f"a rating is a whole number from 1 to 5, not {rating!r}")
    now = _now(now)
    slug = canonical_slug(slug)
    query = (
        select(Review)
        .where(Review.tenant_id == tenant_id, Review.actor == actor, Review.slug == slug)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    review = session.exec(query).first()
    if review is None:
        fresh = Review(
            slug=slug,
            actor=actor,
            tenant_id=tenant_id,
            rating=rating,
            title=title,
            content=content,
            version=version,
            created_at=now,
            updated_at=now,
        )
        try:
            # A concurrent first review by the same actor may commit between
            # the read above and this insert: then update that one instead.
            with session.begin_nested():
                session.add(fresh)
                session.flush()
        except IntegrityError:
            review = session.exec(query).one()
        else:
            _bump_stats(session, slug, rating_sum=rating, rating_count=1)
            return fresh
    _bump_stats(session, slug, rating_sum=rating - review.rating)
    review.rating = rating
    review.title = title
    review.content = content
    review.version = version
    review.updated_at = now
    session.add(review)
    session.flush()
    return review


def delete_review(session: Session, tenant_id: int, slug: str, actor: str) -> Review:
    """Remove ``actor``'s review of ``slug`` in this tenant (and its votes); NotFound if none."""
    slug = canonical_slug(slug)
    review = session.exec(
        select(Review)
        .where(Review.tenant_id == tenant_id, Review.actor == actor, Review.slug == slug)
        .with_for_update()
    ).first()
    if review is None:
        raise NotFound(f"{actor} has not reviewed {slug}")
    _bump_stats(session, slug, rating_sum=-review.rating, rating_count=-1)
    session.exec(delete(ReviewVote).where(col(ReviewVote.review_id) == review.id))
    session.delete(review)
    session.flush()
    return review


def vote_helpful(
    session: Session, tenant_id: int, review_id: int, actor: str, *, now: datetime | None = None
) -> bool:
    """Count ``actor``'s "helpful" vote on a review once; False if already counted.

    Nobody votes their own review helpful (same tenant, same actor).
    """
    review = session.get(Review, review_id)
    if review is None:
        raise NotFound(f"no review {review_id}")
    if review.tenant_id == tenant_id and review.actor == actor:
        raise ReviewRefused(f"review {review_id} is your own: you cannot vote it helpful")
    insert = _insert(session)
    inserted = session.exec(
        insert(ReviewVote)
        .values(review_id=review_id, actor=actor, tenant_id=tenant_id, created_at=_now(now))
        .on_conflict_do_nothing(index_elements=["review_id", "tenant_id", "actor"])
        .returning(ReviewVote.id)
    )
    # RETURNING rather than rowcount: drivers disagree on the rowcount of an
    # INSERT that did nothing, but never on whether it returned a row.
    if inserted.first() is None:
        return False
    session.exec(
        update(Review)
        .where(col(Review.id) == review_id)
        .values(helpful_count=Review.helpful_count + 1)
        .execution_options(synchronize_session=False)
    )
    return True
