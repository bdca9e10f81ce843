"""Publish package folders into an index, yank versions, and the one way an index is written.

Each package is validated, checked against the index (the version must be
new; every dependency and every ``DEP:SKILL`` must be satisfiable by versions
already published; the publisher must own the slug), archived reproducibly,
and appended to its package file.

Every write to an index (publish, yank, owner changes) is one
:func:`_transact`: on a folder index it applies the change and, when the
folder is the top level of a git repository, commits it; on a git URL it
syncs a private clone under ``<home>/cache/publish/``, applies the change,
commits it and pushes, and when the push is rejected because someone else
pushed meanwhile it syncs again, re-checks and re-applies (at most
:data:`MAX_ATTEMPTS` times). Whatever fails, the clone is reset to the
remote's state. The change is recorded by :func:`_commit_index_change`, the
single seam where signature files are to be added to the same commit.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from packaging.specifiers import SpecifierSet
from packaging.version import Version

from fleetprompt_cli.actions import signing
from fleetprompt_cli.actions.indexes import local_index_for_writing
from fleetprompt_cli.core.archive import build_archive
from fleetprompt_cli.core.index import ARCHIVE_SUFFIX, INDEX_SCHEMA, IndexEntry, LocalIndex
from fleetprompt_cli.core.manifest import (
    Manifest,
    ManifestError,
    Problem,
    load_manifest,
    parse_skill_reference,
)
from fleetprompt_cli.core.names import (
    canonical_slug,
    canonical_version,
    is_valid_slug,
    parse_version,
)
from fleetprompt_cli.errors import (
    AlreadyExists,
    IndexReadError,
    InvalidInput,
    NotAnOwner,
    NotFound,
    UsageError,
)
from fleetprompt_cli.faults import checkpoint
from fleetprompt_cli.indexio import git as gitindex
from fleetprompt_cli.settings import Settings, safe_url

if TYPE_CHECKING:
    from fleetprompt_cli.actions.keys import SigningKey

__all__ = [
    "MAX_ATTEMPTS",
    "IndexChange",
    "PublishResult",
    "Published",
    "Written",
    "YankResult",
    "check_identity",
    "entry_for",
    "publish",
    "read_owners",
    "require_owner",
    "split_target",
    "transact",
    "write_owners",
    "yank",
]

# Pushes a write tries before giving up on an index that keeps moving.
MAX_ATTEMPTS = 5
OWNERS_DIR = "owners"
YANKS_DIR = "yanks"
_IDENTITY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,99}$")
_OWNERS_MAX_BYTES = 64 * 1024
MAX_REASON = 500

# Called between the commit and the push of each attempt (tests: a competing
# publisher pushes here, or the remote goes away).
BeforePush = Callable[[int], None]


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def check_identity(identity: str, where: str) -> str:
    """A publisher identity (``alice``, ``ci@example.com``), or InvalidInput naming ``where``."""
    if not isinstance(identity, str) or not _IDENTITY.match(identity):
        shown = repr(identity[:80]) if isinstance(identity, str) else repr(identity)
        raise InvalidInput(
            f"{where}: {shown} is not a publisher identity: 1-100 letters, digits and "
            "'.', '_', '@', '+', '-', starting with a letter or digit"
        )
    return identity


@dataclass(frozen=True)
class Published:
    """One version written to the index."""

    slug: str
    version: str
    sha256: str
    archive: str
    size: int


@dataclass
class IndexChange:
    """One change to an index, recorded as one commit by :func:`_commit_index_change`.

    ``paths`` are the files written (relative to the index root); ``entries``
    the version lines written or changed; ``records`` the yank records and
    owner files written (as data), so that whoever records the change (a
    signer) sees what it is about without re-reading files.
    """

    verb: str
    summary: str
    actor: str
    paths: list[str] = field(default_factory=list)
    entries: list[IndexEntry] = field(default_factory=list)
    records: list[dict[str, Any]] = field(default_factory=list)
    body: str = ""

    @property
    def message(self) -> str:
        body = f"{self.body}\n\n" if self.body else ""
        return f"{self.verb} {self.summary}\n\n{body}Publisher: {self.actor}\n"


@dataclass
class PublishResult:
    index: str
    published: list[Published] = field(default_factory=list)
    commit: str | None = None
    pushed: bool = False
    attempts: int = 1
    owners_claimed: list[str] = field(default_factory=list)
    # The key id the versions were signed with (None: unsigned), and warnings.
    signed_by: str | None = None
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Target:
    """Where a write goes: a folder index, or a git URL pushed to."""

    folder: Path | None
    url: str | None

    @property
    def label(self) -> str:
        """The index as messages show it (a password in a URL hidden)."""
        return safe_url(self.url) if self.url is not None else str(self.folder)


def split_target(settings: Settings, index: str | Path | None) -> _Target:
    """``--index`` as given (a folder or a git URL), or the one configured index."""
    if index is None:
        if len(settings.indexes) == 1 and gitindex.is_git_url(settings.indexes[0].url):
            return _Target(None, settings.indexes[0].url)
        return _Target(None, None)
    text = str(index)
    if isinstance(index, str) and gitindex.is_git_url(text):
        return _Target(None, text)
    return _Target(Path(text), None)


def _clone_for(settings: Settings, url: str) -> Path:
    import hashlib

    return settings.publish_clones / hashlib.sha256(url.encode()).hexdigest()[:16]


@dataclass
class _Outcome:
    index: LocalIndex
    change: IndexChange
    commit: str | None
    pushed: bool
    attempts: int


def transact(
    settings: Settings,
    target: _Target,
    apply: Callable[[LocalIndex], IndexChange],
    *,
    create: bool,
    before_push: BeforePush | None = None,
) -> _Outcome:
    """Apply one change to the index ``target`` names and record it (see the module doc).

    ``apply`` checks everything before it writes, writes, and returns the
    change (no paths: nothing to record). On a git URL it may run up to
    :data:`MAX_ATTEMPTS` times, each time on the remote's newest state.
    """
    if target.url is None:
        index = local_index_for_writing(settings, target.folder, create=create)
        change = apply(index)
        repository = bool(change.paths) and gitindex.is_repository_root(index.root)
        commit = _commit_index_change(index, change, commit=repository)
        return _Outcome(index, change, commit, False, 1)
    url = target.url
    clone = _clone_for(settings, url)
    with _clone_lock(clone):
        return _transact_remote(url, clone, apply, create=create, before_push=before_push)


@contextmanager
def _clone_lock(clone: Path) -> Iterator[None]:
    """One writer at a time per clone (two publishes from one home wait for each other)."""
    import fcntl

    clone.parent.mkdir(parents=True, exist_ok=True)
    with open(clone.with_name(clone.name + ".lock"), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _transact_remote(
    url: str,
    clone: Path,
    apply: Callable[[LocalIndex], IndexChange],
    *,
    create: bool,
    before_push: BeforePush | None,
) -> _Outcome:
    for attempt in range(1, MAX_ATTEMPTS + 1):
        head = gitindex.sync_for_writing(url, clone)
        try:
            index = LocalIndex(clone, safe_url(url))
            _prepare_remote_index(index, url, head, create=create)
            change = apply(index)
            if not change.paths:
                gitindex.mark_clean(clone)  # Nothing was written.
                return _Outcome(index, change, None, False, attempt)
            commit = _commit_index_change(index, change, commit=True)
            checkpoint("publish-before-push")
            if before_push is not None:
                before_push(attempt)
            gitindex.push(clone, url)
        except gitindex.PushRejected:
            continue  # Someone pushed first: sync, re-check, re-apply.
        except BaseException:
            gitindex.reset_to_remote(clone)
            raise
        gitindex.mark_clean(clone)  # HEAD is what the remote branch now is.
        return _Outcome(index, change, commit, True, attempt)
    gitindex.reset_to_remote(clone)
    raise IndexReadError(
        f"cannot push to {safe_url(url)}: the index changed under every one of {MAX_ATTEMPTS} "
        "attempts (others are publishing); nothing was published, try again"
    )


def _prepare_remote_index(index: LocalIndex, url: str, head: str | None, *, create: bool) -> None:
    if index.exists():
        return
    if head is not None:
        raise IndexReadError(
            f"the repository {safe_url(url)} holds no fleetprompt index (no config.json at its top "
            "level): refusing to write to it"
        )
    if not create:
        raise NotFound(f"the index {safe_url(url)} is empty: nothing has been published there")
    config = {"schema": INDEX_SCHEMA, "archives": "archives/{slug}/{slug}-{version}.tar.gz"}
    (index.root / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    index.created = True


def _commit_index_change(index: LocalIndex, change: IndexChange, *, commit: bool) -> str | None:
    """Record one change to an index: THE seam every publish, yank and owner change goes through.

    ``change.paths`` are the files the change wrote. Anything that must land
    in the same commit (signature files over ``change.entries`` and
    ``change.records``) is written here and appended to ``change.paths``
    before the commit. ``commit`` is false for a plain folder index (nothing
    is committed there; files written here are still part of the change).
    Returns the commit id, or None when nothing was committed.
    """
    if not change.paths or not commit:
        return None
    return gitindex.commit_paths(index.root, change.message, change.actor, change.paths)


def entry_for(
    manifest: Manifest,
    archive: str,
    sha256: str,
    size: int,
    hidden_unicode: dict[str, Any] | None = None,
) -> IndexEntry:
    """The index line for a validated manifest and its archive.

    ``hidden_unicode`` (findings published with ``--allow-hidden-unicode``:
    error and warning counts and rule ids) is recorded only when present.
    """
    meta = manifest.package
    extra = {"hidden_unicode": hidden_unicode} if hidden_unicode else {}
    return IndexEntry(
        {
            **extra,
            "schema": INDEX_SCHEMA,
            "slug": manifest.slug,
            "name": meta.name,
            "version": str(manifest.version),
            "description": meta.description,
            "category": meta.category,
            "keywords": meta.keywords,
            "author": meta.author,
            "license": meta.license,
            "pricing": meta.pricing.model_dump(mode="json", exclude_none=True),
            "min_tier": meta.min_tier,
            "platform": manifest.compatibility.platform,
            "deps": manifest.dependencies,
            "includes": manifest.includes(),
            "sha256": sha256,
            "size": size,
            "archive": archive,
            "yanked": False,
            "published_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "manifest": manifest.to_data(),
        }
    )


def _order(loaded: list[tuple[Manifest, Path]]) -> list[tuple[Manifest, Path]]:
    """Dependencies before dependents, then by slug and version (a stable order)."""
    by_slug: dict[str, list[tuple[Manifest, Path]]] = {}
    for item in sorted(loaded, key=lambda m: (m[0].slug, m[0].version)):
        by_slug.setdefault(item[0].slug, []).append(item)
    ordered: list[tuple[Manifest, Path]] = []
    state: dict[str, int] = {}

    def visit(slug: str) -> None:
        if state.get(slug):
            return  # Done, or a cycle: the check against the index reports it.
        state[slug] = 1
        for item in by_slug[slug]:
            for dep in item[0].dependencies:
                if dep in by_slug:
                    visit(dep)
        ordered.extend(by_slug[slug])
        state[slug] = 2

    for slug in by_slug:
        visit(slug)
    return ordered


class _Pending:
    """The index as it will be once the earlier packages of this batch are written."""

    def __init__(self, index: LocalIndex) -> None:
        self.index = index
        self.added: dict[str, list[IndexEntry]] = {}

    def versions(self, slug: str) -> list[IndexEntry]:
        return self.index.versions(slug) + self.added.get(slug, [])

    def add(self, manifest: Manifest) -> None:
        self.added.setdefault(manifest.slug, []).append(entry_for(manifest, "", "", 0))


def _check_against_index(manifest: Manifest, index: _Pending, label: str) -> None:
    existing = {canonical_version(e.version) for e in index.versions(manifest.slug)}
    if manifest.canonical_version in existing:
        raise AlreadyExists(
            f"{manifest.slug} {manifest.version} is already published in {index.index.name} "
            "(versions are immutable: bump the version)"
        )
    problems: list[Problem] = []
    for dep, spec in manifest.dependencies.items():
        candidates = [
            e
            for e in index.versions(dep)
            if not e.yanked and SpecifierSet(spec).contains(Version(e.version), True)
        ]
        if not index.versions(dep):
            problems.append(
                Problem(
                    label, f"dependencies.{dep}", f"{dep} is not in the index {index.index.name}"
                )
            )
        elif not candidates:
            problems.append(
                Problem(
                    label, f"dependencies.{dep}", f"no published version of {dep} matches {spec!r}"
                )
            )
    for i, agent in enumerate(manifest.agents):
        for j, reference in enumerate(agent.skills):
            dep_slug, skill = parse_skill_reference(reference)
            if dep_slug is None or dep_slug not in manifest.dependencies:
                continue
            allowed = SpecifierSet(manifest.dependencies[dep_slug])
            lacking = [
                e.version
                for e in index.versions(dep_slug)
                if not e.yanked
                and allowed.contains(Version(e.version), True)
                and skill not in {s["name"] for s in e.data.get("includes", {}).get("skills", [])}
            ]
            if lacking:
                problems.append(
                    Problem(
                        label,
                        f"agents[{i}].skills[{j}]",
                        f"{dep_slug} {', '.join(lacking)} "
                        f"(allowed by {allowed or 'any version'}) has no skill {skill!r}",
                    )
                )
    if problems:
        raise ManifestError(problems)


def publish(
    settings: Settings,
    paths: list[Path],
    *,
    index_dir: str | Path | None = None,
    before_push: BeforePush | None = None,
    sign: bool | None = None,
    allow_hidden_unicode: bool = False,
) -> PublishResult:
    """Validate, archive and add packages to an index; nothing is written unless all pass.

    ``index_dir`` is a folder or a git URL (then the result is pushed).
    Hidden-Unicode findings of error severity (``core/audit.py``) refuse the
    batch unless ``allow_hidden_unicode``; then the index line records them.
    """
    actor = check_identity(settings.actor, "the publisher (FLEETPROMPT_ACTOR or 'actor')")
    loaded = []
    for path in paths:
        if not Path(path).exists():
            raise NotFound(f"{path}: no such package folder or manifest")
        loaded.append(load_manifest(Path(path)))
    seen: dict[tuple[str, str], Path] = {}
    for manifest, root in loaded:
        key = (manifest.slug, manifest.canonical_version)
        if key in seen:
            raise AlreadyExists(
                f"{manifest.slug} {manifest.version} is given twice: {seen[key]} and {root}"
            )
        seen[key] = root
    hidden, audit_warnings = check_hidden_unicode(loaded, allow=allow_hidden_unicode)
    # The signing key is loaded before anything is written (a missing or
    # unreadable key fails here); without one, versions go out unsigned.
    signer = signing.publisher_key(settings, required=sign)
    target = split_target(settings, index_dir)
    published: list[Published] = []
    claimed: list[str] = []

    def apply(index: LocalIndex) -> IndexChange:
        published.clear()
        claimed.clear()
        return _apply_publish(settings, index, loaded, actor, published, claimed, signer, hidden)

    outcome = transact(settings, target, apply, create=True, before_push=before_push)
    result = PublishResult(
        target.label if target.url else str(outcome.index.root),
        list(published),
        outcome.commit,
        outcome.pushed,
        outcome.attempts,
        list(claimed),
    )
    if signer is not None:
        result.signed_by, result.warnings = signer.id, list(signer.warnings)
    result.warnings.extend(audit_warnings)
    return result


# How many findings a refusal lists before "... and N more".
_SHOWN_FINDINGS = 10


def check_hidden_unicode(
    loaded: list[tuple[Manifest, Path]], *, allow: bool
) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Scan each package folder; refuse error findings unless ``allow``.

    Returns the ``hidden_unicode`` record of each package with findings (by
    ``slug version``) and one warning line per finding that does not refuse.
    """
    from fleetprompt_cli.actions.audit import audit_folder

    records: dict[str, dict[str, Any]] = {}
    warnings: list[str] = []
    refused: list[str] = []
    for manifest, root in loaded:
        found = audit_folder(root)
        if not found:
            continue
        errors = [f for f in found if f.severity == "error"]
        records[f"{manifest.slug} {manifest.canonical_version}"] = {
            "errors": len(errors),
            "warnings": len(found) - len(errors),
            "rules": sorted({f.code for f in found}),
        }
        for finding in found:
            line = f"{root / finding.where()}: {finding.code}: {finding.message}"
            if finding.severity == "error" and not allow:
                refused.append(line)
            else:
                warnings.append(line)
    if refused:
        shown = refused[:_SHOWN_FINDINGS]
        more = len(refused) - len(shown)
        raise InvalidInput(
            "hidden Unicode that a reviewer cannot see (publish with --allow-hidden-unicode "
            "to publish anyway, recorded in the index line):\n  "
            + "\n  ".join(shown)
            + (f"\n  ... and {more} more" if more else ""),
            details={"findings": refused},
        )
    return records, warnings


