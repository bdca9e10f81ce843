"""Reading a tenant's state: installations, status, directives, history, signals.

Every function takes an open state store (``actions.state.open_state``)
and the tenant by name, resolves it once (``default`` is created on first
use, any other unknown tenant is NotFound) and then passes the tenant's id
to every repository call, so nothing here can read another tenant's rows.
Functions return result objects with ``to_json()`` and never print; the CLI
renders them.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from fleetprompt_cli.actions.state import read_tenant
from fleetprompt_cli.core import lifecycle
from fleetprompt_cli.core.names import canonical_slug
from fleetprompt_cli.core.vocab import DIRECTIVE_STATUSES, OPEN_DIRECTIVE_STATUSES
from fleetprompt_cli.errors import NotFound, UsageError, not_installed

if TYPE_CHECKING:
    from types import ModuleType


__all__ = [
    "MIN_PREFIX",
    "DirectiveInfo",
    "InstallationDetail",
    "InstallationInfo",
    "InstallationList",
    "ReleaseInfo",
    "RevisionInfo",
    "SignalInfo",
    "StepInfo",
    "TenantSummary",
    "directive_detail",
    "history",
    "installation_detail",
    "list_directives",
    "list_installations",
    "list_signals",
    "releases",
    "status",
    "tenant_summary",
]

# The shortest directive id prefix accepted: shorter ones collide too often
# to be worth typing, and could be mistaken for a package slug.
MIN_PREFIX = 6
_ID_TEXT = re.compile(r"^[0-9a-f-]+$")
_OPEN = OPEN_DIRECTIVE_STATUSES
_RECENT_FAILED = 5
_RECENT_REVISIONS = 5
# Either the ORM store (a Store) or a StateSource (see actions.state.read_tenant).
Source = Any
_read = read_tenant


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


# -- result objects ------------------------------------------------------------


@dataclass
class InstallationInfo:
    """One installation row, with its resource counts by kind."""

    tenant: str
    slug: str
    version: str | None
    status: str
    requested: bool
    installed_at: datetime | None
    resources: dict[str, int]
    config: dict[str, Any]
    pending_version: str | None = None
    error_message: str | None = None
    revision: int = 0

    @classmethod
    def of(cls, tenant: str, row: Any, counts: dict[str, int]) -> InstallationInfo:
        return cls(
            tenant,
            row.slug,
            row.version,
            row.status,
            row.requested,
            row.installed_at,
            dict(counts),
            dict(row.config),
            row.pending_version,
            row.error_message,
            row.revision,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "tenant": self.tenant,
            "slug": self.slug,
            "version": self.version,
            "status": self.status,
            "requested": self.requested,
            "installed_at": _iso(self.installed_at),
            "resources": self.resources,
            "config": self.config,
            "pending_version": self.pending_version,
            "error_message": self.error_message,
            "revision": self.revision,
        }


@dataclass
class InstallationList:
    """A tenant's installations (``--all``: with uninstalled and cancelled rows)."""

    tenant: str
    installations: list[InstallationInfo]

    def to_json(self) -> dict[str, Any]:
        return {"tenant": self.tenant, "installations": [i.to_json() for i in self.installations]}


@dataclass
class StepInfo:
    """One step of a directive."""

    position: int
    slug: str
    version: str | None
    action: str
    status: str
    attempts: int
    error_message: str | None
    started_at: datetime | None
    finished_at: datetime | None

    def to_json(self) -> dict[str, Any]:
        return {
            "position": self.position,
            "slug": self.slug,
            "version": self.version,
            "action": self.action,
            "status": self.status,
            "attempts": self.attempts,
            "error_message": self.error_message,
            "started_at": _iso(self.started_at),
            "finished_at": _iso(self.finished_at),
        }


