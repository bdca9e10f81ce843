"""Signals: the per-tenant, gapless event log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, update
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from fleetprompt_cli.errors import NotFound
from fleetprompt_cli.store.models import Signal, Tenant, TenantCounter
from fleetprompt_cli.store.repository._common import _insert, _now

__all__ = [
    "append_signal",
    "count_signals",
    "last_sequence",
    "list_signals",
    "publish_signal",
    "signal_rows",
    "type_filter",
]


def _next_sequence(session: Session, tenant_id: int) -> int:
    # UPDATE ... RETURNING takes the counter row's lock until this transaction
    # ends, so sequences are handed out in commit order and a rollback gives
    # its number back: the per-tenant sequence stays gapless.
    stmt = (
        update(TenantCounter)
        .where(col(TenantCounter.tenant_id) == tenant_id)
        .values(signal_sequence=TenantCounter.signal_sequence + 1)
        .returning(col(TenantCounter.signal_sequence))
    )
    sequence = session.exec(stmt).scalar_one_or_none()
    if sequence is None:
        if session.get(Tenant, tenant_id) is None:
            raise NotFound(f"no tenant with id {tenant_id}")
        session.exec(
            _insert(session)(TenantCounter)
            .values(tenant_id=tenant_id, signal_sequence=0)
            .on_conflict_do_nothing(index_elements=["tenant_id"])
        )
        sequence = session.exec(stmt).scalar_one()
    return sequence


def _give_back(session: Session, tenant_id: int) -> None:
    session.exec(
        update(TenantCounter)
        .where(col(TenantCounter.tenant_id) == tenant_id)
        .values(signal_sequence=TenantCounter.signal_sequence - 1)
    )


def publish_signal(
    session: Session,
    tenant_id: int,
    type: str,
    source: str,
    *,
    subject: str | None = None,
    data: Any = None,
    datacontenttype: str = "application/json",
    correlation_id: str | None = None,
    causation_id: str | None = None,
    time: datetime | None = None,
    signal_id: str | None = None,
) -> tuple[Signal, bool]:
    """Persist a signal with the tenant's next sequence; ``(signal, created)``.

    A signal whose (source, id) the tenant already has is not stored again:
    the stored one is returned with ``created`` False.  The check runs after
    the counter row is locked, and every writer of the tenant takes that lock
    first, so two publishers of the same event cannot both store it.
    """
    sequence = _next_sequence(session, tenant_id)
    if signal_id is not None:
        existing = session.exec(
            select(Signal).where(
                Signal.tenant_id == tenant_id, Signal.source == source, Signal.id == signal_id
            )
        ).first()
        if existing is not None:
            _give_back(session, tenant_id)
            return existing, False
    signal = Signal(
        tenant_id=tenant_id,
        sequence=sequence,
        type=type,
        source=source,
        subject=subject,
        time=_now(time),
        datacontenttype=datacontenttype,
        data=data,
        correlation_id=correlation_id,
        causation_id=causation_id,
    )
    if signal_id is not None:
        signal.id = signal_id
    session.add(signal)
    session.flush()
    return signal, True


def append_signal(
    session: Session, tenant_id: int, type: str, source: str, **kwargs: Any
) -> Signal:
    """Persist a signal with the tenant's next sequence number (see publish_signal)."""
    return publish_signal(session, tenant_id, type, source, **kwargs)[0]


def type_filter(pattern: str) -> Any:
    """A WHERE clause for a type pattern: exact, or ``prefix.*`` (LIKE, escaped)."""
    if pattern.endswith(".*"):
        return col(Signal.type).startswith(pattern[:-1], autoescape=True)
    return col(Signal.type) == pattern


def list_signals(
    session: Session,
    tenant_id: int,
    *,
    after: int = 0,
    limit: int | None = None,
    correlation_id: str | None = None,
    type_pattern: str | None = None,
) -> list[Signal]:
    """The tenant's signals with a sequence above ``after``, in order."""
    query = select(Signal).where(Signal.tenant_id == tenant_id, Signal.sequence > after)
    if correlation_id is not None:
        query = query.where(Signal.correlation_id == correlation_id)
    if type_pattern is not None:
        query = query.where(type_filter(type_pattern))
    query = query.order_by(col(Signal.sequence))
    if limit is not None:
        query = query.limit(limit)
    return list(session.exec(query))


def signal_rows(session: Session, tenant_id: int, after: int, limit: int) -> list[Any]:
    """Signals above ``after`` as plain rows (pk, sequence, envelope columns): the dispatch read."""
    table = Signal.__table__.c  # type: ignore[attr-defined]
    query = (
        sa_select(
            table.pk,
            table.sequence,
            table.id,
            table.specversion,
            table.type,
            table.source,
            table.subject,
            table.time,
            table.datacontenttype,
            table.data,
            table.correlation_id,
            table.causation_id,
        )
        .where(table.tenant_id == tenant_id, table.sequence > after)
        .order_by(table.sequence)
        .limit(limit)
    )
    return list(session.connection().execute(query).all())


def count_signals(session: Session, tenant_id: int, after: int, patterns: list[str]) -> int:
    """How many of the tenant's signals above ``after`` match any of ``patterns``."""
    if not patterns:
        return 0
    query = (
        select(func.count())
        .select_from(Signal)
        .where(
            Signal.tenant_id == tenant_id,
            Signal.sequence > after,
            or_(*(type_filter(p) for p in patterns)),
        )
    )
    return int(session.exec(query).one())


def last_sequence(session: Session, tenant_id: int) -> int:
    """The tenant's latest signal sequence (0 when it has none)."""
    value = session.exec(
        select(TenantCounter.signal_sequence).where(TenantCounter.tenant_id == tenant_id)
    ).first()
    return int(value or 0)