def _apply_publish(
    settings: Settings,
    index: LocalIndex,
    loaded: list[tuple[Manifest, Path]],
    actor: str,
    published: list[Published],
    claimed: list[str],
    signer: SigningKey | None,
    hidden: dict[str, dict[str, Any]] | None = None,
) -> IndexChange:
    # The template decides where publish writes: checked before anything is.
    index.archive_template()
    ordered = _order(loaded)
    # Check the whole batch before writing anything, so that a bad package
    # leaves the index exactly as it was.
    pending = _Pending(index)
    for manifest, root in ordered:
        _check_against_index(manifest, pending, str(root / "fleetprompt.toml"))
        pending.add(manifest)
    claims: dict[str, list[str]] = {}
    for slug in sorted({manifest.slug for manifest, _ in ordered}):
        new_owners = require_owner(index, slug, actor, doing="publish")
        if new_owners is not None:
            claims[slug] = new_owners
    targets = []
    for manifest, root in ordered:
        relative = index.archive_for(manifest.slug, str(manifest.version))
        targets.append((manifest, root, relative, _writable(index, relative, kind="archive")))
    written = Written(index)
    change = IndexChange("Publish", "", actor)
    try:
        # Every archive first: a package that cannot be archived (a symlink,
        # a file too large) fails the batch before any line is appended.
        built = []
        for manifest, root, relative, target in targets:
            written.archives.append(target)
            info = build_archive(root, target)
            built.append((manifest, relative, info))
        for manifest, relative, info in built:
            entry = entry_for(
                manifest,
                relative,
                info.sha256,
                info.size,
                (hidden or {}).get(f"{manifest.slug} {manifest.canonical_version}"),
            )
            package_file = _writable(
                index, os.path.relpath(index.file_for(manifest.slug), index.root), kind="package"
            )
            written.remember(package_file)
            package_file.parent.mkdir(parents=True, exist_ok=True)
            with package_file.open("a", encoding="utf-8") as stream:
                stream.write(entry.to_line() + "\n")
                stream.flush()
                os.fsync(stream.fileno())
            change.entries.append(entry)
            if signer is not None:
                # Its signature files join the same change (and its undo).
                signing.sign_release(
                    settings, index.root, entry, key=signer, remember=written.remember
                )
            published.append(
                Published(manifest.slug, str(manifest.version), info.sha256, relative, info.size)
            )
        for slug, owners in claims.items():
            record = write_owners(index, slug, owners, written)
            change.records.append(record)
            claimed.append(slug)
    except BaseException:
        written.undo()
        raise
    change.summary = ", ".join(f"{p.slug} {p.version}" for p in published)
    change.paths = written.paths(index.created)
    return change