@dataclass
class DirectiveInfo:
    """A directive of the command log, with its steps when they were loaded."""

    id: str
    tenant: str
    actor: str
    created_at: datetime
    kind: str
    operation: str
    command: str
    arguments: dict[str, Any]
    status: str
    attempts: int
    error: str | None
    finished_at: datetime | None
    steps: list[StepInfo] = field(default_factory=list)
    signals: list[SignalInfo] = field(default_factory=list)
    # The failing error's kind (``integrity``, ``tier``...; ``error``: unexpected).
    error_kind: str | None = None

    @classmethod
    def of(cls, tenant: str, row: Any, steps: Sequence[Any] = ()) -> DirectiveInfo:
        arguments = dict(row.arguments or {})
        return cls(
            row.id,
            tenant,
            row.actor,
            row.created_at,
            row.kind,
            arguments.get("operation", row.kind),
            row.command,
            arguments,
            row.status,
            row.attempts,
            row.error,
            row.finished_at,
            [
                StepInfo(
                    s.position,
                    s.slug,
                    s.version,
                    s.action,
                    s.status,
                    s.attempts,
                    s.error_message,
                    s.started_at,
                    s.finished_at,
                )
                for s in steps
            ],
            error_kind=row.error_kind,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "tenant": self.tenant,
            "actor": self.actor,
            "created_at": _iso(self.created_at),
            "kind": self.kind,
            "operation": self.operation,
            "command": self.command,
            "arguments": self.arguments,
            "status": self.status,
            "attempts": self.attempts,
            "error": self.error,
            "error_kind": self.error_kind,
            "finished_at": _iso(self.finished_at),
            "steps": [s.to_json() for s in self.steps],
            "signals": [s.to_json() for s in self.signals],
        }


@dataclass(frozen=True)
class SignalInfo:
    """One persisted signal (CloudEvents-shaped) of a tenant."""

    sequence: int
    id: str
    type: str
    source: str
    subject: str | None
    time: datetime
    data: Any
    correlation_id: str | None

    @classmethod
    def of(cls, row: Any) -> SignalInfo:
        return cls(
            row.sequence,
            row.id,
            row.type,
            row.source,
            row.subject,
            row.time,
            row.data,
            row.correlation_id,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "sequence": self.sequence,
            "id": self.id,
            "type": self.type,
            "source": self.source,
            "subject": self.subject,
            "time": _iso(self.time),
            "data": self.data,
            "correlation_id": self.correlation_id,
        }


@dataclass
class RevisionInfo:
    """One recorded change of an installation."""

    id: int
    slug: str
    at: datetime
    actor: str
    transition: str
    from_status: str | None
    to_status: str
    from_version: str | None
    to_version: str | None
    config_diff: dict[str, Any] | None
    directive_id: str | None

    @classmethod
    def of(cls, slug: str, row: Any) -> RevisionInfo:
        return cls(
            int(row.id),
            slug,
            row.at,
            row.actor,
            row.transition,
            row.from_status,
            row.to_status,
            row.from_version,
            row.to_version,
            row.config_diff,
            row.directive_id,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "slug": self.slug,
            "at": _iso(self.at),
            "actor": self.actor,
            "transition": self.transition,
            "from_status": self.from_status,
            "to_status": self.to_status,
            "from_version": self.from_version,
            "to_version": self.to_version,
            "config_diff": self.config_diff,
            "directive_id": self.directive_id,
        }


@dataclass
class InstallationDetail:
    """``status SLUG``: the installation, its resources and its latest revisions."""

    installation: InstallationInfo
    resource_list: list[dict[str, str]]
    revisions: list[RevisionInfo]
    # What to do when the installation is stuck or its last change failed.
    next_step: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "installation": {
                **self.installation.to_json(),
                "resource_list": self.resource_list,
            },
            "revisions": [r.to_json() for r in self.revisions],
            "next_step": self.next_step,
        }


@dataclass
class TenantSummary:
    """``status`` with no argument: installations by status and open directives."""

    tenant: str
    tier: str
    by_status: dict[str, int]
    open_directives: list[DirectiveInfo]
    # The latest directives that ended failed (dead letters), newest first.
    failed_directives: list[DirectiveInfo] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "tenant": self.tenant,
            "tier": self.tier,
            "installations": self.by_status,
            "open_directives": [d.to_json() for d in self.open_directives],
            "failed_directives": [d.to_json() for d in self.failed_directives],
        }


