"""Releases: the numbered revisions of a tenant's package, each a full snapshot.

After helm: every completed install, upgrade, downgrade, configure, sync
step, rollback or undo records revision N+1 ``deployed`` (and the one it
replaces becomes ``superseded``); a failed install or upgrade records a
``failed`` revision and leaves the deployed one as it was; an uninstall marks
the deployed one ``uninstalled``.  Numbers count per (tenant, slug) and go on
across an uninstall and a reinstall.  The lifecycle transitions keep their
own audit trail (``revisions``, in installations.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from fleetprompt_cli.core.configs import config_changes
from fleetprompt_cli.core.names import canonical_slug
from fleetprompt_cli.store.models import Installation, InstalledResource, Release, saved_id
from fleetprompt_cli.store.repository._common import _now

__all__ = [
    "deployed_release",
    "get_release",
    "list_releases",
    "mark_uninstalled",
    "record_release",
    "resources_snapshot",
]


def list_releases(session: Session, tenant_id: int, slug: str) -> list[Release]:
    """The tenant's revisions of ``slug``, oldest (1) first."""
    return list(
        session.exec(
            select(Release)
            .where(Release.tenant_id == tenant_id, Release.slug == canonical_slug(slug))
            .order_by(col(Release.number))
        )
    )


def get_release(session: Session, tenant_id: int, slug: str, number: int) -> Release | None:
    """Revision ``number`` of the tenant's ``slug``, or None."""
    return session.exec(
        select(Release).where(
            Release.tenant_id == tenant_id,
            Release.slug == canonical_slug(slug),
            Release.number == number,
        )
    ).first()


def deployed_release(session: Session, tenant_id: int, slug: str) -> Release | None:
    """The revision of ``slug`` the tenant runs now, or None."""
    return session.exec(
        select(Release).where(
            Release.tenant_id == tenant_id,
            Release.slug == canonical_slug(slug),
            Release.status == "deployed",
        )
    ).first()


def resources_snapshot(
    session: Session, tenant_id: int, installation_id: int
) -> list[dict[str, Any]]:
    """An installation's resources as a revision stores them: kind, name, definition, content."""
    rows = session.exec(
        select(InstalledResource)
        .where(
            InstalledResource.tenant_id == tenant_id,
            InstalledResource.installation_id == installation_id,
        )
        .order_by(col(InstalledResource.kind), col(InstalledResource.name))
    )
    return [
        {"kind": r.kind, "name": r.name, "definition": dict(r.definition), "content": r.content}
        for r in rows
    ]


def record_release(
    session: Session,
    tenant_id: int,
    installation: Installation,
    *,
    action: str,
    actor: str,
    directive_id: str | None,
    version: str | None,
    config: dict[str, Any],
    resources: list[dict[str, Any]],
    manifest: dict[str, Any] | None = None,
    sha256: str | None = None,
    failed: str | None = None,
    rollback_to: int | None = None,
    now: datetime | None = None,
) -> Release:
    """Record the next revision of the installation's package.

    Deployed (the default): the revision deployed until now is superseded,
    and ``installation.revision`` becomes the new number.  ``failed`` (the
    error) records an attempt that did not happen: the deployed revision
    stays deployed.  Call it in the transaction that made the change, with
    the installation's row locked (the directive runner and configure do),
    so two changes of one package never take the same number.
    """
    now = _now(now)
    slug = installation.slug
    last = session.exec(
        select(func.max(Release.number)).where(Release.tenant_id == tenant_id, Release.slug == slug)
    ).one()
    current = deployed_release(session, tenant_id, slug)
    release = Release(
        tenant_id=tenant_id,
        slug=slug,
        number=(last or 0) + 1,
        installation_id=saved_id(installation),
        directive_id=directive_id,
        actor=actor,
        at=now,
        action=action,
        status="failed" if failed is not None else "deployed",
        version=version,
        previous_version=current.version if current is not None else None,
        rollback_to=rollback_to,
        config=dict(config),
        config_diff=config_changes(dict(current.config) if current else {}, dict(config)),
        sha256=sha256,
        manifest=manifest,
        resources=list(resources),
        error=failed,
    )
    if failed is None:
        if current is not None:
            current.status = "superseded"
            session.add(current)
        installation.revision = release.number
        session.add(installation)
    session.add(release)
    session.flush()
    return release


def mark_uninstalled(session: Session, tenant_id: int, slug: str) -> None:
    """The package was uninstalled: its deployed revision is now ``uninstalled``."""
    current = deployed_release(session, tenant_id, slug)
    if current is not None:
        current.status = "uninstalled"
        session.add(current)
        session.flush()
