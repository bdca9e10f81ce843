"""Helpers the repository modules share: clocks, the dialect's upsert, stats counters."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlmodel import Session

from fleetprompt_cli.store.models import PackageStats
from fleetprompt_cli.store.records import aware_now as _now


def database_now(session: Session) -> datetime:
    """The database's clock (``CURRENT_TIMESTAMP``), timezone-aware UTC.

    Lease expiry, heartbeats and the claim grace are measured with it, so
    every process that shares the store agrees on them, whatever its own
    clock says.  (On PostgreSQL this is the transaction's start time.)
    """
    if session.get_bind().dialect.name == "postgresql":
        value = session.connection().execute(text("SELECT CURRENT_TIMESTAMP")).scalar_one()
        return value.astimezone(UTC)
    # SQLite runs in this process: its clock ('now') is this host's system
    # clock, read here without a round trip, at SQLite's millisecond
    # precision.  (Never the store's utcnow, which a test may skew.)  A
    # SQLite store is shared only by processes of one host (WAL needs it).
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def _lease_now(session: Session, now: datetime | None) -> datetime:
    return _now(now) if now is not None else database_now(session)


def _insert(session: Session) -> Any:
    # ON CONFLICT upserts are spelled the same on both backends but live in
    # each dialect's own insert construct.
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert
    from sqlalchemy.dialects import sqlite

    return sqlite.insert


_STAT_COUNTERS = ("install_count", "active_install_count", "rating_sum", "rating_count")
# The stats upsert, built once per dialect (its ``excluded`` is costly to build).
_STAT_UPSERTS: dict[str, Any] = {}


def _bump_stats(session: Session, slug: str, **deltas: int) -> None:
    """Add ``deltas`` to a package's counters atomically (creating its row)."""
    bump_stats_on(session.connection(), slug, **deltas)


def bump_stats_on(connection: Connection, slug: str, **deltas: int) -> None:
    """:func:`_bump_stats` on a Core connection (the installer's fast path)."""
    dialect = connection.dialect.name
    stmt = _STAT_UPSERTS.get(dialect)
    if stmt is None:
        table = PackageStats.__table__  # type: ignore[attr-defined]
        insert: Any
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        stmt = insert(table)
        stmt = stmt.on_conflict_do_update(
            index_elements=["slug"],
            set_={name: table.c[name] + getattr(stmt.excluded, name) for name in _STAT_COUNTERS},
        )
        _STAT_UPSERTS[dialect] = stmt
    values = {name: deltas.get(name, 0) for name in _STAT_COUNTERS}
    connection.execute(stmt, {"slug": slug, **values})
