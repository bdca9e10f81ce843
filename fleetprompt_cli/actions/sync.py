"""Sync: make a tenant exactly what ``fleetprompt.lock`` says.

``sync`` installs what the lock names and the tenant lacks, upgrades or
downgrades to the locked versions, applies each package's locked config, and
uninstalls what the lock does not name (unless ``inexact``).  All of it is one
directive of kind ``sync``, written by the same ``submit`` as install's and
run by the same runner, so it is leased, idempotent, retry-safe and audited.

Three modes, after ``uv sync``:

* default: a missing lock, or one whose ``requires-hash`` no longer matches
  the project file (or that names a version the index lost), is re-locked
  first, then synced;
* ``locked``: such a lock is an error (:class:`LockOutdated`, exit 7); newer
  versions in the index are not;
* ``frozen``: the lock as it is; the project file is never read and nothing
  is resolved.

Whether there is anything to do is decided by :func:`differences` alone, from
the tenant's installation rows and the lock: the no-op path reads the project
file, the lock and those rows, and imports neither the resolver nor the
catalog.  Every archive the directive will install is verified against the
lock's sha256 before anything is written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from packaging.version import InvalidVersion, Version

from fleetprompt_cli.actions.lock import lock_path_for, read_lock, read_project
from fleetprompt_cli.core.lockfile import LockedPackage, LockFile
from fleetprompt_cli.errors import IntegrityError, LockOutdated, NotFound, UsageError
from fleetprompt_cli.settings import Settings

if TYPE_CHECKING:
    from fleetprompt_cli.actions.lock import LockResult
    from fleetprompt_cli.core.index import IndexEntry
    from fleetprompt_cli.core.project import ProjectFile
    from fleetprompt_cli.store.engine import Store

__all__ = [
    "MODES",
    "Difference",
    "InstallationRow",
    "SyncPreview",
    "differences",
    "prepare_sync",
    "tenant_rows",
]

MODES = ("default", "locked", "frozen")

# Statuses whose row counts as the package being there (at its version).
_PRESENT = ("active", "paused")
# Statuses of rows that are gone (history only).
_GONE = ("uninstalled", "cancelled")
_BUSY = ("queued", "installing", "upgrading", "uninstalling")


class InstallationRow(Protocol):
    """What :func:`differences` reads of an installation (an ORM row or a plain tuple)."""

    @property
    def slug(self) -> str: ...
    @property
    def version(self) -> str | None: ...
    @property
    def status(self) -> str: ...
    @property
    def config(self) -> Mapping[str, Any]: ...
    @property
    def pending_version(self) -> str | None: ...


@dataclass(frozen=True)
class Difference:
    """One way the tenant differs from the lock, and what sync does about it.

    ``action`` is ``install``, ``upgrade``, ``downgrade``, ``reconfigure``
    (same version, other config) or ``uninstall``; ``busy`` when another
    directive is changing the package (sync refuses, exit 11).
    """

    slug: str
    action: str
    current: str | None
    target: str | None
    reason: str


def _same_version(a: str | None, b: str | None) -> bool:
    if a is None or b is None:
        return a == b
    try:
        return Version(a) == Version(b)
    except InvalidVersion:
        return a == b


def differences(
    rows: Iterable[InstallationRow], lock: LockFile, *, inexact: bool = False
) -> list[Difference]:
    """What makes the tenant differ from the lock; empty means sync has nothing to do.

    The one decision of "nothing to do": it needs only the tenant's live
    installation rows (slug, version, status, config, pending_version) and
    the lock, so a fast reader of the store can feed it.  A package matches
    when it is active or paused at the locked version (compared as PEP 440
    versions), nothing is pending, and every config key the lock sets has
    the locked value (keys the lock does not set are left as they are).
    """
    live = {row.slug: row for row in rows if row.status not in _GONE}
    found: list[Difference] = []
    for package in lock.packages:
        row = live.get(package.slug)
        if row is None or row.status in ("failed",):
            current = None if row is None else row.version
            reason = "not installed" if row is None else "its install failed"
            found.append(Difference(package.slug, "install", current, package.version, reason))
            continue
        if row.status in _BUSY or row.pending_version is not None:
            found.append(
                Difference(package.slug, "busy", row.version, package.version, "another directive")
            )
            continue
        if not _same_version(row.version, package.version):
            try:
                up = Version(package.version) > Version(row.version or "0")
            except InvalidVersion:
                up = True
            found.append(
                Difference(
                    package.slug,
                    "upgrade" if up else "downgrade",
                    row.version,
                    package.version,
                    "locked at " + package.version,
                )
            )
            continue
        changed = sorted(k for k, v in package.config.items() if row.config.get(k, _UNSET) != v)
        if changed:
            found.append(
                Difference(
                    package.slug,
                    "reconfigure",
                    row.version,
                    package.version,
                    "config " + ", ".join(changed),
                )
            )
    if not inexact:
        locked = {p.slug for p in lock.packages}
        for slug in sorted(set(live) - locked):
            row = live[slug]
            busy = row.status in _BUSY or row.pending_version is not None
            found.append(
                Difference(
                    slug,
                    "busy" if busy else "uninstall",
                    row.version,
                    None,
                    "another directive" if busy else "not in the lock",
                )
            )
    return found


_UNSET = object()


# -- the result objects -------------------------------------------------------------


@dataclass
class SyncPreview:
    """A sync's plan, shown before it is confirmed and submitted like an install."""

    tenant: str
    tenant_id: int
    lock_path: Path
    lock: LockFile
    mode: str
    inexact: bool
    steps: list[dict[str, Any]]
    basis: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    relocked: LockResult | None = None
    kind: str = "sync"

    @property
    def nothing_to_do(self) -> bool:
        return not self.steps

    def plan_steps(self) -> list[dict[str, Any]]:
        """The directive's plan: everything each step needs, so any process can run it."""
        return self.steps

    def request(self) -> list[str]:
        return [f"{p.slug}=={p.version}" for p in self.lock.packages]

    def own_slugs(self) -> set[str]:
        return {step["slug"] for step in self.steps}

    def tier_packages(self) -> list[tuple[str, Any]]:
        return [
            (step["slug"], step.get("min_tier", "free"))
            for step in self.steps
            if step["action"] != "uninstall"
        ]

    def rows(self) -> list[dict[str, Any]]:
        """Each change as the JSON envelope and the table show it."""
        return [
            {
                "slug": step["slug"],
                "from": step.get("previous"),
                "to": None if step["action"] == "uninstall" else step.get("version"),
                "action": step.get("shown_action", step["action"]),
                "reason": step.get("reason", ""),
                "sha256": step.get("sha256"),
                "archive": step.get("lock_archive"),
                "config": step.get("config"),
            }
            for step in self.steps
        ]

    def to_json(self) -> dict[str, Any]:
        return {
            "tenant": self.tenant,
            "mode": self.mode,
            "inexact": self.inexact,
            "lock": str(self.lock_path),
            "requires_hash": self.lock.requires_hash,
            "index": {"url": self.lock.index_url, "commit": self.lock.index_commit},
            "locked_packages": len(self.lock.packages),
            "relocked": None if self.relocked is None else self.relocked.to_json(),
            "packages": self.rows(),
            "warnings": self.warnings,
        }


