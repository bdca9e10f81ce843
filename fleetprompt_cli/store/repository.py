"""Repository functions: every read and write of the state store goes through here.

Each function takes an open session (``Store.session()``: one transaction)
and, when it touches tenant data, the tenant id **explicitly**, so no code
path can read or change another tenant's rows by forgetting a filter.  The
only cross-tenant functions are the queue sweep (:func:`expired_directives`,
which returns ids for the caller to claim tenant by tenant), the tenant list,
and the marketplace data that is global by design (package stats, reviews).

Functions never commit: the caller's ``with store.session()`` block decides,
so that a lifecycle change, its revision row and the stats it moves land in
one transaction or not at all.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, delete, func, or_, text, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from fleetprompt_cli.core import lifecycle
from fleetprompt_cli.core.names import canonical_slug
from fleetprompt_cli.errors import (
    AlreadyExists,
    InvalidInput,
    NotFound,
    ReviewRefused,
    StateError,
)
from fleetprompt_cli.store.models import (
    DIRECTIVE_KINDS,
    RESOURCE_KINDS,
    STEP_ACTIONS,
    TIERS,
    Directive,
    DirectiveStep,
    Installation,
    InstalledResource,
    PackageStats,
    Review,
    ReviewVote,
    Revision,
    Signal,
    Tenant,
    TenantCounter,
    utcnow,
)

__all__ = [
    "DEFAULT_CLAIM_GRACE",
    "DEFAULT_TENANT",
    "DirectiveRef",
    "StepSpec",
    "append_signal",
    "apply_transition",
    "break_lease",
    "claim_directive",
    "clear_pending",
    "config_diff",
    "count_installations",
    "create_directive",
    "create_tenant",
    "database_now",
    "delete_resources",
    "delete_review",
    "expired_directives",
    "find_directives",
    "find_installation",
    "finish_directive",
    "get_directive",
    "get_installation",
    "get_installation_by_id",
    "get_tenant",
    "heartbeat",
    "latest_installation",
    "list_directives",
    "list_installations",
    "list_resources",
    "list_reviews",
    "list_revisions",
    "list_signals",
    "list_steps",
    "list_tenants",
    "lock_tenant",
    "plan_installation",
    "read_stats",
    "release",
    "reopen_directive",
    "reserve_wakeup",
    "resolve_tenant",
    "resource_counts",
    "reviewed_version",
    "set_config",
    "set_tier",
    "update_step",
    "upsert_resource",
    "upsert_review",
    "vote_helpful",
]

DEFAULT_TENANT = "default"
# A directive nobody has claimed this long after it was written is presumed
# orphaned (its CLI died between the commit and the claim) and is swept.
DEFAULT_CLAIM_GRACE = 60.0

_TENANT_SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,98}[a-z0-9])?$")
_OPEN_DIRECTIVE = ("pending", "running")
_FINISHED_DIRECTIVE = ("succeeded", "failed", "cancelled")
# Which step statuses may follow which.  "running" may follow itself: a
# worker that takes over an expired lease re-runs the step it finds running.
_STEP_MOVES: dict[str, frozenset[str]] = {
    # "failed" and "pending" may follow "pending" when an attempt failed
    # before it could mark the step running: the step still fails or retries.
    "pending": frozenset({"running", "cancelled", "failed", "pending"}),
    "running": frozenset({"running", "done", "failed", "pending", "cancelled"}),
    "done": frozenset({"undone"}),
    "failed": frozenset({"pending", "running"}),
    "cancelled": frozenset({"pending"}),
    # A retried atomic directive re-applies the steps it undid.
    "undone": frozenset({"pending"}),
}
# Moving out of these back to pending re-opens a step (``recover
# --retry-failed``): it gets a fresh set of attempts.
_REOPENED_FROM = frozenset({"failed", "cancelled", "undone"})


def _now(now: datetime | None) -> datetime:
    if now is None:
        return utcnow()
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now


def database_now(session: Session) -> datetime:
    """The database's clock (``CURRENT_TIMESTAMP``), timezone-aware UTC.

    Lease expiry, heartbeats and the claim grace are measured with it, so
    every process that shares the store agrees on them, whatever its own
    clock says.  (On PostgreSQL this is the transaction's start time.)
    """
    if session.get_bind().dialect.name == "postgresql":
        value = session.connection().execute(text("SELECT CURRENT_TIMESTAMP")).scalar_one()
        return value.astimezone(UTC)
    # SQLite's CURRENT_TIMESTAMP has whole seconds; 'now' with %f has milliseconds.
    value = session.connection().execute(text("SELECT strftime('%Y-%m-%d %H:%M:%f', 'now')"))
    return datetime.fromisoformat(value.scalar_one()).replace(tzinfo=UTC)


def _lease_now(session: Session, now: datetime | None) -> datetime:
    return _now(now) if now is not None else database_now(session)


def _insert(session: Session) -> Any:
    # ON CONFLICT upserts are spelled the same on both backends but live in
    # each dialect's own insert construct.
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert


# -- tenants ----------------------------------------------------------------


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
    session.add(TenantCounter(tenant_id=tenant.id))
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


# -- package stats (global marketplace figures) -----------------------------


def _bump_stats(session: Session, slug: str, **deltas: int) -> None:
    """Add ``deltas`` to a package's counters atomically (creating its row)."""
    insert = _insert(session)
    values = {name: deltas.get(name, 0) for name in _STAT_COUNTERS}
    stmt = insert(PackageStats).values(slug=slug, **values)
    stmt = stmt.on_conflict_do_update(
        index_elements=["slug"],
        set_={
            name: getattr(PackageStats, name) + getattr(stmt.excluded, name)
            for name in _STAT_COUNTERS
        },
    )
    session.exec(stmt)


_STAT_COUNTERS = ("install_count", "active_install_count", "rating_sum", "rating_count")


def read_stats(session: Session, slugs: Iterable[str]) -> dict[str, PackageStats]:
    """Stats of the given packages that have any (search/show use stats_reader instead)."""
    wanted = sorted({canonical_slug(s) for s in slugs})
    if not wanted:
        return {}
    rows = session.exec(select(PackageStats).where(col(PackageStats.slug).in_(wanted)))
    return {row.slug: row for row in rows}


# -- installations ----------------------------------------------------------


def config_diff(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any] | None:
    """What changed between two configs (added, removed, changed), or None if nothing."""
    added = {k: new[k] for k in sorted(new.keys() - old.keys())}
    removed = {k: old[k] for k in sorted(old.keys() - new.keys())}
    changed = {k: [old[k], new[k]] for k in sorted(old.keys() & new.keys()) if old[k] != new[k]}
    if not (added or removed or changed):
        return None
    return {"added": added, "removed": removed, "changed": changed}


def _live(tenant_id: int, slug: str) -> Any:
    return and_(
        Installation.tenant_id == tenant_id,
        Installation.slug == canonical_slug(slug),
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
    return list(session.exec(query.order_by(Installation.slug, Installation.id)))


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
        installation_id=installation.id,
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
                Installation.id == Revision.installation_id,
                Installation.tenant_id == Revision.tenant_id,
            ),
        ).where(Installation.slug == canonical_slug(slug))
    query = query.order_by(col(Revision.id))
    if limit is not None:
        query = query.limit(limit)
    return list(session.exec(query))


