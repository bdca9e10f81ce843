"""Read package stats for search and show without importing sqlmodel or SQLAlchemy.

``search`` and ``show`` must stay fast and must work before anything was ever
installed, so this reads ``package_stats`` with the plain drivers (stdlib
``sqlite3``; for PostgreSQL libpq itself through ``store/libpq.py``, as the
fast reader does, or ``psycopg`` when no libpq can be loaded) and treats a
store that does not exist yet as having no stats.  It never creates,
migrates or locks anything: SQLite is opened read-only, and in WAL mode a
reader does not wait for writers.

Statements are written once, with ``?`` placeholders, for every driver.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from fleetprompt_cli.errors import StoreUnavailable

__all__ = [
    "REVIEW_ORDERS",
    "PackageFigures",
    "ReviewRow",
    "read_histogram",
    "read_installation",
    "read_installed_slugs",
    "read_reviews",
    "read_stats",
]

# The Bayesian average's prior: every package starts as if it had PRIOR_WEIGHT
# reviews of PRIOR_MEAN stars (the middle of the scale).
PRIOR_MEAN = 3.0
PRIOR_WEIGHT = 10

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

    @property
    def bayesian_rating(self) -> float:
        """The mean rating pulled towards PRIOR_MEAN by PRIOR_WEIGHT imagined reviews.

        What ``search --sort rating`` orders by: one 5-star review scores
        3.18, 400 reviews averaging 4.9 score 4.85.
        """
        return (PRIOR_WEIGHT * PRIOR_MEAN + self.rating_sum) / (PRIOR_WEIGHT + self.rating_count)


def _sqlite_path(url: str) -> Path:
    # sqlite:///relative/path and sqlite:////absolute/path, as SQLAlchemy reads them.
    rest = url.split(":", 1)[1]
    if not rest.startswith("///"):
        raise StoreUnavailable(f"invalid state store URL {url!r}: expected sqlite:///PATH")
    return Path(unquote(rest[3:].split("?", 1)[0]))


def _fetch_sqlite(path: Path, sql: str, params: Sequence[Any]) -> list[tuple]:
    if not path.exists():
        return []
    try:
        connection = sqlite3.connect(
            f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=_READ_TIMEOUT
        )
    except sqlite3.Error as exc:
        raise StoreUnavailable(f"cannot read the state store {path}: {exc}") from None
    try:
        return connection.execute(sql, params).fetchall()
    except sqlite3.DatabaseError as exc:  # also "file is not a database"
        if "no such table" in str(exc) or "no such column" in str(exc):
            # A store older than the code (migrated by the next command that
            # opens it): nothing to show yet rather than an error.
            return []
        raise StoreUnavailable(f"cannot read the state store {path}: {exc}") from None
    finally:
        connection.close()


def _pg_conninfo(url: str) -> str:
    # postgresql+psycopg://... is SQLAlchemy's spelling; libpq wants postgresql://.
    parts = urlsplit(url)
    return urlunsplit(("postgresql", *parts[1:]))


def _unavailable(url: str, exc: BaseException) -> StoreUnavailable:
    text = str(exc).strip()
    detail = text.splitlines()[0] if text else type(exc).__name__
    safe = urlunsplit(urlsplit(url)._replace(netloc=urlsplit(url).netloc.split("@")[-1]))
    return StoreUnavailable(f"cannot read the state store at {safe}: {detail}")


def _fetch_postgres(url: str, table: str, sql: str, params: Sequence[Any]) -> list[tuple]:
    # libpq through ctypes, as store/fastread.py reads: ``import psycopg``
    # alone would cost ~130 ms of a ``show`` (store/libpq.py says why).
    from fleetprompt_cli.store import libpq
    from fleetprompt_cli.store.fastread import _numbered  # ``?`` as ``$1, $2...``

    try:
        libpq.load()
    except libpq.Unavailable:
        return _fetch_psycopg(url, table, sql, params)
    try:
        connection = libpq.Connection(_pg_conninfo(url), connect_timeout=int(_READ_TIMEOUT))
    except libpq.Error as exc:
        raise _unavailable(url, exc) from None
    try:
        if not connection.execute("SELECT to_regclass($1) IS NOT NULL", [table])[0][0]:
            return []
        return connection.execute(_numbered(sql), params)
    except libpq.Error as exc:
        raise _unavailable(url, exc) from None
    finally:
        connection.close()


def _fetch_psycopg(url: str, table: str, sql: str, params: Sequence[Any]) -> list[tuple]:
    try:
        import psycopg
    except ImportError:
        raise StoreUnavailable(
            "a PostgreSQL state store needs psycopg: pip install 'fleetprompt[postgres]'"
        ) from None
    conninfo = _pg_conninfo(url)
    try:
        with psycopg.connect(conninfo, connect_timeout=int(_READ_TIMEOUT)) as connection:
            exists = connection.execute("SELECT to_regclass(%s)", (table,)).fetchone()
            if exists is None or exists[0] is None:
                return []
            sql = sql.replace("%", "%%").replace("?", "%s")
            return connection.execute(sql, tuple(params)).fetchall()
    except psycopg.Error as exc:
        raise _unavailable(url, exc) from None


def _backend(url: str) -> str:
    return url.split(":", 1)[0].lower().split("+", 1)[0]


def _fetch(url: str, table: str, sql: str, params: Sequence[Any]) -> list[tuple]:
    backend = _backend(url)
    if backend == "sqlite":
        return _fetch_sqlite(_sqlite_path(url), sql, params)
    if backend in ("postgresql", "postgres"):
        return _fetch_postgres(url, table, sql, params)
    raise StoreUnavailable(f"unsupported state store URL {url!r}")


def read_stats(url: str, slugs: Iterable[str]) -> dict[str, PackageFigures]:
    """Figures of the given (canonical) slugs that have any; {} before the store exists."""
    wanted: list[Any] = sorted(set(slugs))
    if not wanted:
        return {}
    # PostgreSQL takes one array parameter, however many slugs a search shows.
    where, params = "slug = ANY(?)", [wanted]
    if _backend(url) == "sqlite":
        where, params = f"slug IN ({', '.join('?' for _ in wanted)})", wanted
    sql = f"SELECT {_COLUMNS} FROM package_stats WHERE {where}"
    rows = _fetch(url, "package_stats", sql, params)
    return {row[0]: PackageFigures(*row) for row in rows}


@dataclass(frozen=True)
class ReviewRow:
    """One review as the detail page shows it."""

    id: int
    actor: str
    rating: int
    title: str | None
    content: str | None
    helpful_count: int
    updated_at: str
    version: str | None = None


# The orders ``reviews list --sort`` offers; "helpful" is what the detail
# page shows, read straight off ix_reviews_slug_helpful_count_updated_at_id.
REVIEW_ORDERS = {
    "helpful": "helpful_count DESC, updated_at DESC, id DESC",
    "newest": "updated_at DESC, id DESC",
    "rating": "rating DESC, helpful_count DESC, updated_at DESC, id DESC",
}


def read_reviews(url: str, slug: str, limit: int = 5, sort: str = "helpful") -> list[ReviewRow]:
    """A package's reviews in ``sort`` order; [] before the store exists."""
    columns = "id, actor, rating, title, content, helpful_count, updated_at, version"
    order = f"ORDER BY {REVIEW_ORDERS[sort]}"
    rows = _fetch(
        url,
        "reviews",
        f"SELECT {columns} FROM reviews WHERE slug = ? {order} LIMIT ?",
        [slug, limit],
    )
    return [
        ReviewRow(row[0], row[1], row[2], row[3], row[4], row[5], _time_text(row[6]), row[7])
        for row in rows
    ]