# -- tenants ------------------------------------------------------------------


# -- reading ------------------------------------------------------------------


def list_installations(
    store: Source, tenant: str, *, include_all: bool = False
) -> InstallationList:
    """The tenant's installations with resource counts (``include_all``: history rows too)."""

    def body(s: Any, repo: ModuleType, tenant_id: int, name: str, _tier: str) -> InstallationList:
        rows = repo.list_installations(s, tenant_id, include_finished=include_all)
        counts = repo.resource_counts(s, tenant_id)
        infos = [InstallationInfo.of(name, row, counts.get(repo.saved_id(row), {})) for row in rows]
        return InstallationList(name, infos)

    return _read(store, tenant, body)


def tenant_summary(store: Source, tenant: str) -> TenantSummary:
    """Installations by status and the directives still open."""

    def body(s: Any, repo: ModuleType, tenant_id: int, name: str, tier: str) -> TenantSummary:
        rows = repo.list_installations(s, tenant_id, include_finished=True)
        by_status = Counter(row.status for row in rows)
        open_directives = [
            DirectiveInfo.of(name, d, repo.list_steps(s, tenant_id, d.id))
            for d in repo.list_directives(s, tenant_id, status=_OPEN)
        ]
        failed_directives = [
            DirectiveInfo.of(name, d, repo.list_steps(s, tenant_id, d.id))
            for d in repo.list_directives(s, tenant_id, status="failed", limit=_RECENT_FAILED)
        ]
        ordered = {st: by_status[st] for st in lifecycle.STATUSES if by_status[st]}
        return TenantSummary(name, tier, ordered, open_directives, failed_directives)

    return _read(store, tenant, body)


def _next_step(row: Any, last: str | None) -> str | None:
    """What the user can do about an installation that is stuck or whose last change failed."""
    slug = row.slug
    if lifecycle.changing(row.status, row.pending_version):
        return str(lifecycle.busy([slug]))
    if row.status == lifecycle.FAILED:
        return (
            f"the install failed: run 'fleetprompt install {slug}' again, "
            "or 'fleetprompt recover --retry-failed'"
        )
    if not row.error_message:
        return None
    if last == "fail_uninstall":
        return (
            f"the uninstall failed and {slug} {row.version} is still installed: "
            f"run 'fleetprompt uninstall {slug}' again"
        )
    if last == "fail_upgrade":
        return (
            f"the upgrade failed and {slug} {row.version} is still installed: "
            f"run 'fleetprompt upgrade {slug}' again, or 'fleetprompt recover --retry-failed'"
        )
    return None


def _detail(s: Any, repo: ModuleType, tenant_id: int, name: str, row: Any) -> InstallationDetail:
    counts = repo.resource_counts(s, tenant_id).get(row.id, {})
    resources = [
        {"kind": r.kind, "name": r.name}
        for r in repo.list_resources(s, tenant_id, installation_id=row.id)
    ]
    revisions = [
        RevisionInfo.of(row.slug, r)
        for r in repo.list_revisions(s, tenant_id, slug=row.slug)
        if r.installation_id == row.id
    ][-_RECENT_REVISIONS:]
    last = revisions[-1].transition if revisions else None
    return InstallationDetail(
        InstallationInfo.of(name, row, counts), resources, revisions, _next_step(row, last)
    )


def installation_detail(store: Source, tenant: str, slug: str) -> InstallationDetail:
    """One installation (the live row, else the newest history row), or NotFound."""

    def body(s: Any, repo: ModuleType, tenant_id: int, name: str, _tier: str) -> InstallationDetail:
        row = repo.latest_installation(s, tenant_id, slug)
        if row is None:
            raise not_installed(canonical_slug(slug), name)
        return _detail(s, repo, tenant_id, name, row)

    return _read(store, tenant, body)


