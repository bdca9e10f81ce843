"""Installations and their revisions: the lifecycle transitions, config, and the audit trail."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from fleetprompt_cli.core import lifecycle
from fleetprompt_cli.core.configs import config_changes
from fleetprompt_cli.core.names import canonical_slug
from fleetprompt_cli.errors import NotFound, StateError
from fleetprompt_cli.store.models import Installation, Revision, saved_id, utcnow
from fleetprompt_cli.store.repository._common import _bump_stats, _now

# What a revision records of a config change (added, removed, changed), or None.
config_diff = config_changes


def _live(tenant_id: int, slug: str) -> Any:
    return and_(
        col(Installation.tenant_id) == tenant_id,
        col(Installation.slug) == canonical_slug(slug),
        col(Installation.status).not_in(lifecycle.FINISHED_STATUSES),
    )


def find_installation(
    session: Session, tenant_id: int, slug: str, *, for_update: bool = False
) -> Installation | None:
    """The tenant's live installation of ``slug``, or None."""
    query = select(Installation).where(_live(tenant_id, slug))
    if for_update:
        query = query.with_for_update()
    return session.exec(query).first()


def get_installation(
    session: Session, tenant_id: int, slug: str, *, for_update: bool = False
) -> Installation:
    """The tenant's live installation of ``slug``, or NotFound."""
    installation = find_installation(session, tenant_id, slug, for_update=for_update)
    if installation is None:
        raise NotFound(f"{canonical_slug(slug)} is not installed", details={"slug": slug})
    return installation


def get_installation_by_id(session: Session, tenant_id: int, installation_id: int) -> Installation:
    """One of the tenant's installations (live or not) by id, or NotFound."""
    # Already read in this transaction (the runner locks it first): no query.
    known = session.identity_map.get(session.identity_key(Installation, installation_id))
    if isinstance(known, Installation) and known.tenant_id == tenant_id:
        return known
    installation = session.exec(
        select(Installation).where(
            Installation.tenant_id == tenant_id, Installation.id == installation_id
        )
    ).first()
    if installation is None:
        raise NotFound(f"no installation {installation_id} in this tenant")
    return installation


def list_installations(
    session: Session, tenant_id: int, *, include_finished: bool = False
) -> list[Installation]:
    """The tenant's live installations by slug (with finished history rows if asked)."""
    query = select(Installation).where(Installation.tenant_id == tenant_id)
    if not include_finished:
        query = query.where(col(Installation.status).not_in(lifecycle.FINISHED_STATUSES))
    return list(session.exec(query.order_by(col(Installation.slug), col(Installation.id))))


def count_installations(session: Session, tenant_id: int) -> int:
    """How many live installations the tenant has (for ``tenant list``)."""
    return session.exec(
        select(func.count())
        .select_from(Installation)
        .where(
            Installation.tenant_id == tenant_id,
            col(Installation.status).not_in(lifecycle.FINISHED_STATUSES),
        )
    ).one()


def latest_installation(session: Session, tenant_id: int, slug: str) -> Installation | None:
    """The tenant's live row of ``slug``, else its newest finished (history) row, or None."""
    live = find_installation(session, tenant_id, slug)
    if live is not None:
        return live
    return session.exec(
        select(Installation)
        .where(Installation.tenant_id == tenant_id, Installation.slug == canonical_slug(slug))
        .order_by(col(Installation.id).desc())
    ).first()


def _record(
    session: Session,
    installation: Installation,
    transition: str,
    *,
    actor: str,
    directive_id: str | None,
    from_status: str | None,
    from_version: str | None,
    old_config: dict[str, Any],
    now: datetime,
    to_version: str | None = None,
) -> Revision:
    revision = Revision(
        tenant_id=installation.tenant_id,
        installation_id=saved_id(installation),
        directive_id=directive_id,
        actor=actor,
        at=now,
        transition=transition,
        from_status=from_status,
        to_status=installation.status,
        from_version=from_version,
        to_version=to_version or installation.version,
        config_diff=config_diff(old_config, installation.config),
    )
    session.add(revision)
    return revision


def plan_installation(
    session: Session,
    tenant_id: int,
    slug: str,
    version: str,
    *,
    actor: str,
    requested: bool = True,
    config: dict[str, Any] | None = None,
    directive_id: str | None = None,
    now: datetime | None = None,
) -> Installation:
    """Record that a directive will bring ``slug`` to ``version`` for the tenant.

    A new installation is created ``queued`` (and a ``plan`` revision
    recorded); an existing one gets ``pending_version`` (and
    ``pending_config``), to be applied by its upgrade.  A package once
    requested by the user stays requested when a dependency plans it again.
    """
    now = _now(now)
    slug = canonical_slug(slug)
    installation = find_installation(session, tenant_id, slug, for_update=True)
    if installation is None:
        installation = Installation(
            tenant_id=tenant_id,
            slug=slug,
            pending_version=version,
            status=lifecycle.QUEUED,
            config=dict(config or {}),
            requested=requested,
            created_at=now,
            updated_at=now,
        )
        try:
            # A savepoint, so that losing the race below leaves the caller's
            # transaction usable for its rollback and error message.
            with session.begin_nested():
                session.add(installation)
                session.flush()
        except IntegrityError:
            # Another directive planned the same package between our read and
            # this insert (the partial unique index refused the second row).
            raise lifecycle.busy([slug]) from None
        _record(
            session,
            installation,
            "plan",
            actor=actor,
            directive_id=directive_id,
            from_status=None,
            from_version=None,
            old_config={},
            now=now,
            to_version=version,
        )
        session.flush()
        return installation
    if lifecycle.changing(installation.status, installation.pending_version):
        raise lifecycle.busy([slug])
    installation.pending_version = version
    installation.pending_config = dict(config) if config is not None else None
    installation.requested = installation.requested or requested
    installation.updated_at = now
    session.add(installation)
    session.flush()
    return installation


