"""Switching a SQLite database to WAL without losing a race to another process.

SQLite answers "database is locked" at once, without calling the busy
handler, when a connection asks for WAL while another connection writes to
the database in rollback-journal mode: exactly what happens when two
processes use a new state store or catalog for the first time together. The
switch is retried here for up to the caller's busy timeout instead (huey's
SQLite storage does the same for the queue file).
"""

from __future__ import annotations

import sqlite3
import time
from typing import Any

__all__ = ["enable_wal"]

# How a connection waits before retrying the switch (a test hook).
_pause = time.sleep


def enable_wal(cursor: Any, timeout: float) -> None:
    """Run ``PRAGMA journal_mode = WAL`` on ``cursor``, retrying while locked."""
    deadline = time.monotonic() + timeout
    delay = 0.001
    while True:
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
        _pause(delay)
        delay = min(delay * 2, 0.05)
