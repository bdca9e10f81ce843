"""Tenant policies (versioned) and package approvals."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from fleetprompt_cli.core.names import canonical_slug
from fleetprompt_cli.store.models import PackageApproval, TenantPolicy
from fleetprompt_cli.store.repository._common import _now


def current_policy(session: Session, tenant_id: int) -> TenantPolicy | None:
    """The tenant's policy in force (its newest version), or None."""
    return session.exec(
        select(TenantPolicy)
        .where(TenantPolicy.tenant_id == tenant_id)
        .order_by(col(TenantPolicy.version).desc())
        .limit(1)
    ).first()


def policy_versions(session: Session, tenant_id: int) -> list[TenantPolicy]:
    """Every version of the tenant's policy, oldest first."""
    return list(
        session.exec(
            select(TenantPolicy)
            .where(TenantPolicy.tenant_id == tenant_id)
            .order_by(col(TenantPolicy.version))
        )
    )


def add_policy_version(
    session: Session,
    tenant_id: int,
    rules: dict[str, Any],
    *,
    actor: str,
    directive_id: str | None = None,
    now: datetime | None = None,
) -> TenantPolicy:
    """Write the next version of the tenant's policy (the caller holds the tenant lock)."""
    latest = session.exec(
        select(func.max(TenantPolicy.version)).where(TenantPolicy.tenant_id == tenant_id)
    ).one()
    row = TenantPolicy(
        tenant_id=tenant_id,
        version=(latest or 0) + 1,
        rules=dict(rules),
        actor=actor,
        directive_id=directive_id,
        created_at=_now(now),
    )
    session.add(row)
    session.flush()
    return row


def list_approvals(session: Session, tenant_id: int) -> list[PackageApproval]:
    """The packages the tenant approved, by slug."""
    return list(
        session.exec(
            select(PackageApproval)
            .where(PackageApproval.tenant_id == tenant_id)
            .order_by(col(PackageApproval.slug))
        )
    )


def add_approval(
    session: Session,
    tenant_id: int,
    slug: str,
    *,
    actor: str,
    directive_id: str | None = None,
    now: datetime | None = None,
) -> tuple[PackageApproval, bool]:
    """Approve ``slug`` for the tenant; returns the row and whether it is new."""
    slug = canonical_slug(slug)
    existing = session.exec(
        select(PackageApproval).where(
            PackageApproval.tenant_id == tenant_id, PackageApproval.slug == slug
        )
    ).first()
    if existing is not None:
        return existing, False
    row = PackageApproval(
        tenant_id=tenant_id,
        slug=slug,
        actor=actor,
        directive_id=directive_id,
        created_at=_now(now),
    )
    session.add(row)
    session.flush()
    return row, True
