"""Locking a project: ``fleetprompt lock``, ``add`` and ``remove``.

The project file says what a tenant should have; the lock says exactly what
that resolved to.  ``lock`` keeps every locked version the project still
allows (a preferred version to the resolver), unless ``--upgrade`` or
``--upgrade-package`` asks otherwise, as ``uv lock`` and ``cargo update -p``
do: publishing a newer version never changes a lock by itself.

``add`` and ``remove`` edit the project file surgically (tomlkit keeps its
comments and layout), re-lock, and write nothing unless the new project
resolves: a request that would not resolve leaves both files as they were.

The lock also records each package's ``[config]`` table from the project
(``config`` in its ``[[package]]``), so that ``sync --frozen`` applies it
without reading the project file.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from packaging.version import Version

from fleetprompt_cli.core.lockfile import LOCK_FILE, LockedPackage, LockFile, dump_lock, load_lock
from fleetprompt_cli.core.names import canonical_slug, is_valid_slug, parse_requirement
from fleetprompt_cli.core.project import (
    PROJECT_FILE,
    ProjectFile,
    check_project_config,
    load_project,
    parse_project,
)
from fleetprompt_cli.errors import (
    ConfigError,
    FleetPromptError,
    InvalidInput,
    LockOutdated,
    NotFound,
    UsageError,
)
from fleetprompt_cli.settings import BUNDLED_INDEX, Settings

if TYPE_CHECKING:
    from fleetprompt_cli.actions.planning import Plan
    from fleetprompt_cli.core.names import Requirement

__all__ = [
    "LockChange",
    "LockResult",
    "add_requirements",
    "lock_path_for",
    "lock_project",
    "project_path",
    "read_lock",
    "read_project",
    "remove_requirements",
]

BUNDLED_URL = "bundled"


@dataclass(frozen=True)
class LockChange:
    """One package's line in a lock report: what it was, what it is, and why it is there."""

    slug: str
    version: str | None
    previous: str | None
    sha256: str | None
    reason: str = ""
    archive: str | None = None
    config: Mapping[str, Any] = field(default_factory=dict)
    config_changed: bool = False

    @property
    def action(self) -> str:
        if self.previous is None:
            return "add"
        if self.version is None:
            return "remove"
        if self.version == self.previous:
            return "reconfigure" if self.config_changed else "keep"
        return "upgrade" if Version(self.version) > Version(self.previous) else "downgrade"

    def to_json(self) -> dict[str, Any]:
        # "from"/"to" are the names sync's plan uses; "previous"/"version" are kept
        # for scripts written against the first lock envelope.
        return {
            "slug": self.slug,
            "from": self.previous,
            "to": self.version,
            "version": self.version,
            "previous": self.previous,
            "action": self.action,
            "reason": self.reason,
            "sha256": self.sha256,
            "archive": self.archive,
            "config": dict(self.config),
        }


@dataclass
class LockResult:
    """What ``lock`` (or ``add``/``remove``) did or would do."""

    project_path: Path
    lock_path: Path
    lock: LockFile
    previous: LockFile | None
    changes: list[LockChange]
    written: bool
    warnings: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        """Whether the lock's bytes differ from the file on disk (or there was none)."""
        return self.previous is None or dump_lock(self.previous) != dump_lock(self.lock)

    def to_json(self) -> dict[str, Any]:
        return {
            "project": str(self.project_path),
            "lock": str(self.lock_path),
            "changed": self.changed,
            "written": self.written,
            "requires_hash": self.lock.requires_hash,
            "index": {"url": self.lock.index_url, "commit": self.lock.index_commit},
            "packages": [change.to_json() for change in self.changes],
            "warnings": self.warnings,
        }


def project_path(given: Path | None) -> Path:
    """The project file: ``--project PATH`` (a file, or a folder holding one), else ./."""
    if given is None:
        return Path.cwd() / PROJECT_FILE
    return given / PROJECT_FILE if given.is_dir() else given


def lock_path_for(project: Path) -> Path:
    """The lock beside a project file."""
    return project.parent / LOCK_FILE


