"""SQLite between processes: switching to WAL without losing a race, and taking the write lock.

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

__all__ = ["begin_quickly", "enable_wal"]

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


# How long a writer retries its BEGIN in short steps before it leaves the
# wait to SQLite's busy handler.
QUICK_BEGIN_SECONDS = 0.25


def begin_quickly(dbapi_connection: Any, busy_timeout: float, statement: str) -> bool:
    """``statement`` (``BEGIN IMMEDIATE``/``EXCLUSIVE``), retried every 50-2000 us while locked.

    SQLite's busy handler sleeps 1, 2, 5, 10, 15... ms between its tries, so
    a writer that waits for another one's sub-millisecond transaction loses
    milliseconds: two workers sharing a store (or a queue file) were slower
    than one.  Retrying in short steps (with the handler off for the try)
    takes the lock soon after it is free.  False when the lock stayed taken
    for QUICK_BEGIN_SECONDS (or the error is not a lock): the caller then
    begins the usual way, and SQLite's handler waits up to the busy timeout.
    """
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA busy_timeout = 0")
        try:
            deadline = time.monotonic() + min(QUICK_BEGIN_SECONDS, busy_timeout)
            delay = 0.00005
            while True:
                try:
                    cursor.execute(statement)
                    return True
                except sqlite3.OperationalError as exc:
                    message = str(exc)
                    if "locked" not in message and "busy" not in message:
                        return False  # Not a lock: the usual path reports it.
                if time.monotonic() >= deadline:
                    return False
                time.sleep(delay)
                delay = min(delay * 1.5, 0.002)
        finally:
            cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
    finally:
        cursor.close()
