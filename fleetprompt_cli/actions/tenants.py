"""Tenants: find one (``default`` is created on first use), create, list, set the tier.

Every use case that works on a tenant's rows resolves the tenant by name once
with :func:`tenant_of` and passes its id to every repository call, so nothing
can read or change another tenant's rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from fleetprompt_cli.errors import NotFound

if TYPE_CHECKING:
    from fleetprompt_cli.store.engine import Store

__all__ = ["TenantInfo", "create_tenant", "list_tenants", "set_tier", "tenant_of"]


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


@dataclass
class TenantInfo:
    """A tenant with its tier and how many live installations it has."""

    slug: str
    tier: str
    created_at: datetime | None
    installations: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "slug": self.slug,
            "tier": self.tier,
            "created_at": _iso(self.created_at),
            "installations": self.installations,
        }


def tenant_of(store: Store, tenant: str) -> tuple[int, str, str]:
    """(id, slug, tier) of the tenant; ``default`` is created on first use.

    The lookup is a read; only the default tenant's first use writes, in a
    write transaction of its own (a SQLite read transaction that starts
    writing would fail at once with "locked" when another process wrote
    since it began, instead of waiting its turn).
    """
    from fleetprompt_cli.store import repository as repo

    try:
        with store.session(readonly=True) as s:
            record = repo.get_tenant(s, tenant)
            return repo.saved_id(record), record.slug, record.tier
    except NotFound:
        if tenant != repo.DEFAULT_TENANT:
            raise
    # Only the default tenant's first use writes, so reads stay off the
    # SQLite write lock in the common case.
    with store.session() as s:
        record = repo.resolve_tenant(s, tenant)
        return repo.saved_id(record), record.slug, record.tier


def create_tenant(store: Store, slug: str, tier: str = "free") -> TenantInfo:
    """Create a tenant (AlreadyExists when taken, InvalidInput for a bad name or tier)."""
    from fleetprompt_cli.store import repository as repo

    with store.session() as s:
        record = repo.create_tenant(s, slug, tier=tier)
        return TenantInfo(record.slug, record.tier, record.created_at, 0)


def list_tenants(store: Any) -> list[TenantInfo]:
    """Every tenant with its tier, creation time and live installation count.

    ``store``: the ORM Store, or an ``actions.state.StateSource`` (fast reader first).
    """
    from fleetprompt_cli.actions.source import StateSource

    def slow(orm: Store) -> list[TenantInfo]:
        from fleetprompt_cli.store import repository as repo

        with orm.session(readonly=True) as s:
            return [
                TenantInfo(
                    t.slug, t.tier, t.created_at, repo.count_installations(s, repo.saved_id(t))
                )
                for t in repo.list_tenants(s)
            ]

    def fast(reader: Any) -> list[TenantInfo]:
        from fleetprompt_cli.store import fastread

        counts = fastread.tenant_installation_counts(reader)
        return [
            TenantInfo(t.slug, t.tier, t.created_at, counts.get(t.id, 0))
            for t in fastread.list_tenants(reader)
        ]

    if isinstance(store, StateSource):
        return store.read(fast, slow)
    return slow(store)


def set_tier(store: Store, slug: str, tier: str) -> TenantInfo:
    """Change a tenant's tier."""
    from fleetprompt_cli.store import repository as repo

    with store.session() as s:
        record = repo.set_tier(s, slug, tier)
        return TenantInfo(
            record.slug,
            record.tier,
            record.created_at,
            repo.count_installations(s, repo.saved_id(record)),
        )
