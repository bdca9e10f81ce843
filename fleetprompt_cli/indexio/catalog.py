"""The local catalog: a SQLite (FTS5) copy of the configured indexes.

Search and show read the catalog, never the index files, so that a
10,000-package index answers in milliseconds.  The catalog is refreshed
incrementally: only package files whose size or mtime changed since the last
refresh are re-read (for a git index, only after its HEAD moved), and only the
packages they hold are re-ranked.  Uses the stdlib ``sqlite3`` module only, so
the read path never imports sqlmodel.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.version import InvalidVersion, Version

from fleetprompt_cli.core.index import (
    IndexEntry,
    IndexProblem,
    LocalIndex,
    is_layout_path,
    package_path,
)
from fleetprompt_cli.core.names import canonical_slug, canonical_version
from fleetprompt_cli.core.vocab import TIER_ORDER, tier_rank
from fleetprompt_cli.walmode import enable_wal

__all__ = ["CATALOG_SCHEMA", "Catalog", "RefreshReport", "SearchHit"]

CATALOG_SCHEMA = "4"

# How long a catalog writer waits for another (seconds).
_BUSY_TIMEOUT = 30.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files(
    index_name TEXT NOT NULL, path TEXT NOT NULL, size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL, slug TEXT NOT NULL, PRIMARY KEY (index_name, path));
CREATE TABLE IF NOT EXISTS versions(
    index_name TEXT NOT NULL, slug TEXT NOT NULL, ckey TEXT NOT NULL,
    version TEXT NOT NULL, yanked INTEGER NOT NULL, data TEXT NOT NULL, origin TEXT NOT NULL,
    PRIMARY KEY (index_name, slug, ckey));
CREATE TABLE IF NOT EXISTS packages(
    id INTEGER PRIMARY KEY, slug TEXT NOT NULL UNIQUE, index_name TEXT NOT NULL,
    name TEXT NOT NULL, version TEXT NOT NULL, description TEXT NOT NULL,
    category TEXT, pricing_model TEXT, min_tier TEXT, tier_rank INTEGER,
    verified INTEGER NOT NULL DEFAULT 0, featured INTEGER NOT NULL DEFAULT 0,
    data TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS packages_category ON packages(category);
CREATE VIRTUAL TABLE IF NOT EXISTS packages_fts USING fts5(
    slug, name, keywords, components, description, tokenize = 'unicode61');
CREATE TABLE IF NOT EXISTS problems(
    index_name TEXT NOT NULL, file TEXT NOT NULL, line INTEGER NOT NULL, message TEXT NOT NULL);
"""

# bm25 column weights: slug and name rank above keywords, component names and
# the description (the order of the columns in packages_fts).
_BM25 = "bm25(packages_fts, 10.0, 8.0, 3.0, 2.0, 1.0)"


@dataclass(frozen=True)
class SearchHit:
    """A package that matched a search, from its newest listed version."""

    slug: str
    index: str
    raw: str
    verified: bool
    featured: bool
    rank: float

    @property
    def data(self) -> dict[str, Any]:
        # Decoded on demand: a search may match thousands of packages and
        # show twenty.
        return json.loads(self.raw)


@dataclass
class RefreshReport:
    """What a refresh re-read."""

    files_read: int = 0
    packages_changed: int = 0
    problems: list[IndexProblem] | None = None


def _sort_key(text: str) -> tuple[int, Version | str]:
    try:
        return (1, Version(text))
    except InvalidVersion:
        return (0, text)


def _listed_version(rows: Sequence[tuple[str, int, str]]) -> tuple[str, int, str] | None:
    """The row a listing shows: newest non-yanked final, else newest non-yanked, else newest."""
    keyed = sorted(((_sort_key(row[0]), row) for row in rows), key=lambda k: k[0], reverse=True)
    for (_, parsed), row in keyed:
        if not row[1] and isinstance(parsed, Version) and not parsed.is_prerelease:
            return row
    for _, row in keyed:
        if not row[1]:
            return row
    return keyed[0][1] if keyed else None