# -- installed resources ----------------------------------------------------


def upsert_resource(
    session: Session,
    tenant_id: int,
    installation_id: int,
    kind: str,
    name: str,
    *,
    definition: dict[str, Any] | None = None,
    content: str | None = None,
    now: datetime | None = None,
) -> InstalledResource:
    """Write a resource keyed by (tenant, installation, kind, name); a repeat changes nothing."""
    if kind not in RESOURCE_KINDS:
        raise InvalidInput(f"unknown resource kind {kind!r}: expected {', '.join(RESOURCE_KINDS)}")
    # A clear NotFound instead of a foreign-key error for a wrong tenant.
    get_installation_by_id(session, tenant_id, installation_id)
    now = _now(now)
    insert = _insert(session)
    stmt = insert(InstalledResource).values(
        tenant_id=tenant_id,
        installation_id=installation_id,
        kind=kind,
        name=name,
        definition=dict(definition or {}),
        content=content,
        created_at=now,
        updated_at=now,
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["tenant_id", "installation_id", "kind", "name"],
        set_={
            "definition": stmt.excluded.definition,
            "content": stmt.excluded.content,
            "updated_at": stmt.excluded.updated_at,
        },
        # Only touch the row (and updated_at) when something differs, so that
        # re-running a step is a true no-op.
        where=or_(
            InstalledResource.definition != stmt.excluded.definition,
            col(InstalledResource.content).is_distinct_from(stmt.excluded.content),
        ),
    )
    session.exec(stmt)
    resource = session.exec(
        select(InstalledResource)
        .where(
            InstalledResource.tenant_id == tenant_id,
            InstalledResource.installation_id == installation_id,
            InstalledResource.kind == kind,
            InstalledResource.name == name,
        )
        .execution_options(populate_existing=True)
    ).one()
    return resource