# -- the flow -------------------------------------------------------------------------


def prepare_sync(
    settings: Settings,
    open_store: Callable[[], Store],
    project_file: Path,
    *,
    tenant: str | None,
    mode: str = "default",
    inexact: bool = False,
    dry_run: bool = False,
    progress: Callable[[str], None] | None = None,
) -> SyncPreview:
    """Read (or re-lock) the lock, compare it with the tenant, and plan the sync.

    ``open_store`` is called only once the tenant differs from the lock (or
    by :func:`tenant_rows`), so the no-op path can do without the ORM.  The
    returned preview is empty (``nothing_to_do``) when the tenant already
    matches; otherwise every archive of the plan has been fetched into the
    cache and verified against the lock's sha256.  Writes nothing but the
    lock (default mode, unless ``dry_run``) and the archive cache.
    """
    if mode not in MODES:
        raise UsageError(f"unknown sync mode {mode!r}")
    lock_file = lock_path_for(project_file)
    project: ProjectFile | None = None
    if mode != "frozen":
        project = read_project(project_file)
    lock = _read_lock(lock_file, mode)
    relocked: LockResult | None = None
    if mode != "frozen" and project is not None:
        assert project is not None
        stale = _why_stale(lock, project, lock_file)
        if stale and mode == "locked":
            raise LockOutdated(f"{stale}; run 'fleetprompt lock' and commit it")
        if stale:
            relocked = _relock(settings, project_file, dry_run, progress)
            lock = relocked.lock
    assert lock is not None
    name = tenant or (project.tenant if project else None) or settings.tenant
    tenant_id, tenant_name, tier, rows = tenant_rows(settings, open_store, name)
    found = differences(rows, lock, inexact=inexact)
    if not found:
        return SyncPreview(tenant_name, tenant_id, lock_file, lock, mode, inexact, [])
    store = open_store()
    where = _Tenant(tenant_id, tenant_name, tier)
    preview = _plan(settings, store, project, lock, lock_file, mode, inexact, where, progress)
    if preview.missing and mode == "default" and relocked is None and project is not None:
        # The index lost a locked version: lock again (as uv sync does), then plan.
        relocked = _relock(settings, project_file, dry_run, progress)
        lock = relocked.lock
        preview = _plan(settings, store, project, lock, lock_file, mode, inexact, where, progress)
    if preview.missing:
        raise LockOutdated(
            f"{lock_file.name}: {_listed(preview.missing)} no longer in the index; "
            "run 'fleetprompt lock' and commit it",
            details={"missing": preview.missing},
        )
    result = preview.result
    result.relocked = relocked
    return result


