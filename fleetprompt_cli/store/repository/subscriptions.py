"""Subscriptions (an installation's handlers and the types they take) and deliveries."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, update
from sqlmodel import Session, col, select

from fleetprompt_cli.errors import NotFound
from fleetprompt_cli.store.models import Delivery, Signal, Subscription, saved_id
from fleetprompt_cli.store.records import SubscriptionSpec
from fleetprompt_cli.store.repository._common import _insert, _now
from fleetprompt_cli.store.repository.signals import last_sequence

__all__ = [
    "SubscriptionSpec",
    "count_delivered",
    "delete_subscriptions",
    "delivery_labels",
    "find_subscription",
    "get_delivery",
    "list_deliveries",
    "list_subscriptions",
    "lock_subscriptions",
    "record_deliveries",
    "replace_subscriptions",
    "set_subscription_offsets",
    "set_subscriptions_status",
    "update_delivery",
]


def replace_subscriptions(
    session: Session,
    tenant_id: int,
    installation_id: int,
    slug: str,
    specs: list[SubscriptionSpec],
    *,
    status: str = "active",
    now: datetime | None = None,
) -> list[Subscription]:
    """Make the installation's subscriptions exactly ``specs`` (install, upgrade).

    A subscriber the new version keeps (same handler) keeps its offset and
    generation; a new one starts after the tenant's latest signal; one the
    new version drops is removed with its deliveries.
    """
    when = _now(now)
    current = {
        row.handler: row
        for row in session.exec(
            select(Subscription).where(
                Subscription.tenant_id == tenant_id,
                Subscription.installation_id == installation_id,
            )
        )
    }
    start = last_sequence(session, tenant_id)
    rows = []
    for spec in specs:
        row = current.pop(spec.handler, None)
        if row is None:
            row = Subscription(
                tenant_id=tenant_id,
                installation_id=installation_id,
                slug=slug,
                name=f"{slug}:{spec.handler}",
                handler=spec.handler,
                handler_kind=spec.kind,
                patterns=list(spec.patterns),
                status=status,
                offset=start,
                created_at=when,
                updated_at=when,
            )
        else:
            row.handler_kind = spec.kind
            row.patterns = list(spec.patterns)
            row.status = status
            row.updated_at = when
        session.add(row)
        rows.append(row)
    for row in current.values():
        session.delete(row)
    session.flush()
    return rows


def set_subscriptions_status(
    session: Session, tenant_id: int, installation_id: int, status: str
) -> int:
    """Pause or resume every subscription of an installation; how many."""
    result = session.exec(
        update(Subscription)
        .where(
            col(Subscription.tenant_id) == tenant_id,
            col(Subscription.installation_id) == installation_id,
        )
        .values(status=status, updated_at=_now(None))
    )
    return int(result.rowcount or 0)


def delete_subscriptions(session: Session, tenant_id: int, installation_id: int) -> int:
    """Remove an installation's subscriptions (and their deliveries); how many."""
    ids = list(
        session.exec(
            select(Subscription.id).where(
                Subscription.tenant_id == tenant_id,
                Subscription.installation_id == installation_id,
            )
        )
    )
    if not ids:
        return 0
    session.exec(
        delete(Delivery).where(
            col(Delivery.tenant_id) == tenant_id, col(Delivery.subscription_id).in_(ids)
        )
    )
    session.exec(
        delete(Subscription).where(
            col(Subscription.tenant_id) == tenant_id, col(Subscription.id).in_(ids)
        )
    )
    return len(ids)


def list_subscriptions(
    session: Session, tenant_id: int, *, status: str | None = None
) -> list[Subscription]:
    query = select(Subscription).where(Subscription.tenant_id == tenant_id)
    if status is not None:
        query = query.where(Subscription.status == status)
    return list(session.exec(query.order_by(col(Subscription.name))))


def find_subscription(
    session: Session, tenant_id: int, name: str, *, for_update: bool = False
) -> Subscription:
    query = select(Subscription).where(
        Subscription.tenant_id == tenant_id, Subscription.name == name
    )
    if for_update:
        query = query.with_for_update()
    row = session.exec(query.execution_options(populate_existing=True)).first()
    if row is None:
        raise NotFound(
            f"no subscriber named {name!r} (see 'fleetprompt subscriptions')",
            details={"subscriber": name},
        )
    return row


def subscribed_tenants(session: Session) -> list[tuple[int, str]]:
    """(id, slug) of the tenants with at least one active subscription, by id."""
    from fleetprompt_cli.store.models import Tenant

    active = (
        select(Subscription.tenant_id)
        .where(Subscription.status == "active")
        .distinct()
        .scalar_subquery()
    )
    rows = session.exec(
        select(Tenant.id, Tenant.slug).where(col(Tenant.id).in_(active)).order_by(col(Tenant.id))
    )
    return [(int(tenant_id or 0), slug) for tenant_id, slug in rows]