def _writable(index: LocalIndex, relative: str, *, kind: str) -> Path:
    """The path a write of ``kind`` goes to, refused unless it stays where it belongs.

    Symlinks are resolved: an archive must land inside the index but outside
    ``packages/``, ``.git`` and the index's own files; a package file inside
    ``packages/``; an owners file inside ``owners/``, a yank record inside
    ``yanks/``.
    """
    target = index.confined(relative)
    root = index.root.resolve()
    inside = target.relative_to(root).parts
    if kind == "archive":
        # (A symlink at the archive's own path is replaced, not written
        # through; one pointing at config.json is still refused.)
        wrong = inside[0] in (
            "packages",
            ".git",
            OWNERS_DIR,
            YANKS_DIR,
        ) or not target.name.endswith(ARCHIVE_SUFFIX)
    else:
        wanted = {"package": "packages", "owners": OWNERS_DIR, "yanks": YANKS_DIR}[kind]
        wrong = inside[0] != wanted or len(inside) < 2
    if wrong or target.is_dir():
        raise InvalidInput(
            f"{relative} leads to {target}, where publish must not write: refusing "
            f"(check config.json's 'archives' and the index's symlinks)"
        )
    return index.root / relative


class Written:
    """What a publish wrote, so that a failure can take it back."""

    def __init__(self, index: LocalIndex) -> None:
        self.index = index
        self.archives: list[Path] = []
        self.package_files: dict[Path, int | None] = {}
        self.replaced: dict[Path, bytes | None] = {}

    def remember(self, package_file: Path) -> None:
        if package_file not in self.package_files:
            self.package_files[package_file] = (
                package_file.stat().st_size if package_file.exists() else None
            )

    def remember_whole(self, path: Path) -> None:
        """A file about to be replaced (not appended to): its bytes, to put back."""
        if path not in self.replaced:
            self.replaced[path] = path.read_bytes() if path.is_file() else None

    def undo(self) -> None:
        for path, data in self.replaced.items():
            if data is None:
                path.unlink(missing_ok=True)
            else:
                path.write_bytes(data)
        for archive in self.archives:
            archive.unlink(missing_ok=True)
        for path, size in self.package_files.items():
            if size is None:
                path.unlink(missing_ok=True)
            else:
                with path.open("r+b") as stream:
                    stream.truncate(size)

    def paths(self, config_created: bool) -> list[str]:
        files = [*self.archives, *self.package_files, *self.replaced]
        if config_created:
            files.append(self.index.root / "config.json")
        return sorted({os.path.relpath(f, self.index.root) for f in files})


