"""Read package stats for search and show without importing sqlmodel or SQLAlchemy.

``search`` and ``show`` must stay fast and must work before anything was ever
installed, so this reads ``package_stats`` with the plain drivers (stdlib
``sqlite3``; ``psycopg`` for PostgreSQL, imported only then) and treats a
store that does not exist yet as having no stats.  It never creates,
migrates or locks anything: SQLite is opened read-only, and in WAL mode a
reader does not wait for writers.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

from fleetprompt_cli.errors import StoreUnavailable

__all__ = ["PackageFigures", "read_stats"]

_COLUMNS = "slug, install_count, active_install_count, rating_sum, rating_count"
# A reader that meets a migrating writer waits this long, not the CLI's 30 s.
_READ_TIMEOUT = 5.0


@dataclass(frozen=True)
class PackageFigures:
    """A package's marketplace figures as search and show display them."""

    slug: str
    install_count: int = 0
    active_install_count: int = 0
    rating_sum: int = 0
    rating_count: int = 0

    @property
    def rating(self) -> float | None:
        """The mean rating, or None when nobody rated the package."""
        return self.rating_sum / self.rating_count if self.rating_count else None


def _sqlite_path(url: str) -> Path:
    # sqlite:///relative/path and sqlite:////absolute/path, as SQLAlchemy reads them.
    rest = url.split(":", 1)[1]
    if not rest.startswith("///"):
        raise StoreUnavailable(f"invalid state store URL {url!r}: expected sqlite:///PATH")
    return Path(unquote(rest[3:].split("?", 1)[0]))


def _read_sqlite(path: Path, slugs: list[str]) -> dict[str, PackageFigures]:
    if not path.exists():
        return {}
    try:
        connection = sqlite3.connect(
            f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=_READ_TIMEOUT
        )
    except sqlite3.Error as exc:
        raise StoreUnavailable(f"cannot read the state store {path}: {exc}") from None
    try:
        marks = ", ".join("?" for _ in slugs)
        rows = connection.execute(
            f"SELECT {_COLUMNS} FROM package_stats WHERE slug IN ({marks})", slugs
        ).fetchall()
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return {}
        raise StoreUnavailable(f"cannot read the state store {path}: {exc}") from None
    finally:
        connection.close()
    return {row[0]: PackageFigures(*row) for row in rows}


def _psycopg_conninfo(url: str) -> str:
    # postgresql+psycopg://... is SQLAlchemy's spelling; libpq wants postgresql://.
    parts = urlsplit(url)
    return urlunsplit(("postgresql", *parts[1:]))


def _read_postgres(url: str, slugs: list[str]) -> dict[str, PackageFigures]:
    try:
        import psycopg
    except ImportError:
        raise StoreUnavailable(
            "a PostgreSQL state store needs psycopg: pip install 'fleetprompt[postgres]'"
        ) from None
    conninfo = _psycopg_conninfo(url)
    try:
        with psycopg.connect(conninfo, connect_timeout=int(_READ_TIMEOUT)) as connection:
            exists = connection.execute("SELECT to_regclass('package_stats')").fetchone()
            if exists is None or exists[0] is None:
                return {}
            rows = connection.execute(
                f"SELECT {_COLUMNS} FROM package_stats WHERE slug = ANY(%s)", (slugs,)
            ).fetchall()
    except psycopg.Error as exc:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        safe = urlunsplit(urlsplit(url)._replace(netloc=urlsplit(url).netloc.split("@")[-1]))
        raise StoreUnavailable(f"cannot read the state store at {safe}: {detail}") from None
    return {row[0]: PackageFigures(*row) for row in rows}


def read_stats(url: str, slugs: Iterable[str]) -> dict[str, PackageFigures]:
    """Figures of the given (canonical) slugs that have any; {} before the store exists."""
    wanted = sorted(set(slugs))
    if not wanted:
        return {}
    scheme = url.split(":", 1)[0].lower()
    backend = scheme.split("+", 1)[0]
    if backend == "sqlite":
        return _read_sqlite(_sqlite_path(url), wanted)
    if backend in ("postgresql", "postgres"):
        return _read_postgres(url, wanted)
    raise StoreUnavailable(f"unsupported state store URL {url!r}")