def _read_lock(lock_file: Path, mode: str) -> LockFile | None:
    lock = read_lock(lock_file)
    if lock is None and mode != "default":
        raise LockOutdated(
            f"{lock_file} does not exist: run 'fleetprompt lock' and commit it",
            details={"lock": str(lock_file)},
        )
    return lock


def _why_stale(lock: LockFile | None, project: ProjectFile, lock_file: Path) -> str | None:
    """Why the lock no longer fits the project file (None: it fits)."""
    if lock is None:
        return f"{lock_file} does not exist"
    if lock.requires_hash != project.requires_hash():
        return (
            f"{lock_file.name} is out of date: the project file's requirements or config "
            "changed since it was locked (requires-hash differs)"
        )
    # The hash covers the project's config, but not the copy of it in the lock
    # (written by an older fleetprompt without it, or edited by hand).
    differ = [
        p.slug for p in lock.packages if dict(p.config) != dict(project.config.get(p.slug, {}))
    ]
    if differ:
        return (
            f"{lock_file.name} is out of date: its config of {', '.join(differ)} is not the "
            "project file's"
        )
    return None


def _relock(
    settings: Settings, project_file: Path, dry_run: bool, progress: Callable[[str], None] | None
) -> LockResult:
    from fleetprompt_cli.actions.lock import lock_project

    return lock_project(settings, project_file, dry_run=dry_run, progress=progress)


@dataclass(frozen=True)
class _Tenant:
    id: int
    name: str
    tier: str


_Rows = tuple[int, str, str, list[Any]]


def tenant_rows(settings: Settings, open_store: Callable[[], Store], tenant: str) -> _Rows:
    """The tenant's id, name, tier and live installation rows.

    The one read the no-op path makes of the store: through the fast reader
    (no ORM import) when the store is current, else the ORM store (which
    creates, migrates or refuses it).  :func:`differences` needs only each
    row's slug, version, status, config and pending_version, which both
    readers' rows have.
    """
    from fleetprompt_cli.actions.source import StateSource
    from fleetprompt_cli.actions.state import read_tenant

    def body(s: Any, repo: Any, tenant_id: int, name: str, tier: str) -> _Rows:
        return tenant_id, name, tier, list(repo.list_installations(s, tenant_id))

    return read_tenant(StateSource(settings.database_url, open_store), tenant, body)


@dataclass
class _Planned:
    result: SyncPreview
    missing: list[str]


def _listed(items: list[str]) -> str:
    return ", ".join(items) + (" is" if len(items) == 1 else " are")