def apply_transition(
    session: Session,
    tenant_id: int,
    slug: str,
    name: str,
    *,
    actor: str,
    directive_id: str | None = None,
    error_message: str | None = None,
    now: datetime | None = None,
) -> Installation:
    """Apply lifecycle transition ``name`` to the tenant's ``slug`` and record a revision.

    Completing an install or upgrade makes the pending version (and config)
    current; package stats move in the same transaction.  Raises StateError
    when the state machine does not allow the transition.
    """
    now = _now(now)
    installation = get_installation(session, tenant_id, slug, for_update=True)
    from_status, from_version = installation.status, installation.version
    old_config = dict(installation.config)
    target = lifecycle.transition(
        from_status, name, previous=installation.previous_status, subject=installation.slug
    )

    if name in ("complete_install", "complete_upgrade"):
        if installation.pending_version is None:
            raise StateError(f"cannot {name} {installation.slug}: no version is pending")
        installation.version = installation.pending_version
        installation.revision += 1
        if installation.pending_config is not None:
            installation.config = dict(installation.pending_config)
        installation.pending_version = None
        installation.pending_config = None
        installation.error_message = None
        installation.installed_at = now
    elif name in ("fail_install", "fail_upgrade", "fail_uninstall"):
        installation.error_message = error_message
        # The previous revision stays current (nothing, for a failed install);
        # the pending one is dropped, so that a pending version always means
        # an open directive is changing the package (see plan_installation).
        installation.pending_version = None
        installation.pending_config = None
    elif name in ("cancel", "retry"):
        installation.error_message = error_message
    elif name == "complete_uninstall":
        installation.pending_version = None
        installation.pending_config = None

    if name == "complete_install":
        _bump_stats(session, installation.slug, install_count=1, active_install_count=1)
    elif name == "complete_uninstall" and installation.revision > 0:
        # Only installations that completed an install were ever counted.
        _bump_stats(session, installation.slug, active_install_count=-1)

    installation.previous_status = from_status
    installation.status = target
    installation.updated_at = now
    session.add(installation)
    session.flush()
    _record(
        session,
        installation,
        name,
        actor=actor,
        directive_id=directive_id,
        from_status=from_status,
        from_version=from_version,
        old_config=old_config,
        now=now,
    )
    session.flush()
    return installation


def clear_pending(session: Session, tenant_id: int, slug: str) -> None:
    """Drop a planned change that will not happen (its directive failed first)."""
    installation = find_installation(session, tenant_id, slug, for_update=True)
    if installation is not None and installation.pending_version is not None:
        installation.pending_version = None
        installation.pending_config = None
        installation.updated_at = utcnow()
        session.add(installation)
        session.flush()


def set_config(
    session: Session,
    tenant_id: int,
    slug: str,
    config: dict[str, Any],
    *,
    actor: str,
    directive_id: str | None = None,
    now: datetime | None = None,
) -> Installation:
    """Replace an installation's config (already validated) and record the diff."""
    now = _now(now)
    installation = get_installation(session, tenant_id, slug, for_update=True)
    old_config = dict(installation.config)
    installation.config = dict(config)
    installation.updated_at = now
    session.add(installation)
    session.flush()
    _record(
        session,
        installation,
        "configure",
        actor=actor,
        directive_id=directive_id,
        from_status=installation.status,
        from_version=installation.version,
        old_config=old_config,
        now=now,
    )
    session.flush()
    return installation


def list_revisions(
    session: Session, tenant_id: int, *, slug: str | None = None, limit: int | None = None
) -> list[Revision]:
    """The tenant's recorded changes, oldest first (one package's, with ``slug``)."""
    query = select(Revision).where(Revision.tenant_id == tenant_id)
    if slug is not None:
        query = query.join(
            Installation,
            and_(
                col(Installation.id) == Revision.installation_id,
                col(Installation.tenant_id) == Revision.tenant_id,
            ),
        ).where(Installation.slug == canonical_slug(slug))
    query = query.order_by(col(Revision.id))
    if limit is not None:
        query = query.limit(limit)
    return list(session.exec(query))