# -- owners ------------------------------------------------------------------


def _owners_relative(slug: str) -> str:
    return f"{OWNERS_DIR}/{slug}"


def read_owners(index: LocalIndex, slug: str) -> list[str] | None:
    """The owners of ``slug`` recorded in the index, or None when none are.

    The file is untrusted: anything but a regular file holding
    ``{"schema": 1, "slug": SLUG, "owners": [IDENTITY, ...]}`` (at least one
    owner, each a valid identity) refuses the write, naming the file.
    """
    relative = _owners_relative(slug)
    path = index.root / relative
    where = f"{index.name}: {relative}"
    if not os.path.lexists(path):
        return None
    if path.is_symlink() or not path.is_file():
        raise InvalidInput(f"{where}: not a regular file: fix the index by hand")
    try:
        raw = path.read_bytes()
        if len(raw) > _OWNERS_MAX_BYTES:
            raise ValueError(f"over {_OWNERS_MAX_BYTES} bytes")
        data = json.loads(raw.decode("utf-8"))
    except (OSError, ValueError, RecursionError) as error:
        raise InvalidInput(f"{where}: cannot read: {error}: fix the index by hand") from None
    owners = data.get("owners") if isinstance(data, dict) else None
    if (
        not isinstance(data, dict)
        or data.get("schema") != INDEX_SCHEMA
        or data.get("slug") != slug
        or not isinstance(owners, list)
        or not owners
        or not all(isinstance(o, str) and _IDENTITY.match(o) for o in owners)
    ):
        raise InvalidInput(
            f'{where}: expected {{"schema": 1, "slug": {slug!r}, "owners": [identities]}}: '
            "fix the index by hand"
        )
    return list(owners)