def read_project(path: Path) -> ProjectFile:
    """The project file, or NotFound with what to do."""
    try:
        return load_project(path)
    except FileNotFoundError:
        raise NotFound(
            f"no project file at {path}: create one with 'fleetprompt add SLUG' "
            "(or name it with --project PATH)"
        ) from None


def read_lock(path: Path) -> LockFile | None:
    """The lock, or None when there is none yet."""
    try:
        return load_lock(path)
    except FileNotFoundError:
        return None


def lock_project(
    settings: Settings,
    path: Path,
    *,
    upgrade: bool | Collection[str] = False,
    check: bool = False,
    dry_run: bool = False,
    progress=None,
) -> LockResult:
    """Resolve the project and write its lock (unless ``check`` or ``dry_run``).

    ``check`` raises :class:`LockOutdated` (exit 7) when the lock on disk is
    missing or is not what locking would write now.
    """
    if not isinstance(upgrade, bool):
        upgrade = [_upgrade_slug(slug) for slug in upgrade]
    project = read_project(path)
    lock_file = lock_path_for(path)
    previous = _previous_lock(lock_file)
    lock, changes, warnings = _relock(settings, project, previous, upgrade, progress)
    if not isinstance(upgrade, bool):
        locked = lock.by_slug()
        warnings += [
            f"{slug} is not in the lock: nothing to upgrade"
            for slug in upgrade
            if slug not in locked
        ]
    result = LockResult(path, lock_file, lock, previous, changes, False, warnings)
    if check:
        if previous is None:
            raise LockOutdated(f"{lock_file} does not exist: run 'fleetprompt lock'")
        if result.changed:
            what = (
                ", ".join(f"{c.slug} ({c.action})" for c in changes if c.action != "keep")
                or "its header (requires-hash or index)"
            )
            raise LockOutdated(
                f"{lock_file} is out of date with {path.name}: locking would change {what}; "
                "run 'fleetprompt lock'",
                details=result.to_json(),
            )
        return result
    if not dry_run and result.changed:
        _write(lock_file, dump_lock(lock))
        result.written = True
    return result


def _upgrade_slug(text: str) -> str:
    """A ``--upgrade-package`` argument as a canonical slug, or UsageError (exit 2)."""
    if len(text) > 64 or not is_valid_slug(text):
        raise UsageError(f"--upgrade-package {text!r}: not a package slug")
    return canonical_slug(text)


def add_requirements(
    settings: Settings,
    path: Path,
    specs: Sequence[str],
    *,
    config: Sequence[str] = (),
    dry_run: bool = False,
    progress=None,
) -> LockResult:
    """Add (or change) requirements and config in the project file, then re-lock."""
    if not specs and not config:
        raise UsageError("name at least one package to add, e.g. 'customer-support>=2'")
    requirements = [parse_requirement(spec) for spec in specs]
    assignments = _config_assignments(config)
    if not path.parent.is_dir():
        raise NotFound(f"no folder {path.parent} to hold {path.name}: create it first")
    try:
        text = path.read_text(encoding="utf-8-sig")
        read_project(path)  # the current file must itself be valid before it is edited
    except FileNotFoundError:
        text = None
    new_text = _edit(text, requirements, assignments, [])
    return _relock_edited(settings, path, new_text, dry_run, progress, check_tier=True)


def remove_requirements(
    settings: Settings,
    path: Path,
    slugs: Sequence[str],
    *,
    dry_run: bool = False,
    progress=None,
) -> LockResult:
    """Remove requirements (and their config tables) from the project file, then re-lock."""
    if not slugs:
        raise UsageError("name at least one package to remove")
    project = read_project(path)
    wanted = [canonical_slug(slug) for slug in slugs]
    missing = [slug for slug in wanted if slug not in project.requires]
    if missing:
        raise NotFound(
            f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not required by "
            f"{path.name} (it requires {', '.join(sorted(project.requires)) or 'nothing'})"
        )
    text = path.read_text(encoding="utf-8-sig")
    return _relock_edited(settings, path, _edit(text, [], {}, wanted), dry_run, progress)


# -- internals ------------------------------------------------------------------------


