"""Leases: the store is the queue of record (claim, heartbeat, release, the sweep)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, update
from sqlmodel import Session, col, select

from fleetprompt_cli.core import lifecycle
from fleetprompt_cli.settings import DEFAULT_CLAIM_GRACE_SECONDS
from fleetprompt_cli.store import install_step
from fleetprompt_cli.store.engine import driver_tx
from fleetprompt_cli.store.models import Directive
from fleetprompt_cli.store.repository._common import _lease_now, _now

# A directive nobody has claimed this long after it was written is presumed
# orphaned (its CLI died between the commit and the claim) and is swept.
DEFAULT_CLAIM_GRACE = DEFAULT_CLAIM_GRACE_SECONDS


@dataclass(frozen=True)
class DirectiveRef:
    """A directive the sweep found: enough to claim it, tenant by tenant."""

    tenant_id: int
    directive_id: str
    status: str
    lease_owner: str | None
    lease_expires_at: datetime | None
    attempts: int


def claim_directive(
    session: Session,
    tenant_id: int,
    directive_id: str,
    owner: str,
    *,
    lease_seconds: float,
    now: datetime | None = None,
) -> bool:
    """Take the lease on an open directive if it is free or expired; count an attempt.

    One conditional UPDATE, so two claimers can never both win: PostgreSQL
    re-checks the WHERE clause against the row a concurrent winner committed,
    and SQLite serialises writers with BEGIN IMMEDIATE.  An owner re-claiming
    its own live lease renews it without counting an attempt.  The statement
    is the installer's own (``install_step.claim``), on this session's
    connection.
    """
    return install_step.claim(
        driver_tx(session.connection()),
        tenant_id,
        directive_id,
        owner,
        lease_seconds=lease_seconds,
        now=None if now is None else _now(now),
    )


def heartbeat(
    session: Session,
    tenant_id: int,
    directive_id: str,
    owner: str,
    *,
    lease_seconds: float,
    now: datetime | None = None,
) -> bool:
    """Extend ``owner``'s lease; False if it no longer holds it (stop working then).

    A lease that lapsed but that nobody took over is still the owner's: only
    a claim changes the owner, and a claim is one conditional UPDATE, so
    renewing it here can never overlap another holder.  (A slow step, or a
    lease of 0 s in tests, then does not make the owner give up for nothing.)
    The statement is the installer's own (``install_step.renew_lease``).
    """
    return install_step.renew_lease(
        driver_tx(session.connection()),
        tenant_id,
        directive_id,
        owner,
        lease_seconds=lease_seconds,
        now=None if now is None else _now(now),
    )


def release(session: Session, tenant_id: int, directive_id: str, owner: str) -> bool:
    """Give up ``owner``'s lease (the directive stays open for someone else)."""
    result = session.exec(
        update(Directive)
        .where(
            col(Directive.tenant_id) == tenant_id,
            col(Directive.id) == directive_id,
            col(Directive.lease_owner) == owner,
        )
        .values(lease_owner=None, lease_expires_at=None)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def break_lease(session: Session, tenant_id: int, directive_id: str) -> bool:
    """Drop whoever holds an open directive's lease (``recover --now``); False if finished.

    The holder, if it is in fact alive, fails its next lease renewal and
    rolls back: it cannot commit behind the next claimer.
    """
    result = session.exec(
        update(Directive)
        .where(
            col(Directive.tenant_id) == tenant_id,
            col(Directive.id) == directive_id,
            col(Directive.status).in_(lifecycle.DIRECTIVE_OPEN_STATUSES),
        )
        .values(lease_owner=None, lease_expires_at=None)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def expired_directives(
    session: Session,
    *,
    now: datetime | None = None,
    grace_seconds: float = DEFAULT_CLAIM_GRACE,
    limit: int | None = None,
    rewake_seconds: float | None = None,
) -> list[DirectiveRef]:
    """Open directives, across tenants, whose lease expired or that nobody claimed in time.

    A directive a sweep already woke (see :func:`reserve_wakeup`) is found
    again only ``rewake_seconds`` (default: the grace) after that wake-up, in
    case it was lost; ``recover`` passes 0 to see it at once.
    """
    now = _lease_now(session, now)
    rewake = grace_seconds if rewake_seconds is None else rewake_seconds
    query = (
        select(Directive)
        .where(
            col(Directive.status).in_(lifecycle.DIRECTIVE_OPEN_STATUSES),
            or_(
                and_(
                    col(Directive.lease_owner).is_not(None),
                    col(Directive.lease_expires_at) <= now,
                ),
                and_(
                    col(Directive.lease_owner).is_(None),
                    col(Directive.lease_expires_at).is_(None),
                    col(Directive.created_at) <= now - timedelta(seconds=grace_seconds),
                ),
                and_(
                    col(Directive.lease_owner).is_(None),
                    col(Directive.lease_expires_at) <= now - timedelta(seconds=rewake),
                ),
            ),
        )
        .order_by(col(Directive.created_at), col(Directive.id))
    )
    if limit is not None:
        query = query.limit(limit)
    return [
        DirectiveRef(
            tenant_id=d.tenant_id,
            directive_id=d.id,
            status=d.status,
            lease_owner=d.lease_owner,
            lease_expires_at=d.lease_expires_at,
            attempts=d.attempts,
        )
        for d in session.exec(query.execution_options(populate_existing=True))
    ]


def reserve_wakeup(
    session: Session,
    tenant_id: int,
    directive_id: str,
    *,
    seen_owner: str | None,
    grace_seconds: float = DEFAULT_CLAIM_GRACE,
    rewake_seconds: float = DEFAULT_CLAIM_GRACE,
    now: datetime | None = None,
) -> bool:
    """Let one sweeping worker, not every one, wake a stranded directive; True for the winner.

    One conditional UPDATE: the directive becomes unclaimed with
    ``lease_expires_at`` set to now (when it was woken), which hides it from
    other sweeps until ``rewake_seconds`` pass (a lost wake-up is sent again
    then).  An expired lease is dropped here rather than by the claim that
    follows; an unclaimed directive can be claimed at once either way.
    """
    now = _lease_now(session, now)
    if seen_owner is None:
        due = or_(
            and_(
                col(Directive.lease_expires_at).is_(None),
                col(Directive.created_at) <= now - timedelta(seconds=grace_seconds),
            ),
            col(Directive.lease_expires_at) <= now - timedelta(seconds=rewake_seconds),
        )
        held = and_(col(Directive.lease_owner).is_(None), due)
    else:
        held = and_(
            col(Directive.lease_owner) == seen_owner, col(Directive.lease_expires_at) <= now
        )
    result = session.exec(
        update(Directive)
        .where(
            col(Directive.tenant_id) == tenant_id,
            col(Directive.id) == directive_id,
            col(Directive.status).in_(lifecycle.DIRECTIVE_OPEN_STATUSES),
            held,
        )
        .values(lease_owner=None, lease_expires_at=now)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1
