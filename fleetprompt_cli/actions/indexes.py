"""Configured indexes and the catalog built from them.

``open_catalog`` is what every index-reading command calls: it fetches git
indexes that are missing or older than the configured age, re-reads changed
package files of folder indexes, and returns a current catalog.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import dataclass, field
from pathlib import Path

from fleetprompt_cli.core.index import INDEX_SCHEMA, IndexProblem, LocalIndex
from fleetprompt_cli.core.names import canonical_slug, is_valid_slug
from fleetprompt_cli.errors import AlreadyExists, IndexReadError, NotFound, UsageError
from fleetprompt_cli.indexio import git as gitindex
from fleetprompt_cli.indexio.catalog import Catalog, RefreshReport
from fleetprompt_cli.settings import DEFAULT_INDEX_NAME, IndexSource, Settings, save_indexes

__all__ = [
    "CatalogView",
    "IndexStatus",
    "add_index",
    "flag_package",
    "index_revision",
    "list_indexes",
    "local_index_for_writing",
    "open_catalog",
    "remove_index",
    "resolve_source",
]


@dataclass
class CatalogView:
    """An open, current catalog and what opening it noticed."""

    catalog: Catalog
    indexes: list[LocalIndex]
    report: RefreshReport
    warnings: list[str] = field(default_factory=list)
    # The catalog's connection stays open for this thread's next open_catalog(keep=True).
    kept: bool = False

    @property
    def problems(self) -> list[IndexProblem]:
        return self.report.problems or []

    def close(self) -> None:
        """Close the catalog, unless it is kept open for the next call (``keep=True``)."""
        if not self.kept:
            self.catalog.close()


@dataclass(frozen=True)
class IndexStatus:
    """One configured index as ``index list`` shows it."""

    name: str
    url: str
    kind: str
    packages: int
    fetched_age: float | None
    # "require" or "verify-if-present" (actions/trust.py)
    trust: str = ""


def _clone_dir(settings: Settings, source: IndexSource) -> Path:
    import hashlib  # Only git indexes need it; search over a folder index should not pay.

    digest = hashlib.sha256(source.url.encode()).hexdigest()[:12]
    return settings.index_clones / f"{source.name}-{digest}"


def resolve_source(
    settings: Settings, source: IndexSource, *, update: bool, warnings: list[str]
) -> tuple[LocalIndex, str | None]:
    """The local folder of an index (fetching a git index when due) and its signature."""
    folder = _folder_of(source.url)
    if folder is not None:
        index = LocalIndex(folder, source.name)
        if not index.root.exists():
            raise IndexReadError(f"{source.label}: {source.url} does not exist")
        if not index.root.is_dir():
            raise IndexReadError(
                f"{source.label}: {source.url} is a file, not a folder: give the index folder "
                "(the one holding config.json) or a git URL"
            )
        if not index.exists():
            raise IndexReadError(
                f"{source.label}: {source.url} is not a fleetprompt index (no config.json): "
                "create one with 'fleetprompt publish PATH --index DIR'"
            )
        return index, None
    clone = _clone_dir(settings, source)
    age = gitindex.clone_age(clone)
    if update or age is None or age > settings.index_max_age:
        from fleetprompt_cli.actions import trust

        try:
            # Refused before the clone moves: history that is not a
            # fast-forward of the last commit this client accepted.
            head = gitindex.fetch(
                source.url,
                clone,
                check=lambda repo, commit: trust.check_fast_forward(settings, source, repo, commit),
            )
            trust.record_head(settings, source, head)
        except IndexReadError as error:
            error.message = f"{source.label}: {error.message}"
            # A stale clone is still a usable index when we only refreshed
            # because of its age; an explicit update must report the failure.
            if update or age is None:
                raise
            warnings.append(f"{error}; using the copy fetched {age / 60:.0f} min ago")
    index = LocalIndex(clone, source.name)
    if not index.exists():
        raise IndexReadError(
            f"{source.label}: the repository {source.url} holds no fleetprompt index "
            "(no config.json at its top level)"
        )
    return index, gitindex.head_signature(clone)


def _folder_of(url: str) -> Path | None:
    """The folder of a folder index, or None for a git URL.

    A ``file://`` URL to a plain folder (not a git repository) is a folder
    index, so that ``FLEETPROMPT_INDEX=file:///srv/index`` works either way.
    """
    if not gitindex.is_git_url(url):
        return Path(url).expanduser()
    if url.lower().startswith("file://"):
        from urllib.parse import unquote, urlsplit

        parts = urlsplit(url)
        path = Path(unquote(parts.path))
        if parts.netloc in ("", "localhost") and path.is_dir():
            is_repo = (path / ".git").exists() or (
                (path / "HEAD").is_file() and (path / "objects").is_dir()
            )
            return None if is_repo else path
    return None


# Per thread (a sqlite3 connection belongs to the thread that opened it): the
# catalog open_catalog(keep=True) left open, one at a time.
_kept = threading.local()


def open_catalog(settings: Settings, *, update: bool = False, keep: bool = False) -> CatalogView:
    """A catalog that reflects every configured index as of now.

    ``keep``: reuse this thread's catalog connection from the previous
    ``keep`` call (and keep this one open for the next); close the view
    with ``CatalogView.close``, which then leaves it open.  Only the
    connection is reused, never what it knew: every call refreshes the
    catalog from the indexes exactly as a fresh open does (package files'
    size and mtime, git HEADs), so an index that changed between two calls
    of a long-lived process is seen.  Opening the file is what it saves
    (a connection, the WAL switch, the schema check: ~0.5 ms), for the
    enqueue path (``preview_install``), which runs once per directive.
    """
    warnings: list[str] = []
    indexes: list[LocalIndex] = []
    signatures: list[str | None] = []
    for source in settings.indexes:
        index, signature = resolve_source(settings, source, update=update, warnings=warnings)
        indexes.append(index)
        signatures.append(signature)
    catalog = None
    try:
        catalog = _reuse(settings.catalog_path) if keep else _open(settings.catalog_path)
        report = catalog.refresh(indexes, signatures)
    except sqlite3.Error as error:
        if catalog is not None:
            # A connection that failed is not reused.
            _forget(catalog)
            catalog.close()
        raise IndexReadError(
            f"cannot use the catalog {settings.catalog_path}: {error} (it is a cache: "
            "delete it and it will be rebuilt)"
        ) from None
    return CatalogView(catalog, indexes, report, warnings, kept=keep)


def _reuse(path: Path) -> Catalog:
    catalog: Catalog | None = getattr(_kept, "catalog", None)
    if catalog is not None and catalog.path == Path(path):
        return catalog
    if catalog is not None:
        # One kept catalog per thread: tests and long-lived processes that
        # switch homes do not pile up open files.
        _forget(catalog)
        catalog.close()
    catalog = _open(path)
    _kept.catalog = catalog
    return catalog


def _forget(catalog: Catalog) -> None:
    if getattr(_kept, "catalog", None) is catalog:
        _kept.catalog = None


def _open(path: Path) -> Catalog:
    """Open the catalog; a file that is not a database is a broken cache: rebuild it."""
    try:
        return Catalog(path)
    except sqlite3.DatabaseError:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return Catalog(path)


def list_indexes(settings: Settings) -> list[IndexStatus]:
    """The configured indexes in priority order, with package counts."""
    from fleetprompt_cli.actions.trust import policy_of

    view = open_catalog(settings)
    counts = dict(
        view.catalog.db.execute("SELECT index_name, count(*) FROM packages GROUP BY index_name")
    )
    result = []
    for source in settings.indexes:
        git = gitindex.is_git_url(source.url)
        age = gitindex.clone_age(_clone_dir(settings, source)) if git else None
        result.append(
            IndexStatus(
                source.name,
                source.url,
                "git" if git else "folder",
                counts.get(source.name, 0),
                age,
                policy_of(source),
            )
        )
    return result


def add_index(settings: Settings, name: str, url: str, *, trust: str | None = None) -> IndexStatus:
    """Append an index to the configuration and fetch it once to prove it works.

    Its trust policy (``trust``) is stored with it: by default ``require``
    for a git index, ``verify-if-present`` for a plain folder. The keys it
    lists are pinned now (first use).
    """
    from fleetprompt_cli.actions import trust as trusting
    from fleetprompt_cli.settings import TRUST_POLICIES

    if trust is not None and trust not in TRUST_POLICIES:
        raise UsageError(f"--trust must be one of {', '.join(TRUST_POLICIES)}, not {trust!r}")
    if not name or not name.replace("-", "").replace("_", "").isalnum():
        raise UsageError(f"invalid index name {name!r}: use letters, digits, '-' and '_'")
    configured = [s for s in settings.indexes if s.name != DEFAULT_INDEX_NAME]
    if name == DEFAULT_INDEX_NAME or any(s.name == name for s in configured):
        raise AlreadyExists(f"an index named {name!r} is already configured")
    if not gitindex.is_git_url(url):
        url = str(Path(url).expanduser().resolve())
    source = IndexSource(name, url, trust=trust or trusting.policy_of(IndexSource(name, url)))
    warnings: list[str] = []
    index, _ = resolve_source(settings, source, update=True, warnings=warnings)
    trusting.trusted_keys(settings, source, index.root)
    save_indexes(settings, [*configured, source])
    count = sum(1 for _ in index.package_files())
    kind = "git" if gitindex.is_git_url(url) else "folder"
    return IndexStatus(name, url, kind, count, 0.0, source.trust or "")


def remove_index(settings: Settings, name: str) -> None:
    """Remove an added index from the configuration."""
    configured = [s for s in settings.indexes if s.name != DEFAULT_INDEX_NAME]
    if not any(s.name == name for s in configured):
        raise NotFound(f"no added index named {name!r} (see 'fleetprompt index list')")
    save_indexes(settings, [s for s in configured if s.name != name])


def local_index_for_writing(settings: Settings, folder: Path | None, *, create: bool) -> LocalIndex:
    """The folder index that publish, yank and flag write to."""
    if folder is None:
        candidates = [s for s in settings.indexes if not gitindex.is_git_url(s.url)]
        if len(settings.indexes) != 1 or not candidates:
            raise UsageError(
                "say which index folder to write to with --index DIR "
                "(a clone of the index's git repository, or a plain folder)"
            )
        folder = Path(candidates[0].url)
    index = LocalIndex(folder.expanduser())
    if not index.exists():
        if not create:
            index.require()
        if index.root.exists() and not index.root.is_dir():
            raise IndexReadError(f"{index.root} is not a folder")
        index.root.mkdir(parents=True, exist_ok=True)
        config = {"schema": INDEX_SCHEMA, "archives": "archives/{slug}/{slug}-{version}.tar.gz"}
        (index.root / "config.json").write_text(json.dumps(config, indent=2) + "\n")
        index.created = True
    return index


def flag_package(
    settings: Settings,
    folder: Path | None,
    slug: str,
    *,
    featured: bool | None,
    verified: bool | None,
) -> dict[str, bool]:
    """Set a package's maintainer flags (featured, verified) in an index folder."""
    if not is_valid_slug(slug):
        raise UsageError(f"invalid package name {slug!r}")
    index = local_index_for_writing(settings, folder, create=False)
    slug = canonical_slug(slug)
    if not index.versions(slug):
        raise NotFound(f"{slug} is not in the index {index.root}")
    path = index.root / "flags.json"
    flags, problems = index.read_flags()
    if problems:
        reason = problems[0].message.removesuffix("; ignored")
        raise IndexReadError(f"{path}: {reason}: fix it by hand first")
    entry = flags.setdefault(slug, {})
    for key, value in (("featured", featured), ("verified", verified)):
        if value is not None:
            entry[key] = value
    data = {"schema": INDEX_SCHEMA, "packages": dict(sorted(flags.items()))}
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    tmp.replace(path)
    return {"featured": bool(flags.get("featured")), "verified": bool(flags.get("verified"))}


def index_revision(settings: Settings, source: IndexSource) -> str | None:
    """The commit a git index's clone was at when last fetched (None for a folder index)."""
    if not gitindex.is_git_url(source.url):
        return None
    return gitindex.head_signature(_clone_dir(settings, source))