def _plan(
    settings: Settings,
    store: Store,
    project: ProjectFile | None,
    lock: LockFile,
    lock_file: Path,
    mode: str,
    inexact: bool,
    tenant: _Tenant,
    progress: Callable[[str], None] | None,
) -> _Planned:
    """The full plan: index entries, checks, verified archives, the steps in order."""
    from fleetprompt_cli.actions.indexes import open_catalog
    from fleetprompt_cli.actions.preview import (
        _tenant_state,
        archive_source_for,
        planned_manifests,
        tenant_basis,
    )
    from fleetprompt_cli.core import lifecycle
    from fleetprompt_cli.core.install_rules import check_dep_skills, check_tier
    from fleetprompt_cli.store import repository as repo

    tenant_id, tenant_name, tier = tenant.id, tenant.name, tenant.tier
    with store.session(readonly=True) as s:
        live, leaving = _tenant_state(s, repo, tenant_id)
        manifests = planned_manifests(s, tenant_id)
    found = differences(live.values(), lock, inexact=inexact)
    # An open uninstall changes no row until its step starts: its packages
    # are busy too when sync would touch or keep them.
    touched = {d.slug for d in found} | {p.slug for p in lock.packages}
    busy = sorted({d.slug for d in found if d.action == "busy"} | (leaving & touched))
    if busy:
        raise lifecycle.busy(busy)
    warnings: list[str] = []
    configured = _index_url(settings)
    if configured != lock.index_url:
        warnings.append(
            f"{lock_file.name} was made from index {lock.index_url}; syncing from "
            f"{configured} (every archive is still checked against the lock's sha256)"
        )
    if progress:
        progress("Reading the index…")
    view = open_catalog(settings)
    try:
        warnings += view.warnings
        roots = {index.name: str(index.root) for index in view.indexes}
        entries: dict[str, IndexEntry] = {}
        missing: list[str] = []
        for package in lock.packages:
            entry = _entry(view.catalog.versions(package.slug), package.version)
            if entry is None:
                missing.append(f"{package.slug} {package.version}")
            else:
                entries[package.slug] = entry
    finally:
        view.catalog.close()
    changing = {d.slug: d for d in found}
    if missing:
        # Only what sync would install must be there; a locked version the
        # tenant already has at that version needs nothing from the index.
        needed = [m for m in missing if m.split(" ", 1)[0] in changing]
        if needed or mode == "locked":
            return _Planned(_empty(tenant_name, tenant_id, lock, lock_file, mode, inexact), missing)
    requested = (
        set(project.requires)
        if project is not None
        else {p.slug for p in lock.packages} - {d for p in lock.packages for d in p.dependencies}
    )
    check_tier(
        tenant_name,
        tier,
        [
            (slug, entries[slug].data.get("min_tier", "free"))
            for slug, d in changing.items()
            if d.action != "uninstall"
        ],
    )
    # The tenant's policy judges every package of the lock (the same rules
    # and messages as install: exit 5 before anything is written).
    from fleetprompt_cli.actions.policy import policy_data, policy_gate

    with store.session(readonly=True) as s:
        policy_state = policy_data(s, repo, tenant_id)
    policy_gate(
        settings,
        tenant_name,
        policy_state,
        [(entries[p.slug], p.slug in requested) for p in lock.packages if p.slug in entries],
        view.indexes,
        doing=f"sync {lock_file.name}",
    )
    if len(entries) == len(lock.packages):
        check_dep_skills({slug: (e.version, e.manifest) for slug, e in entries.items()})
    locked = lock.by_slug()
    cache = _cache(settings)
    steps: list[dict[str, Any]] = []
    removing = [d.slug for d in found if d.action == "uninstall"]
    for slug in _dependents_first(removing, live, manifests):
        row = live[slug]
        steps.append(
            {
                "slug": slug,
                "version": row.version,
                "action": "uninstall",
                "previous": row.version,
                "requested": False,
                "reason": "not in the lock",
            }
        )
    total = sum(1 for d in found if d.action != "uninstall")
    for slug in _dependencies_first(lock):
        difference = changing.get(slug)
        if difference is None:
            continue
        package, entry = locked[slug], entries[slug]
        if entry.yanked:
            warnings.append(
                f"{slug} {package.version} was yanked from the index after it was locked; "
                "installing it as locked"
            )
        if progress:
            progress(f"Verifying archives… {slug} {package.version}")
        source = archive_source_for(roots, entry)
        _verify(cache, package, entry, source, lock_file.name)
        current = live.get(slug)
        config = _config_for(package, entry, current)
        steps.append(
            {
                "slug": slug,
                "version": entry.version,
                "action": "keep" if difference.action == "reconfigure" else difference.action,
                "shown_action": difference.action,
                "previous": None if current is None else current.version,
                "requested": slug in requested,
                "reason": difference.reason,
                "sha256": package.sha256,
                "size": entry.data.get("size"),
                "origin": entry.where,
                "archive": source,
                "lock_archive": package.archive,
                "manifest": entry.manifest,
                "config": config,
                "min_tier": entry.data.get("min_tier", "free"),
                "previous_entry": None,
            }
        )
    assert len(steps) == total + len(removing)
    basis = tenant_basis(live, leaving)
    result = SyncPreview(
        tenant_name, tenant_id, lock_file, lock, mode, inexact, steps, basis, warnings
    )
    return _Planned(result, [])


def _index_url(settings: Settings) -> str:
    """The first configured index as a lock records it."""
    from fleetprompt_cli.actions.lock import BUNDLED_URL
    from fleetprompt_cli.settings import BUNDLED_INDEX

    first = settings.indexes[0]
    return BUNDLED_URL if Path(first.url) == BUNDLED_INDEX else first.url