def list_resources(
    session: Session,
    tenant_id: int,
    *,
    installation_id: int | None = None,
    kind: str | None = None,
) -> list[InstalledResource]:
    """The tenant's installed resources (of one installation or kind, if given)."""
    query = select(InstalledResource).where(InstalledResource.tenant_id == tenant_id)
    if installation_id is not None:
        query = query.where(InstalledResource.installation_id == installation_id)
    if kind is not None:
        query = query.where(InstalledResource.kind == kind)
    order = (InstalledResource.installation_id, InstalledResource.kind, InstalledResource.name)
    return list(session.exec(query.order_by(*order)))


def delete_resources(
    session: Session,
    tenant_id: int,
    installation_id: int,
    *,
    keep: Iterable[tuple[str, str]] = (),
) -> int:
    """Delete an installation's resources except the (kind, name) pairs in ``keep``."""
    kept = set(keep)
    removed = 0
    for resource in list_resources(session, tenant_id, installation_id=installation_id):
        if (resource.kind, resource.name) not in kept:
            session.delete(resource)
            removed += 1
    session.flush()
    return removed


def resource_counts(session: Session, tenant_id: int) -> dict[int, dict[str, int]]:
    """Per installation id, how many resources of each kind it has."""
    rows = session.exec(
        select(InstalledResource.installation_id, InstalledResource.kind, func.count())
        .where(InstalledResource.tenant_id == tenant_id)
        .group_by(InstalledResource.installation_id, InstalledResource.kind)
    )
    counts: dict[int, dict[str, int]] = {}
    for installation_id, kind, count in rows:
        counts.setdefault(installation_id, {})[kind] = count
    return counts


# -- directives and their steps ---------------------------------------------


@dataclass(frozen=True)
class StepSpec:
    """One step of a plan, as the planner hands it over (dependencies first)."""

    slug: str
    action: str
    version: str | None = None
    installation_id: int | None = None


@dataclass(frozen=True)
class DirectiveRef:
    """A directive the sweep found: enough to claim it, tenant by tenant."""

    tenant_id: int
    directive_id: str
    status: str
    lease_owner: str | None
    lease_expires_at: datetime | None
    attempts: int


def create_directive(
    session: Session,
    tenant_id: int,
    *,
    actor: str,
    kind: str,
    command: str = "",
    arguments: dict[str, Any] | None = None,
    plan: dict[str, Any] | None = None,
    steps: Sequence[StepSpec] = (),
    atomic: bool = False,
    now: datetime | None = None,
) -> Directive:
    """Write a directive and its ordered steps (in the caller's transaction)."""
    if kind not in DIRECTIVE_KINDS:
        raise InvalidInput(f"unknown directive kind {kind!r}")
    now = _lease_now(session, now)  # The claim grace is measured from it.
    directive = Directive(
        tenant_id=tenant_id,
        actor=actor,
        created_at=now,
        kind=kind,
        command=command,
        arguments=dict(arguments or {}),
        plan=dict(plan or {}),
        atomic=atomic,
    )
    session.add(directive)
    session.flush()
    for position, spec in enumerate(steps):
        if spec.action not in STEP_ACTIONS:
            raise InvalidInput(f"unknown step action {spec.action!r}")
        session.add(
            DirectiveStep(
                tenant_id=tenant_id,
                directive_id=directive.id,
                position=position,
                slug=canonical_slug(spec.slug),
                version=spec.version,
                action=spec.action,
                installation_id=spec.installation_id,
            )
        )
    session.flush()
    return directive