def require_owner(index: LocalIndex, slug: str, actor: str, *, doing: str) -> list[str] | None:
    """Refuse unless ``actor`` may change ``slug``; the owners to record when it claims it.

    The first publisher of a slug becomes its owner; so does the first to
    change a slug published before owners were recorded (no owners file).
    """
    owners = read_owners(index, slug)
    if owners is None:
        return [actor]
    if actor not in owners:
        raise NotAnOwner(
            f"{actor} may not {doing} {slug}: only its owners may ({', '.join(owners)}); "
            f"ask one of them to run 'fleetprompt owner add {slug} {actor}'",
            details={"slug": slug, "actor": actor, "owners": owners},
        )
    return None


def write_owners(index: LocalIndex, slug: str, owners: list[str], written: Written) -> dict:
    """Write ``owners/<slug>`` (remembered in ``written`` for undo); return the record."""
    relative = _owners_relative(slug)
    path = _writable(index, relative, kind="owners")
    if path.is_symlink():
        raise InvalidInput(f"{index.name}: {relative} is a symlink: refusing to write through it")
    record = {"owners": owners, "schema": INDEX_SCHEMA, "slug": slug}
    written.remember_whole(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(record, sort_keys=True, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)
    return {"kind": "owners", **record}


# -- yank ----------------------------------------------------------------------


@dataclass
class YankResult:
    index: str
    slug: str
    version: str
    yanked: bool
    reason: str | None
    changed: bool
    commit: str | None = None
    pushed: bool = False
    owners_claimed: list[str] = field(default_factory=list)


def check_reason(reason: str | None) -> str | None:
    if reason is None:
        return None
    if not reason.strip() or len(reason) > MAX_REASON or not reason.isprintable():
        raise UsageError(
            f"--reason must be one line of 1-{MAX_REASON} printable characters "
            f"(got {len(reason)} characters)"
        )
    return reason.strip()


def yank(
    settings: Settings,
    slug: str,
    version: str,
    *,
    index_dir: str | Path | None,
    undo: bool = False,
    reason: str | None = None,
    before_push: BeforePush | None = None,
    sign: bool | None = None,
) -> YankResult:
    """Mark a published version yanked (or not), recording who, when and why.

    The version line's ``yanked`` field is the only change a line allows;
    the record (``yanks/<slug>``, one JSON line per yank or undo) is
    appended. Yanking a yanked version (or un-yanking one that is not)
    changes nothing. With a signing key, a signed yank record is appended
    beside it, in the same commit.
    """
    if not is_valid_slug(slug):
        raise UsageError(f"invalid package name {slug!r}")
    wanted = canonical_version(parse_version(version))
    reason = check_reason(reason)
    actor = check_identity(settings.actor, "the publisher (FLEETPROMPT_ACTOR or 'actor')")
    key = signing.publisher_key(settings, required=sign)
    slug = canonical_slug(slug)
    target = split_target(settings, index_dir)
    holder: dict[str, Any] = {}

    def apply(index: LocalIndex) -> IndexChange:
        return _apply_yank(settings, index, slug, wanted, version, undo, reason, actor, holder, key)

    outcome = transact(settings, target, apply, create=False, before_push=before_push)
    entry: IndexEntry = holder["entry"]
    return YankResult(
        target.label if target.url else str(outcome.index.root),
        entry.slug,
        entry.version,
        entry.yanked,
        reason,
        bool(outcome.change.paths),
        outcome.commit,
        outcome.pushed,
        holder.get("claimed", []),
    )


def _apply_yank(
    settings: Settings,
    index: LocalIndex,
    slug: str,
    wanted: str,
    version: str,
    undo: bool,
    reason: str | None,
    actor: str,
    holder: dict[str, Any],
    key: SigningKey | None,
) -> IndexChange:
    relative = os.path.relpath(index.file_for(slug), index.root)
    path = _writable(index, relative, kind="package")
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    found: tuple[int, IndexEntry] | None = None
    for number, line in enumerate(lines):
        try:
            entry = IndexEntry.parse(line)
        except ValueError:
            continue
        # The first line of a version is that version (later ones are ignored).
        if canonical_version(entry.version) == wanted:
            found = (number, entry)
            break
    if found is None:
        raise NotFound(f"{slug} {version} is not in the index {index.name}")
    number, entry = found
    verb = "un-yank" if undo else "yank"
    new_owners = require_owner(index, slug, actor, doing=verb)
    holder["entry"] = entry
    change = IndexChange("Unyank" if undo else "Yank", f"{slug} {entry.version}", actor)
    if entry.yanked != undo:
        return change  # Already as asked: nothing to write or record.
    written = Written(index)
    try:
        written.remember_whole(path)
        entry.data["yanked"] = not undo
        lines[number] = entry.to_line()
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
        tmp.replace(path)
        change.entries.append(entry)
        record = {
            "at": _now(),
            "by": actor,
            "reason": reason,
            "schema": INDEX_SCHEMA,
            "slug": slug,
            "version": entry.version,
            "yanked": not undo,
        }
        log = _writable(index, f"{YANKS_DIR}/{slug}", kind="yanks")
        if log.is_symlink():
            raise InvalidInput(f"{index.name}: {YANKS_DIR}/{slug} is a symlink: refusing")
        written.remember(log)
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("a", encoding="utf-8") as stream:
            stream.write(json.dumps(record, sort_keys=True, separators=(",", ":")) + "\n")
        change.records.append({"kind": "yank", **record})
        if key is not None:
            signing.sign_yank(
                settings,
                index.root,
                slug,
                entry.version,
                yanked=not undo,
                reason=reason,
                key=key,
                remember=written.remember,
            )
        if new_owners is not None:
            change.records.append(write_owners(index, slug, new_owners, written))
            holder["claimed"] = [slug]
    except BaseException:
        written.undo()
        raise
    if reason:
        change.body = f"Reason: {reason}"
    change.paths = written.paths(False)
    return change
