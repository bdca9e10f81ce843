"""Tenants: create, look up, lock and change the tier of the accounts everything belongs to."""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from fleetprompt_cli.errors import AlreadyExists, InvalidInput, NotFound
from fleetprompt_cli.store.models import TIERS, Tenant, TenantCounter, saved_id, utcnow
from fleetprompt_cli.store.repository._common import _insert, _now

DEFAULT_TENANT = "default"


_TENANT_SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,98}[a-z0-9])?$")


def _check_tier(tier: str) -> str:
    if tier not in TIERS:
        raise InvalidInput(f"unknown tier {tier!r}: expected free, pro or enterprise")
    return tier


def _check_tenant_slug(slug: str) -> str:
    if not _TENANT_SLUG.match(slug):
        raise InvalidInput(
            f"invalid tenant name {slug!r}: use lower-case letters, digits and dashes "
            "(at most 100 characters)"
        )
    return slug


def _find_tenant(session: Session, slug: str) -> Tenant | None:
    return session.exec(select(Tenant).where(Tenant.slug == slug)).first()


def create_tenant(
    session: Session, slug: str, *, tier: str = "free", now: datetime | None = None
) -> Tenant:
    """Create a tenant (AlreadyExists if the slug is taken)."""
    _check_tenant_slug(slug)
    _check_tier(tier)
    if _find_tenant(session, slug) is not None:
        raise AlreadyExists(f"tenant {slug!r} already exists")
    tenant = Tenant(slug=slug, tier=tier, created_at=_now(now))
    try:
        # A savepoint: a concurrent create can commit the slug between the
        # check above and this insert; the unique index then refuses it.
        with session.begin_nested():
            session.add(tenant)
            session.flush()
    except IntegrityError:
        raise AlreadyExists(f"tenant {slug!r} already exists") from None
    session.add(TenantCounter(tenant_id=saved_id(tenant)))
    session.flush()
    return tenant


def get_tenant(session: Session, slug: str) -> Tenant:
    """The tenant named ``slug``, or NotFound."""
    tenant = _find_tenant(session, slug)
    if tenant is None:
        raise NotFound(
            f"unknown tenant {slug!r}: create it with 'fleetprompt tenant create {slug}'",
            details={"tenant": slug},
        )
    return tenant


def resolve_tenant(session: Session, slug: str = DEFAULT_TENANT) -> Tenant:
    """The tenant a command runs as; ``default`` is created (tier free) on first use."""
    if slug != DEFAULT_TENANT:
        return get_tenant(session, slug)
    tenant = _find_tenant(session, slug)
    if tenant is not None:
        return tenant
    # Two first commands may race to create the default tenant: let the
    # database pick one and read back whichever row won.
    insert = _insert(session)
    session.exec(
        insert(Tenant)
        .values(slug=slug, tier="free", created_at=utcnow())
        .on_conflict_do_nothing(index_elements=["slug"])
    )
    tenant = get_tenant(session, slug)
    session.exec(
        insert(TenantCounter)
        .values(tenant_id=tenant.id, signal_sequence=0)
        .on_conflict_do_nothing(index_elements=["tenant_id"])
    )
    return tenant


def lock_tenant(session: Session, tenant_id: int) -> Tenant:
    """Lock the tenant's row until the transaction ends (submits of a tenant take turns).

    On PostgreSQL a SELECT ... FOR UPDATE; on SQLite the write transaction
    already holds the database's one write lock.  ``tenant set-tier`` updates
    the same row, so a tier read under this lock is current.
    """
    tenant = session.exec(
        select(Tenant)
        .where(Tenant.id == tenant_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()
    if tenant is None:
        raise NotFound(f"no tenant with id {tenant_id}")
    return tenant


def list_tenants(session: Session) -> list[Tenant]:
    """Every tenant, by slug."""
    return list(session.exec(select(Tenant).order_by(Tenant.slug)))


def set_tier(session: Session, slug: str, tier: str) -> Tenant:
    """Change a tenant's tier."""
    tenant = get_tenant(session, slug)
    tenant.tier = _check_tier(tier)
    session.add(tenant)
    session.flush()
    return tenant