def _find_directive(s: Any, repo: ModuleType, tenant_id: int, name: str, ref: str) -> Any:
    text = ref.strip().lower()
    if not _ID_TEXT.match(text) or len(text) < MIN_PREFIX:
        raise NotFound(
            f"no directive {ref!r} in tenant {name!r} (give an id or a prefix of at least "
            f"{MIN_PREFIX} characters)",
            details={"id": ref, "tenant": name},
        )
    matches = repo.find_directives(s, tenant_id, text, limit=5)
    if not matches:
        raise NotFound(f"no directive {ref!r} in tenant {name!r}", details={"id": ref})
    exact = [d for d in matches if d.id == text]
    if exact:
        return exact[0]
    if len(matches) > 1:
        raise UsageError(
            f"directive prefix {ref!r} is ambiguous: it matches "
            + ", ".join(d.id for d in matches)
            + "; give more characters",
            details={"id": ref, "matches": [d.id for d in matches]},
        )
    return matches[0]


def directive_detail(store: Source, tenant: str, ref: str) -> DirectiveInfo:
    """A directive by id or unique prefix, with its steps."""

    def body(s: Any, repo: ModuleType, tenant_id: int, name: str, _tier: str) -> DirectiveInfo:
        directive = _find_directive(s, repo, tenant_id, name, ref)
        info = DirectiveInfo.of(name, directive, repo.list_steps(s, tenant_id, directive.id))
        info.signals = [
            SignalInfo.of(row)
            for row in repo.list_signals(s, tenant_id, correlation_id=directive.id)
        ]
        return info

    return _read(store, tenant, body)


def list_signals(
    store: Source, tenant: str, *, after: int = 0, limit: int | None = None
) -> list[SignalInfo]:
    """The tenant's signal log after a sequence number, oldest first."""

    def body(s: Any, repo: ModuleType, tenant_id: int, _name: str, _tier: str) -> list[SignalInfo]:
        return [
            SignalInfo.of(row) for row in repo.list_signals(s, tenant_id, after=after, limit=limit)
        ]

    return _read(store, tenant, body)


def status(
    store: Source, tenant: str, target: str | None = None
) -> TenantSummary | InstallationDetail | DirectiveInfo:
    """``status``: the tenant summary, an installation (by slug) or a directive (by id)."""
    if target is None:
        return tenant_summary(store, tenant)

    def body(
        s: Any, repo: ModuleType, tenant_id: int, name: str, _tier: str
    ) -> InstallationDetail | DirectiveInfo:
        try:
            slug = canonical_slug(target)
        except Exception:  # Not a valid slug: it can only be a directive id.
            slug = None
        row = repo.latest_installation(s, tenant_id, slug) if slug else None
        if row is not None:
            return _detail(s, repo, tenant_id, name, row)
        if _ID_TEXT.match(target.strip().lower()) and len(target.strip()) >= MIN_PREFIX:
            directive = _find_directive(s, repo, tenant_id, name, target)
            return DirectiveInfo.of(name, directive, repo.list_steps(s, tenant_id, directive.id))
        raise NotFound(
            f"{target!r} is neither an installation nor a directive of tenant {name!r}",
            details={"target": target, "tenant": name},
        )

    return _read(store, tenant, body)


def list_directives(
    store: Source, tenant: str, *, status: str | None = None, limit: int | None = 20
) -> list[DirectiveInfo]:
    """The tenant's command log, newest first, with each directive's steps."""
    if status is not None and status not in DIRECTIVE_STATUSES:
        raise UsageError(
            f"unknown directive status {status!r}: expected {', '.join(DIRECTIVE_STATUSES)}"
        )

    def body(
        s: Any, repo: ModuleType, tenant_id: int, name: str, _tier: str
    ) -> list[DirectiveInfo]:
        return [
            DirectiveInfo.of(name, d, repo.list_steps(s, tenant_id, d.id))
            for d in repo.list_directives(s, tenant_id, status=status, limit=limit)
        ]

    return _read(store, tenant, body)