def _previous_lock(lock_file: Path) -> LockFile | None:
    try:
        return read_lock(lock_file)
    except InvalidInput as error:
        raise InvalidInput(
            f"{error.message}\n(delete {lock_file.name} to lock from scratch)",
            details=error.details,
        ) from None


def _relock(
    settings: Settings,
    project: ProjectFile,
    previous: LockFile | None,
    upgrade: bool | Collection[str],
    progress,
    *,
    tiers: list[tuple[str, Any]] | None = None,
) -> tuple[LockFile, list[LockChange], list[str]]:
    # The catalog and the resolver are imported here, not at the top: sync
    # imports this module on its no-op path, which must stay light.
    from fleetprompt_cli.actions.indexes import index_revision, open_catalog
    from fleetprompt_cli.actions.planning import plan_request

    requirements = [str(r) for r in project.requirements()]
    if not requirements:
        raise UsageError("the project requires nothing: add a package with 'fleetprompt add SLUG'")
    preferred = {} if previous is None else {p.slug: Version(p.version) for p in previous.packages}
    view = open_catalog(settings)
    try:
        plan = plan_request(
            settings,
            requirements,
            preferred=preferred,
            upgrade=upgrade,
            progress=progress,
            view=view,
        )
        first = settings.indexes[0]
        index_name, revision = first.name, index_revision(settings, first)
    finally:
        view.catalog.close()
    _check_config(project, plan)
    packages = []
    for step in plan.steps:
        entry = step.entry
        if entry.index and entry.index != index_name:
            raise FleetPromptError(
                f"{entry.slug} comes from index {entry.index!r}, not from the first index "
                f"{index_name!r}: a lock records one index, so lock against one index "
                "(FLEETPROMPT_INDEX) or publish it there"
            )
        if tiers is not None:
            tiers.append((entry.slug, entry.data.get("min_tier", "free")))
        packages.append(
            LockedPackage(
                entry.slug,
                entry.version,
                entry.sha256,
                str(entry.data.get("archive", "")),
                tuple(sorted({canonical_slug(dep) for dep in entry.deps})),
                dict(project.config.get(entry.slug, {})),
            )
        )
    url = BUNDLED_URL if Path(first.url) == BUNDLED_INDEX else first.url
    lock = LockFile.build(project.requires_hash(), url, revision, packages)
    return lock, _changes(lock, previous, plan), list(plan.warnings)


def _check_tenant_tier(settings: Settings, tenant: str, tiers: list[tuple[str, Any]]) -> None:
    """TierDenied (exit 5) when the tenant exists and its tier is below a package's.

    Read through the fast reader, which never creates a store or a tenant: a
    tenant that does not exist yet (or a store at another revision) has no
    tier to check against, and sync checks again before it writes.
    """
    from fleetprompt_cli.core.install_rules import check_tier
    from fleetprompt_cli.store import fastread

    try:
        with fastread.reader(settings.database_url) as reader:
            record = fastread.get_tenant(reader, tenant)
    except (fastread.Fallback, NotFound):
        return
    check_tier(record.slug, record.tier, tiers)


def _check_config(project: ProjectFile, plan: Plan) -> None:
    """The project's config fits each package's schema, and every required key has a value."""
    in_plan = {step.item.slug: step for step in plan.steps}
    problems: list[str] = []
    for slug in sorted(project.config):
        if slug not in in_plan:
            problems.append(f"config.{slug}: {slug} is not in the plan (add it to [requires])")
    for slug, step in sorted(in_plan.items()):
        schema = step.entry.manifest.get("config", {})
        try:
            check_project_config(slug, schema, project.config.get(slug, {}))
        except ConfigError as error:
            problems.append(error.message)
    if problems:
        raise ConfigError(
            "the project's config does not fit the plan:\n  " + "\n  ".join(problems),
            details={"problems": problems},
        )


