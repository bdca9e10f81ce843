"""Signals: the per-tenant, gapless event log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, select

from fleetprompt_cli.errors import NotFound
from fleetprompt_cli.store.models import Signal, Tenant, TenantCounter
from fleetprompt_cli.store.repository._common import _insert, _now


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


def append_signal(
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
) -> Signal:
    """Persist a signal with the tenant's next sequence number."""
    signal = Signal(
        tenant_id=tenant_id,
        sequence=_next_sequence(session, tenant_id),
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
    return signal


def list_signals(
    session: Session,
    tenant_id: int,
    *,
    after: int = 0,
    limit: int | None = None,
    correlation_id: str | None = None,
) -> list[Signal]:
    """The tenant's signals with a sequence above ``after``, in order."""
    query = select(Signal).where(Signal.tenant_id == tenant_id, Signal.sequence > after)
    if correlation_id is not None:
        query = query.where(Signal.correlation_id == correlation_id)
    query = query.order_by(col(Signal.sequence))
    if limit is not None:
        query = query.limit(limit)
    return list(session.exec(query))