def history(
    store: Source, tenant: str, slug: str | None = None, *, limit: int | None = None
) -> list[RevisionInfo]:
    """Recorded changes, oldest first (the newest ``limit`` of them), of one package or all."""

    def body(s: Any, repo: ModuleType, tenant_id: int, name: str, _tier: str) -> list[RevisionInfo]:
        slugs = {
            row.id: row.slug for row in repo.list_installations(s, tenant_id, include_finished=True)
        }
        if slug is not None and canonical_slug(slug) not in slugs.values():
            raise NotFound(
                f"{canonical_slug(slug)} has never been installed in tenant {name!r}",
                details={"slug": canonical_slug(slug), "tenant": name},
            )
        rows = repo.list_revisions(s, tenant_id, slug=slug)
        return [RevisionInfo.of(slugs.get(r.installation_id, "?"), r) for r in rows]

    revisions = _read(store, tenant, body)
    if limit is not None:
        revisions = revisions[-limit:] if limit > 0 else []
    return revisions


@dataclass(frozen=True)
class ReleaseInfo:
    """One numbered revision of a package, as history and rollback show it."""

    slug: str
    number: int
    at: datetime
    action: str
    status: str
    version: str | None
    previous_version: str | None
    config: dict[str, Any]
    config_diff: dict[str, Any] | None
    actor: str
    directive_id: str | None
    rollback_to: int | None
    sha256: str | None
    resources: int
    error: str | None

    @classmethod
    def of(cls, row: Any) -> ReleaseInfo:
        return cls(
            slug=row.slug,
            number=row.number,
            at=row.at,
            action=row.action,
            status=row.status,
            version=row.version,
            previous_version=row.previous_version,
            config=dict(row.config),
            config_diff=row.config_diff,
            actor=row.actor,
            directive_id=row.directive_id,
            rollback_to=row.rollback_to,
            sha256=row.sha256,
            resources=len(row.resources),
            error=row.error,
        )

    @property
    def description(self) -> str:
        """What made it, in helm's words: "Install complete", "Rollback to 2", ..."""
        if self.action == "rollback" and self.rollback_to is not None:
            text = f"rollback to {self.rollback_to}"
        else:
            text = self.action
        return f"{text} failed" if self.status == "failed" else text

    def to_json(self) -> dict[str, Any]:
        return {
            "slug": self.slug,
            "revision": self.number,
            "at": self.at.isoformat(),
            "action": self.action,
            "description": self.description,
            "status": self.status,
            "version": self.version,
            "previous_version": self.previous_version,
            "config": self.config,
            "config_diff": self.config_diff,
            "actor": self.actor,
            "directive": self.directive_id,
            "rollback_to": self.rollback_to,
            "sha256": self.sha256,
            "resources": self.resources,
            "error": self.error,
        }


def releases(
    store: Source, tenant: str, slug: str | None = None, *, limit: int | None = None
) -> list[ReleaseInfo]:
    """The numbered revisions of one package (or of every package), oldest first per package.

    With ``limit``, only the newest ``limit`` of them.
    """

    def body(s: Any, repo: ModuleType, tenant_id: int, _name: str, _tier: str) -> list[ReleaseInfo]:
        if slug is not None:
            slugs = [canonical_slug(slug)]
        else:
            rows = repo.list_installations(s, tenant_id, include_finished=True)
            slugs = sorted({row.slug for row in rows})
        return [ReleaseInfo.of(r) for one in slugs for r in repo.list_releases(s, tenant_id, one)]

    found = _read(store, tenant, body)
    if limit is not None:
        # The newest ``limit`` of them, still grouped by package.
        newest = {id(r) for r in sorted(found, key=lambda r: r.at)[-limit:]}
        found = [r for r in found if id(r) in newest]
    return found


# -- changing -----------------------------------------------------------------


# -- the store's schema ---------------------------------------------------------