def _changes(lock: LockFile, previous: LockFile | None, plan: Plan) -> list[LockChange]:
    before = {} if previous is None else previous.by_slug()
    reasons = {step.item.slug: step.item.reason for step in plan.steps}
    changes = []
    for p in lock.packages:
        old = before.get(p.slug)
        reconfigured = old is not None and dict(old.config) != dict(p.config)
        reason = reasons.get(p.slug, "")
        if reconfigured and old is not None and old.version == p.version:
            reason = "config changed"
        changes.append(
            LockChange(
                p.slug,
                p.version,
                None if old is None else old.version,
                p.sha256,
                reason,
                p.archive,
                p.config,
                reconfigured,
            )
        )
    now = lock.by_slug()
    changes += [
        LockChange(slug, None, old.version, None, "no longer needed", old.archive)
        for slug, old in sorted(before.items())
        if slug not in now
    ]
    return sorted(changes, key=lambda change: change.slug)


def _relock_edited(
    settings: Settings,
    path: Path,
    new_text: str,
    dry_run: bool,
    progress,
    *,
    check_tier: bool = False,
) -> LockResult:
    project = parse_project(new_text, str(path))
    lock_file = lock_path_for(path)
    previous = _previous_lock(lock_file)
    tiers: list[tuple[str, Any]] = []
    lock, changes, warnings = _relock(settings, project, previous, False, progress, tiers=tiers)
    if check_tier and project.tenant:
        # Before either file changes: a package the project's tenant cannot
        # install is refused here rather than at the next sync.
        _check_tenant_tier(settings, project.tenant, tiers)
    result = LockResult(path, lock_file, lock, previous, changes, False, warnings)
    if not dry_run:
        # The project first: a crash between the two leaves a lock that
        # 'lock --check' and 'sync --locked' report as out of date, never a
        # lock that claims to match a project it does not.
        _write(path, new_text)
        if result.changed:
            _write(lock_file, dump_lock(lock))
        result.written = True
    return result


def _config_assignments(config: Sequence[str]) -> dict[str, dict[str, str]]:
    result: dict[str, dict[str, str]] = {}
    for assignment in config:
        target, sep, value = assignment.partition("=")
        slug, colon, key = target.partition(":")
        if not sep or not colon or not slug.strip() or not key.strip():
            raise UsageError(f"invalid --config {assignment!r}: expected SLUG:KEY=VALUE")
        result.setdefault(canonical_slug(slug.strip()), {})[key.strip()] = value
    return result


def _edit(
    text: str | None,
    requirements: Sequence[Requirement],
    config: Mapping[str, Mapping[str, str]],
    removed: Sequence[str],
) -> str:
    """The project file with requirements added or removed, formatting and comments kept."""
    import tomlkit

    document = tomlkit.parse(text) if text is not None else _new_document()
    requires = document.get("requires")
    if requires is None:
        requires = tomlkit.table()
        document["requires"] = requires
    existing = {canonical_slug(str(key)): str(key) for key in requires}
    for requirement in requirements:
        key = existing.get(requirement.slug, requirement.slug)
        spec = str(requirement)[len(requirement.slug) :]
        requires[key] = spec
    for slug in removed:
        if slug in existing:
            del requires[existing[slug]]
    tables = document.get("config")
    if config or (removed and tables is not None):
        if tables is None:
            tables = tomlkit.table(is_super_table=True)
            document["config"] = tables
        present = {canonical_slug(str(key)): str(key) for key in tables}
        for slug in removed:
            if slug in present:
                del tables[present[slug]]
        for slug, values in config.items():
            key = present.get(slug, slug)
            if key not in tables:
                tables[key] = tomlkit.table()
            for name, value in values.items():
                tables[key][name] = _toml_value(value)
    return tomlkit.dumps(document)


def _new_document():
    import tomlkit

    document = tomlkit.document()
    document.add(tomlkit.comment("The desired state of a tenant; see 'fleetprompt lock'."))
    document["schema_version"] = 1
    return document


def _toml_value(text: str) -> Any:
    """A ``--config`` value as TOML: a TOML literal when it is one (42, true, ["a"]), else text."""
    import tomllib

    try:
        return tomllib.loads(f"v = {text}")["v"]
    except (tomllib.TOMLDecodeError, RecursionError):
        return text


def _write(path: Path, text: str) -> None:
    """Replace a file atomically (a temporary file beside it, then rename)."""
    try:
        mode = path.stat().st_mode & 0o777
    except FileNotFoundError:
        mode = 0o644  # mkstemp's own 0600 would hide a file meant to be committed
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