class Catalog:
    """The catalog file; open it, refresh it from indexes, query it."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.path, timeout=_BUSY_TIMEOUT, isolation_level=None)
        enable_wal(self.db, _BUSY_TIMEOUT)
        self.db.execute("PRAGMA synchronous=NORMAL")
        if self._meta("schema") != CATALOG_SCHEMA:
            self._reset()

    def close(self) -> None:
        self.db.close()

    def _meta(self, key: str) -> str | None:
        try:
            row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        except sqlite3.OperationalError:
            return None
        return row[0] if row else None

    def _set_meta(self, key: str, value: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))

    def _reset(self) -> None:
        drops = "".join(
            f"DROP TABLE IF EXISTS {table};"
            for table in ("meta", "files", "versions", "packages", "packages_fts", "problems")
        )
        # One script, one transaction: a concurrent reader sees the old
        # catalog or the new, empty one, never a half-dropped file.
        self.db.executescript(
            f"BEGIN IMMEDIATE;{drops}{_SCHEMA}"
            f"INSERT INTO meta(key, value) VALUES ('schema', '{CATALOG_SCHEMA}');COMMIT;"
        )

    # -- refreshing ---------------------------------------------------------

    def refresh(
        self, indexes: Sequence[LocalIndex], signatures: Sequence[str | None]
    ) -> RefreshReport:
        """Bring the catalog up to date with ``indexes`` (in priority order).

        ``signatures`` has one entry per index: a string that changes whenever
        the index may have changed (a git HEAD), or None to compare every
        package file's size and mtime.  Changes are found without writing, so
        that concurrent commands on an unchanged index never queue for the
        catalog's write lock.
        """
        report = RefreshReport(problems=[])
        order = json.dumps([i.name for i in indexes])
        if self._meta("order") not in (None, order):
            self._reset()
        pending = []
        for index, signature in zip(indexes, signatures, strict=True):
            if signature is not None and self._meta(f"signature:{index.name}") == signature:
                continue
            changed, gone = self._changes(index)
            stamp = self._flags_stamp(index)
            flags_changed = self._meta(f"flags:{index.name}") != stamp
            if changed or gone or flags_changed or signature is not None:
                pending.append((index, signature, changed, gone, stamp, flags_changed))
        if pending or self._meta("order") != order:
            self._apply(pending, order, [i.name for i in indexes], report)
        report.problems = self.problems()
        return report

    def _apply(self, pending: list, order: str, names: list[str], report: RefreshReport) -> None:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            self._set_meta("order", order)
            touched: set[str] = set()
            flags_changed = False
            for index, signature, changed, gone, stamp, flags_moved in pending:
                touched |= self._apply_files(index, changed, gone, report)
                if flags_moved:
                    flags, bad = index.read_flags()
                    self._set_meta(f"flags:{index.name}", stamp)
                    self._set_meta(f"flagdata:{index.name}", json.dumps(flags))
                    flags_file = str(index.root / "flags.json")
                    self.db.execute(
                        "DELETE FROM problems WHERE index_name = ? AND file = ?",
                        (index.name, flags_file),
                    )
                    self.db.executemany(
                        "INSERT INTO problems(index_name, file, line, message) VALUES (?, ?, ?, ?)",
                        [(index.name, p.file, p.line, p.message) for p in bad],
                    )
                    flags_changed = True
                if signature is not None:
                    self._set_meta(f"signature:{index.name}", signature)
            if flags_changed:
                touched |= {row[0] for row in self.db.execute("SELECT slug FROM packages")}
            self._rebuild_packages(touched, names)
            report.packages_changed = len(touched)
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def _changes(self, index: LocalIndex) -> tuple[list[tuple[str, Any]], list[tuple[str, str]]]:
        """Package files that are new or changed since the last read, and those gone."""
        known = {
            path: (size, mtime, slug)
            for path, size, mtime, slug in self.db.execute(
                "SELECT path, size, mtime_ns, slug FROM files WHERE index_name = ?", (index.name,)
            )
        }
        changed = []
        for path, stat in index.package_files():
            seen = known.pop(path, None)
            if seen is None or seen[:2] != (stat.st_size, stat.st_mtime_ns):
                changed.append((path, stat))
        return changed, [(path, slug) for path, (_, _, slug) in known.items()]

    def _apply_files(
        self, index: LocalIndex, changed: list, gone: list, report: RefreshReport
    ) -> set[str]:
        first_read = not self.db.execute(
            "SELECT 1 FROM files WHERE index_name = ? LIMIT 1", (index.name,)
        ).fetchone()
        touched: set[str] = set()
        versions: list[tuple] = []
        problems: list[tuple] = []
        files: list[tuple] = []
        for path, stat in changed:
            if is_layout_path(path.replace("\\", "/")):
                slug = Path(path).name
                entries, bad = index.read_file(path)
            else:
                # A stray file (packages/zz/zz/customer-support) is not merged
                # into the package its name names: it is reported and ignored.
                slug = ""
                expected = f"packages/{package_path(canonical_slug(Path(path).name))}"
                entries, bad = (
                    [],
                    [
                        IndexProblem(
                            str(index.root / path),
                            0,
                            "not where the index layout puts a package file "
                            f"(expected {expected}): ignored",
                        )
                    ],
                )
            report.files_read += 1
            versions += [
                (
                    index.name,
                    slug,
                    canonical_version(e.parsed_version or e.version),
                    e.version,
                    int(e.yanked),
                    e.raw or e.to_line(),
                    e.origin,
                )
                for e in entries
            ]
            problems += [(index.name, p.file, p.line, p.message) for p in bad]
            files.append((index.name, path, stat.st_size, stat.st_mtime_ns, slug))
            if slug:
                touched.add(slug)
        touched |= {slug for _, slug in gone if slug}
        if not first_read:
            # Rows of every re-read or removed file go first, in bulk.
            self.db.executemany(
                "DELETE FROM versions WHERE index_name = ? AND slug = ?",
                [(index.name, slug) for slug in touched],
            )
            self.db.executemany(
                "DELETE FROM problems WHERE index_name = ? AND file = ?",
                [(index.name, str(index.root / f[1])) for f in files]
                + [(index.name, str(index.root / path)) for path, _ in gone],
            )
            self.db.executemany(
                "DELETE FROM files WHERE index_name = ? AND path = ?",
                [(index.name, path) for path, _ in gone],
            )
        self.db.executemany(
            "INSERT OR REPLACE INTO versions(index_name, slug, ckey, version, yanked, data, origin)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            versions,
        )
        self.db.executemany(
            "INSERT INTO problems(index_name, file, line, message) VALUES (?, ?, ?, ?)", problems
        )
        self.db.executemany(
            "INSERT OR REPLACE INTO files(index_name, path, size, mtime_ns, slug)"
            " VALUES (?, ?, ?, ?, ?)",
            files,
        )
        return touched

    @staticmethod
    def _flags_stamp(index: LocalIndex) -> str:
        try:
            stat = (index.root / "flags.json").stat()
        except FileNotFoundError:
            return "none"
        return f"{stat.st_size}:{stat.st_mtime_ns}"

    def _rebuild_packages(self, slugs: set[str], order: list[str]) -> None:
        if not slugs:
            return
        flags = {name: json.loads(self._meta(f"flagdata:{name}") or "{}") for name in order}
        rank = {name: i for i, name in enumerate(order)}
        by_slug: dict[str, dict[str, list[tuple[str, int, str]]]] = {}
        chunks = [sorted(slugs)[i : i + 500] for i in range(0, len(slugs), 500)]
        for chunk in chunks:
            marks = ",".join("?" * len(chunk))
            for name, slug, version, yanked, data in self.db.execute(
                "SELECT index_name, slug, version, yanked, data FROM versions"
                f" WHERE slug IN ({marks})",
                chunk,
            ):
                by_slug.setdefault(slug, {}).setdefault(name, []).append((version, yanked, data))
            self.db.execute(
                "DELETE FROM packages_fts WHERE rowid IN"
                f" (SELECT id FROM packages WHERE slug IN ({marks}))",
                chunk,
            )
            self.db.execute(f"DELETE FROM packages WHERE slug IN ({marks})", chunk)
        next_id = (self.db.execute("SELECT max(id) FROM packages").fetchone()[0] or 0) + 1
        packages: list[tuple] = []
        texts: list[tuple] = []
        for slug in sorted(by_slug):
            owner = min(by_slug[slug], key=lambda name: rank.get(name, len(rank)))
            rows = by_slug[slug][owner]
            listed_row = _listed_version(rows)
            assert listed_row is not None  # by_slug holds only slugs with rows
            listed, raw = listed_row[0], listed_row[2]
            data = json.loads(raw)
            mark = flags.get(owner, {}).get(slug, {})
            tier = data.get("min_tier", "free")
            packages.append(
                (
                    next_id,
                    slug,
                    owner,
                    data.get("name", slug),
                    listed,
                    data.get("description", ""),
                    data.get("category"),
                    (data.get("pricing") or {}).get("model", "free"),
                    tier,
                    tier_rank(tier),
                    int(bool(mark.get("verified"))),
                    int(bool(mark.get("featured"))),
                    raw,
                )
            )
            includes = data.get("includes", {})
            components = " ".join(
                item.get("name", "")
                for kind in ("agents", "workflows", "skills", "tools")
                for item in includes.get(kind, [])
            )
            texts.append(
                (
                    next_id,
                    slug.replace("-", " "),
                    data.get("name", ""),
                    " ".join(data.get("keywords", [])),
                    components,
                    data.get("description", ""),
                )
            )
            next_id += 1
        self.db.executemany(
            "INSERT INTO packages(id, slug, index_name, name, version, description, category,"
            " pricing_model, min_tier, tier_rank, verified, featured, data)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            packages,
        )
        self.db.executemany(
            "INSERT INTO packages_fts(rowid, slug, name, keywords, components, description)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            texts,
        )

    # -- reading ------------------------------------------------------------

    def search(
        self,
        query: str = "",
        *,
        category: str | None = None,
        pricing: str | None = None,
        tier: str | None = None,
        featured: bool = False,
    ) -> list[SearchHit]:
        """Packages matching the query and filters, best match first."""
        where: list[str] = []
        params: list[Any] = []
        if category:
            where.append("p.category = ?")
            params.append(category)
        if pricing:
            where.append("p.pricing_model = ?")
            params.append(pricing)
        if tier:
            where.append("p.tier_rank <= ?")
            params.append(TIER_ORDER[tier])
        if featured:
            where.append("p.featured = 1")
        match = _fts_query(query)
        if match:
            sql = (
                f"SELECT p.slug, p.index_name, p.data, p.verified, p.featured, {_BM25} AS rank"
                " FROM packages_fts JOIN packages p ON p.id = packages_fts.rowid"
                " WHERE packages_fts MATCH ?"
            )
            params.insert(0, match)
        else:
            sql = (
                "SELECT p.slug, p.index_name, p.data, p.verified, p.featured, 0.0 AS rank"
                " FROM packages p WHERE 1"
            )
        for clause in where:
            sql += f" AND {clause}"
        sql += " ORDER BY rank, p.slug"
        return [
            SearchHit(slug, index, data, bool(verified), bool(feat), rank)
            for slug, index, data, verified, feat, rank in self.db.execute(sql, params)
        ]

    def versions(self, slug: str) -> list[IndexEntry]:
        """Every version of a package from the index that owns it, oldest first."""
        row = self.db.execute(
            "SELECT index_name, verified, featured FROM packages WHERE slug = ?", (slug,)
        ).fetchone()
        if row is None:
            return []
        index_name, verified, featured = row
        entries = [
            IndexEntry(
                json.loads(data),
                index=index_name,
                flags={"verified": bool(verified), "featured": bool(featured)},
                origin=origin,
            )
            for data, origin in self.db.execute(
                "SELECT data, origin FROM versions WHERE index_name = ? AND slug = ?",
                (index_name, slug),
            )
        ]
        return sorted(entries, key=lambda e: _sort_key(e.version))

    def slugs_and_names(self) -> list[tuple[str, str]]:
        """Every listed package's slug and name (for "did you mean")."""
        return list(self.db.execute("SELECT slug, name FROM packages"))

    def problems(self) -> list[IndexProblem]:
        """Every unreadable line or file seen in the indexes."""
        return [
            IndexProblem(f, line, m)
            for f, line, m in self.db.execute(
                "SELECT file, line, message FROM problems ORDER BY file, line"
            )
        ]

    def count(self) -> int:
        return self.db.execute("SELECT count(*) FROM packages").fetchone()[0]


def _fts_query(query: str) -> str:
    """An FTS5 MATCH expression: every word must match, as a prefix."""
    words = [w for w in "".join(c if c.isalnum() else " " for c in query.lower()).split() if w]
    return " AND ".join(f'"{w}"*' for w in words)
