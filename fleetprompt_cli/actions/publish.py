"""Publish package folders into a folder index, and yank versions.

Each package is validated, checked against the index (the version must be
new; every dependency and every ``DEP:SKILL`` must be satisfiable by versions
already published), archived reproducibly, and appended to its package file.
When the index folder is the top level of a git repository, the result is
committed there.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

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
from fleetprompt_cli.errors import AlreadyExists, InvalidInput, NotFound, UsageError
from fleetprompt_cli.indexio import git as gitindex
from fleetprompt_cli.settings import Settings

__all__ = ["PublishResult", "Published", "entry_for", "publish", "yank"]


@dataclass(frozen=True)
class Published:
    """One version written to the index."""

    slug: str
    version: str
    sha256: str
    archive: str
    size: int


@dataclass
class PublishResult:
    index: Path
    published: list[Published] = field(default_factory=list)
    commit: str | None = None
    # The key id the versions were signed with (None: unsigned), and warnings.
    signed_by: str | None = None
    warnings: list[str] = field(default_factory=list)


def entry_for(manifest: Manifest, archive: str, sha256: str, size: int) -> IndexEntry:
    """The index line for a validated manifest and its archive."""
    meta = manifest.package
    return IndexEntry(
        {
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
            f"{manifest.slug} {manifest.version} is already published in {index.index.root} "
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
                    label, f"dependencies.{dep}", f"{dep} is not in the index {index.index.root}"
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
    index_dir: Path | None = None,
    sign: bool | None = None,
) -> PublishResult:
    """Validate, archive and append packages to the index; nothing is written unless all pass."""
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
    # The signing key is loaded before anything is written (a missing or
    # unreadable key fails here); without one, versions go out unsigned.
    signer = signing.publisher_key(settings, required=sign)
    index = local_index_for_writing(settings, index_dir, create=True)
    # The template decides where publish writes: checked before anything is.
    index.archive_template()
    result = PublishResult(index.root)
    if signer is not None:
        result.signed_by, result.warnings = signer.id, list(signer.warnings)
    ordered = _order(loaded)
    # Check the whole batch before writing anything, so that a bad package
    # leaves the index exactly as it was.
    pending = _Pending(index)
    for manifest, root in ordered:
        _check_against_index(manifest, pending, str(root / "fleetprompt.toml"))
        pending.add(manifest)
    targets = []
    for manifest, root in ordered:
        relative = index.archive_for(manifest.slug, str(manifest.version))
        targets.append((manifest, root, relative, _writable(index, relative, archive=True)))
    written = _Written(index)
    try:
        # Every archive first: a package that cannot be archived (a symlink,
        # a file too large) fails the batch before any line is appended.
        built = []
        for manifest, root, relative, target in targets:
            written.archives.append(target)
            info = build_archive(root, target)
            built.append((manifest, relative, info))
        for manifest, relative, info in built:
            entry = entry_for(manifest, relative, info.sha256, info.size)
            package_file = _writable(
                index, os.path.relpath(index.file_for(manifest.slug), index.root), archive=False
            )
            written.remember(package_file)
            package_file.parent.mkdir(parents=True, exist_ok=True)
            with package_file.open("a", encoding="utf-8") as stream:
                stream.write(entry.to_line() + "\n")
                stream.flush()
                os.fsync(stream.fileno())
            if signer is not None:
                signing.sign_release(
                    settings, index.root, entry, key=signer, remember=written.remember
                )
            result.published.append(
                Published(manifest.slug, str(manifest.version), info.sha256, relative, info.size)
            )
    except BaseException:
        written.undo()
        raise
    if result.published and gitindex.is_repository_root(index.root):
        names = ", ".join(f"{p.slug} {p.version}" for p in result.published)
        result.commit = gitindex.commit_paths(
            index.root, f"Publish {names}", settings.actor, written.paths(index.created)
        )
    return result


def _writable(index: LocalIndex, relative: str, *, archive: bool) -> Path:
    """The path publish writes ``relative`` to, refused unless it stays where it belongs.

    Symlinks are resolved: an archive must land inside the index but outside
    ``packages/``, ``.git`` and the index's own files; a package file inside
    ``packages/``.
    """
    target = index.confined(relative)
    root = index.root.resolve()
    inside = target.relative_to(root).parts
    if archive:
        # (A symlink at the archive's own path is replaced, not written
        # through; one pointing at config.json is still refused.)
        wrong = inside[0] in ("packages", ".git") or not target.name.endswith(ARCHIVE_SUFFIX)
    else:
        wrong = inside[0] != "packages"
    if wrong or target.is_dir():
        raise InvalidInput(
            f"{relative} leads to {target}, where publish must not write: refusing "
            f"(check config.json's 'archives' and the index's symlinks)"
        )
    return index.root / relative


class _Written:
    """What a publish wrote, so that a failure can take it back."""

    def __init__(self, index: LocalIndex) -> None:
        self.index = index
        self.archives: list[Path] = []
        self.package_files: dict[Path, int | None] = {}

    def remember(self, package_file: Path) -> None:
        if package_file not in self.package_files:
            self.package_files[package_file] = (
                package_file.stat().st_size if package_file.exists() else None
            )

    def undo(self) -> None:
        for archive in self.archives:
            archive.unlink(missing_ok=True)
        for path, size in self.package_files.items():
            if size is None:
                path.unlink(missing_ok=True)
            else:
                with path.open("r+b") as stream:
                    stream.truncate(size)

    def paths(self, config_created: bool) -> list[str]:
        files = [*self.archives, *self.package_files]
        if config_created:
            files.append(self.index.root / "config.json")
        return sorted({os.path.relpath(f, self.index.root) for f in files})


def yank(
    settings: Settings,
    slug: str,
    version: str,
    *,
    index_dir: Path | None,
    undo: bool = False,
    reason: str | None = None,
    sign: bool | None = None,
) -> IndexEntry:
    """Mark a published version yanked (or not); the only change a version line allows.

    With a signing key, a signed yank record is appended beside it.
    """
    if not is_valid_slug(slug):
        raise UsageError(f"invalid package name {slug!r}")
    wanted = canonical_version(parse_version(version))
    key = signing.publisher_key(settings, required=sign)
    index = local_index_for_writing(settings, index_dir, create=False)
    slug = canonical_slug(slug)
    relative = os.path.relpath(index.file_for(slug), index.root)
    path = _writable(index, relative, archive=False)
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    found: IndexEntry | None = None
    for number, line in enumerate(lines):
        try:
            entry = IndexEntry.parse(line)
        except ValueError:
            continue
        # The first line of a version is that version (later ones are ignored).
        if canonical_version(entry.version) == wanted:
            entry.data["yanked"] = not undo
            lines[number] = entry.to_line()
            found = entry
            break
    if found is None:
        raise NotFound(f"{slug} {version} is not in the index {index.root}")
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    tmp.replace(path)
    paths = [relative]
    if key is not None:
        signed = signing.sign_yank(
            settings, index.root, slug, found.version, yanked=not undo, reason=reason, key=key
        )
        paths += [os.path.relpath(p, index.root) for p in signed]
    if gitindex.is_repository_root(index.root):
        verb = "Unyank" if undo else "Yank"
        gitindex.commit_paths(
            index.root, f"{verb} {slug} {found.version}", settings.actor, sorted(set(paths))
        )
    return found