def get_directive(session: Session, tenant_id: int, directive_id: str) -> Directive:
    """One of the tenant's directives, or NotFound."""
    directive = session.exec(
        select(Directive)
        .where(Directive.tenant_id == tenant_id, Directive.id == directive_id)
        .execution_options(populate_existing=True)
    ).first()
    if directive is None:
        raise NotFound(f"no directive {directive_id} in this tenant", details={"id": directive_id})
    return directive


def list_directives(
    session: Session,
    tenant_id: int,
    *,
    status: str | Sequence[str] | None = None,
    limit: int | None = None,
) -> list[Directive]:
    """The tenant's command log, newest first."""
    query = select(Directive).where(Directive.tenant_id == tenant_id)
    if status is not None:
        wanted = [status] if isinstance(status, str) else list(status)
        query = query.where(col(Directive.status).in_(wanted))
    query = query.order_by(col(Directive.created_at).desc(), col(Directive.id))
    if limit is not None:
        query = query.limit(limit)
    return list(session.exec(query))


def list_steps(session: Session, tenant_id: int, directive_id: str) -> list[DirectiveStep]:
    """A directive's steps in order."""
    return list(
        session.exec(
            select(DirectiveStep)
            .where(DirectiveStep.tenant_id == tenant_id, DirectiveStep.directive_id == directive_id)
            .order_by(DirectiveStep.position)
            .execution_options(populate_existing=True)
        )
    )


def update_step(
    session: Session,
    tenant_id: int,
    step_id: int,
    status: str,
    *,
    error_message: str | None = None,
    installation_id: int | None = None,
    now: datetime | None = None,
) -> DirectiveStep:
    """Move a step to ``status`` (counting an attempt each time it starts running)."""
    now = _now(now)
    step = session.exec(
        select(DirectiveStep)
        .where(DirectiveStep.tenant_id == tenant_id, DirectiveStep.id == step_id)
        .with_for_update()
    ).first()
    if step is None:
        raise NotFound(f"no directive step {step_id} in this tenant")
    if status not in _STEP_MOVES.get(step.status, frozenset()):
        raise StateError(
            f"cannot move step {step.position} ({step.slug}) from {step.status} to {status}",
            details={"step": step_id, "status": step.status, "to": status},
        )
    if status == "running":
        step.attempts += 1
        step.started_at = step.started_at or now
        step.finished_at = None
    elif status == "pending":
        step.finished_at = None
        if step.status in _REOPENED_FROM:
            # A fresh start: it has neither tried nor changed anything yet
            # (installation_id names what a done step changed).
            step.attempts = 0
            step.installation_id = None
    else:
        step.finished_at = now
    step.status = status
    step.error_message = error_message
    if installation_id is not None:
        step.installation_id = installation_id
    session.add(step)
    session.flush()
    return step


def finish_directive(
    session: Session,
    tenant_id: int,
    directive_id: str,
    status: str,
    *,
    error: str | None = None,
    error_kind: str | None = None,
    now: datetime | None = None,
) -> Directive:
    """Mark a directive succeeded, failed or cancelled and drop its lease."""
    if status not in _FINISHED_DIRECTIVE:
        raise ValueError(f"a directive finishes as {', '.join(_FINISHED_DIRECTIVE)}")
    directive = get_directive(session, tenant_id, directive_id)
    if directive.status not in _OPEN_DIRECTIVE:
        raise StateError(f"directive {directive_id} is already {directive.status}")
    directive.status = status
    directive.error = error
    directive.error_kind = error_kind
    directive.finished_at = _now(now)
    directive.lease_owner = None
    directive.lease_expires_at = None
    session.add(directive)
    session.flush()
    return directive


def reopen_directive(session: Session, tenant_id: int, directive_id: str) -> Directive:
    """Put a failed directive back to pending so it can be retried (``recover``)."""
    directive = get_directive(session, tenant_id, directive_id)
    if directive.status != "failed":
        raise StateError(
            f"cannot retry directive {directive_id}: it is {directive.status} (retry needs failed)"
        )
    directive.status = "pending"
    directive.error = None
    directive.error_kind = None
    directive.finished_at = None
    directive.lease_owner = None
    directive.lease_expires_at = None
    session.add(directive)
    session.flush()
    return directive