def lock_subscriptions(session: Session, tenant_id: int) -> list[Subscription]:
    """The tenant's active subscriptions, locked for this transaction.

    PostgreSQL skips rows another dispatcher holds (it is delivering to them
    now); SQLite's write transaction already excludes other writers.
    """
    query = (
        select(Subscription)
        .where(Subscription.tenant_id == tenant_id, Subscription.status == "active")
        .order_by(col(Subscription.id))
        .with_for_update(skip_locked=True)
        .execution_options(populate_existing=True)
    )
    return list(session.exec(query))


def set_subscription_offsets(
    session: Session, tenant_id: int, offsets: dict[int, tuple[int, int]]
) -> None:
    """Move offsets: {subscription id: (offset, generation it was read under)}.

    A subscriber replayed meanwhile (another generation) is left as is.
    """
    when = _now(None)
    for subscription_id, (offset, generation) in offsets.items():
        session.exec(
            update(Subscription)
            .where(
                col(Subscription.tenant_id) == tenant_id,
                col(Subscription.id) == subscription_id,
                col(Subscription.generation) == generation,
            )
            .values(offset=offset, updated_at=when)
        )


def record_deliveries(session: Session, tenant_id: int, rows: list[dict[str, Any]]) -> None:
    """Insert the tenant's delivery rows; one already recorded (same key) is kept as it was."""
    if not rows:
        return
    when = _now(None)
    for row in rows:
        if row.get("tenant_id") != tenant_id:
            raise ValueError("a delivery row of another tenant")
        row.setdefault("created_at", when)
        row.setdefault("updated_at", when)
    statement = _insert(session)(Delivery).on_conflict_do_nothing(
        index_elements=["subscription_id", "signal_pk", "generation"]
    )
    # executemany: one prepared INSERT for the whole batch.
    session.connection().execute(statement, rows)


def list_deliveries(
    session: Session,
    tenant_id: int,
    *,
    subscription_id: int | None = None,
    status: str | None = None,
    limit: int | None = None,
) -> list[Delivery]:
    query = select(Delivery).where(Delivery.tenant_id == tenant_id)
    if subscription_id is not None:
        query = query.where(Delivery.subscription_id == subscription_id)
    if status is not None:
        query = query.where(Delivery.status == status)
    query = query.order_by(col(Delivery.id))
    if limit is not None:
        query = query.limit(limit)
    return list(session.exec(query))


def get_delivery(
    session: Session, tenant_id: int, delivery_id: int, *, for_update: bool = False
) -> Delivery:
    query = select(Delivery).where(Delivery.tenant_id == tenant_id, Delivery.id == delivery_id)
    if for_update:
        query = query.with_for_update()
    row = session.exec(query).first()
    if row is None:
        raise NotFound(f"no delivery {delivery_id} in this tenant", details={"id": delivery_id})
    return row


def update_delivery(session: Session, tenant_id: int, row: Delivery, **values: Any) -> Delivery:
    """Change a delivery of the tenant (a retry's outcome)."""
    if row.tenant_id != tenant_id:
        raise NotFound(f"no delivery {row.id} in this tenant")
    for key, value in values.items():
        setattr(row, key, value)
    row.updated_at = _now(None)
    session.add(row)
    session.flush()
    saved_id(row)
    return row


def delivery_labels(
    session: Session, tenant_id: int, rows: list[Delivery]
) -> tuple[dict[int, str], dict[int, str]]:
    """For showing deliveries: {subscription id: name}, {signal pk: type}."""
    names: dict[int, str] = {
        int(pk): name
        for pk, name in session.exec(
            select(Subscription.id, Subscription.name).where(Subscription.tenant_id == tenant_id)
        ).all()
        if pk is not None
    }
    pks = {r.signal_pk for r in rows}
    types: dict[int, str] = {
        int(pk): type_
        for pk, type_ in session.exec(
            select(Signal.pk, Signal.type).where(
                Signal.tenant_id == tenant_id, col(Signal.pk).in_(pks)
            )
        ).all()
        if pk is not None
    }
    return names, types


def count_delivered(session: Session, tenant_id: int, sequence: int) -> int:
    """How many subscribers the tenant's signal ``sequence`` was delivered to (any generation)."""
    query = (
        select(func.count())
        .select_from(Delivery)
        .where(
            Delivery.tenant_id == tenant_id,
            Delivery.sequence == sequence,
            Delivery.status == "delivered",
        )
    )
    return int(session.exec(query).one())