def _time_text(value: str | datetime) -> str:
    # SQLite keeps naive UTC text, shown as stored.  PostgreSQL's timestamptz
    # is shown as ``str()`` of the aware value in UTC (``... 12:00:00.5+00:00``):
    # psycopg used to give it in the session's time zone, so this is the text
    # it printed for a UTC session, now whatever the session's zone and
    # whichever driver read it (libpq's binary results are in UTC already).
    if isinstance(value, datetime):
        return str(value.astimezone(UTC))
    return str(value)


def read_histogram(url: str, slug: str) -> dict[int, int]:
    """How many reviews of ``slug`` gave 5, 4, 3, 2 and 1 stars (5 first)."""
    sql = "SELECT rating, COUNT(*) FROM reviews WHERE slug = ? GROUP BY rating"
    rows = _fetch(url, "reviews", sql, [slug])
    counts = dict(rows)
    return {stars: int(counts.get(stars, 0)) for stars in range(5, 0, -1)}


def read_installation(url: str, tenant: str, slug: str) -> tuple[str | None, str] | None:
    """(version, status) of the tenant's live installation of ``slug``, or None."""
    sql = (
        "SELECT i.version, i.status FROM installations i JOIN tenants t ON t.id = i.tenant_id"
        " WHERE t.slug = ? AND i.slug = ? AND i.status NOT IN ('uninstalled', 'cancelled')"
        " ORDER BY i.id DESC LIMIT 1"
    )
    rows = _fetch(url, "installations", sql, [tenant, slug])
    return (rows[0][0], rows[0][1]) if rows else None


def read_installed_slugs(url: str, tenant: str) -> list[str]:
    """Slugs the tenant has installed (live installations), for shell completion."""
    sql = (
        "SELECT DISTINCT i.slug FROM installations i JOIN tenants t ON t.id = i.tenant_id"
        " WHERE t.slug = ? AND i.status NOT IN ('uninstalled', 'cancelled') ORDER BY i.slug"
    )
    rows = _fetch(url, "installations", sql, [tenant])
    return [row[0] for row in rows]