# -- leases: the store is the queue of record --------------------------------


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
    its own live lease renews it without counting an attempt.
    """
    now = _lease_now(session, now)
    renewing = and_(Directive.lease_owner == owner, col(Directive.lease_expires_at) > now)
    result = session.exec(
        update(Directive)
        .where(
            Directive.tenant_id == tenant_id,
            Directive.id == directive_id,
            col(Directive.status).in_(_OPEN_DIRECTIVE),
            or_(
                col(Directive.lease_owner).is_(None),
                col(Directive.lease_expires_at) <= now,
                Directive.lease_owner == owner,
            ),
        )
        .values(
            status="running",
            lease_owner=owner,
            lease_expires_at=now + timedelta(seconds=lease_seconds),
            heartbeat_at=now,
            attempts=case((renewing, Directive.attempts), else_=Directive.attempts + 1),
        )
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


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
    """
    now = _lease_now(session, now)
    result = session.exec(
        update(Directive)
        .where(
            Directive.tenant_id == tenant_id,
            Directive.id == directive_id,
            Directive.lease_owner == owner,
            col(Directive.status).in_(_OPEN_DIRECTIVE),
        )
        .values(lease_expires_at=now + timedelta(seconds=lease_seconds), heartbeat_at=now)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def release(session: Session, tenant_id: int, directive_id: str, owner: str) -> bool:
    """Give up ``owner``'s lease (the directive stays open for someone else)."""
    result = session.exec(
        update(Directive)
        .where(
            Directive.tenant_id == tenant_id,
            Directive.id == directive_id,
            Directive.lease_owner == owner,
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
            Directive.tenant_id == tenant_id,
            Directive.id == directive_id,
            col(Directive.status).in_(_OPEN_DIRECTIVE),
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
            col(Directive.status).in_(_OPEN_DIRECTIVE),
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
        held = and_(Directive.lease_owner == seen_owner, col(Directive.lease_expires_at) <= now)
    result = session.exec(
        update(Directive)
        .where(
            Directive.tenant_id == tenant_id,
            Directive.id == directive_id,
            col(Directive.status).in_(_OPEN_DIRECTIVE),
            held,
        )
        .values(lease_owner=None, lease_expires_at=now)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


# -- reviews (global marketplace data) ---------------------------------------


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
                Installation.id == Revision.installation_id,
                Installation.tenant_id == Revision.tenant_id,
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


REVIEW_ORDERS = {
    "helpful": ("helpful_count", "updated_at", "id"),
    "newest": ("updated_at", "id"),
    "rating": ("rating", "helpful_count", "updated_at", "id"),
}


def list_reviews(
    session: Session, slug: str, *, limit: int | None = None, sort: str = "helpful"
) -> list[Review]:
    """A package's reviews: most helpful (or newest, or best rated) first."""
    order = [col(getattr(Review, name)).desc() for name in REVIEW_ORDERS[sort]]
    query = select(Review).where(Review.slug == canonical_slug(slug)).order_by(*order)
    if limit is not None:
        query = query.limit(limit)
    return list(session.exec(query))


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


# -- signals ------------------------------------------------------------------


def _next_sequence(session: Session, tenant_id: int) -> int:
    # UPDATE ... RETURNING takes the counter row's lock until this transaction
    # ends, so sequences are handed out in commit order and a rollback gives
    # its number back: the per-tenant sequence stays gapless.
    stmt = (
        update(TenantCounter)
        .where(TenantCounter.tenant_id == tenant_id)
        .values(signal_sequence=TenantCounter.signal_sequence + 1)
        .returning(TenantCounter.signal_sequence)
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


# -- lookups for the lifecycle commands (list, status, history, tenant list) --


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


def find_directives(
    session: Session, tenant_id: int, prefix: str, *, limit: int = 10
) -> list[Directive]:
    """The tenant's directives whose id starts with ``prefix`` (at most ``limit``)."""
    # Ids are lower-case UUIDs; escape LIKE's wildcards so "_" matches itself.
    pattern = prefix.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return list(
        session.exec(
            select(Directive)
            .where(
                Directive.tenant_id == tenant_id,
                col(Directive.id).like(pattern + "%", escape="\\"),
            )
            .order_by(col(Directive.id))
            .limit(limit)
        )
    )