def _empty(
    tenant: str, tenant_id: int, lock: LockFile, lock_file: Path, mode: str, inexact: bool
) -> SyncPreview:
    return SyncPreview(tenant, tenant_id, lock_file, lock, mode, inexact, [])


def _entry(entries: list[IndexEntry], version: str) -> IndexEntry | None:
    for entry in entries:
        if _same_version(entry.version, version):
            return entry
    return None


def _cache(settings: Settings) -> Any:
    from fleetprompt_cli.indexio.fetch import ArchiveCache

    return ArchiveCache(settings.archive_cache)


def _verify(
    cache: Any, package: LockedPackage, entry: IndexEntry, source: str, lock_name: str
) -> None:
    """Fetch the archive into the cache, refusing it unless its sha256 is the lock's.

    Done for every archive before the directive is written, so a mismatch
    changes nothing in the tenant.
    """
    label = f"{package.slug} {package.version}"
    details = {"slug": package.slug, "version": package.version, "expected": package.sha256}
    if entry.sha256 != package.sha256:
        raise IntegrityError(
            f"{label}: {lock_name} expects sha256 {package.sha256}, but the index records "
            f"{entry.sha256} ({entry.where}); nothing was changed",
            details={**details, "actual": entry.sha256, "source": "index"},
        )
    try:
        cache.fetch(source, package.sha256, size=entry.data.get("size"), label=label)
    except IntegrityError:
        actual = _actual_sha256(source)
        raise IntegrityError(
            f"{label}: the archive's sha256 is {actual or 'not what was locked'}, but "
            f"{lock_name} expects {package.sha256}; nothing was changed",
            details={**details, "actual": actual, "archive": package.archive},
        ) from None
    except NotFound:
        raise LockOutdated(
            f"{label}: its archive {package.archive} is no longer in the index; "
            "restore it or run 'fleetprompt lock'",
            details={**details, "archive": package.archive},
        ) from None


def _actual_sha256(source: str) -> str | None:
    """The sha256 of a local archive, for the message (None for a URL or a non-file)."""
    if "://" in source:
        return None
    path = Path(source)
    if not path.is_file():
        return None
    from fleetprompt_cli.core.archive import sha256_file

    return sha256_file(path)


def _config_for(package: LockedPackage, entry: IndexEntry, current: Any) -> dict[str, Any]:
    """The config the package will have: defaults, the current config (migrated), the lock's."""
    from fleetprompt_cli.core.install_rules import migrate_config, resolve_config
    from fleetprompt_cli.errors import ConfigError

    manifest = entry.manifest
    schema = manifest.get("config", {})
    before: dict[str, Any] = {}
    if current is not None and current.status != "failed":
        before = dict(current.config)
        if current.version and not _same_version(current.version, entry.version):
            before = migrate_config(before, manifest.get("migrations", []), current.version)
    config, missing = resolve_config(package.slug, schema, dict(package.config), current=before)
    if missing:
        raise ConfigError(
            f"{package.slug} needs a value for required config {', '.join(missing)}: "
            f"set it in the project's [config.{package.slug}] and lock again",
            details={"slug": package.slug, "missing": missing},
        )
    return config


def _dependencies_first(lock: LockFile) -> list[str]:
    """The locked slugs, each after its dependencies (ties, and cycles, by slug)."""
    deps = {p.slug: set(p.dependencies) for p in lock.packages}
    ordered: list[str] = []
    done: set[str] = set()
    remaining = sorted(deps)
    while remaining:
        ready = [s for s in remaining if deps[s] <= done] or remaining[:1]
        for slug in ready:
            ordered.append(slug)
            done.add(slug)
        remaining = [s for s in remaining if s not in done]
    return ordered


def _dependents_first(
    slugs: list[str], live: Mapping[str, Any], manifests: Mapping[tuple[str, Any], Any]
) -> list[str]:
    """Packages to remove, each before what it depends on (as ``uninstall`` orders them)."""
    from fleetprompt_cli.core.names import canonical_slug

    chosen = set(slugs)
    needs = {
        slug: {
            canonical_slug(dep)
            for dep in manifests.get((slug, live[slug].version), {}).get("dependencies", {})
        }
        & chosen
        for slug in chosen
    }
    ordered: list[str] = []
    remaining = set(chosen)
    while remaining:
        leaves = sorted(
            s for s in remaining if not any(s in needs[o] for o in remaining if o != s)
        ) or sorted(remaining)
        ordered += leaves
        remaining -= set(leaves)
    return ordered
