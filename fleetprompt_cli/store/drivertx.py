"""A transaction on a driver connection, and what its errors mean (no ORM).

:class:`DriverTx` is what the SQL paths (``store/submit_sql.py``,
``store/install_step.py``) run on, whichever store gave it
(``store/driverstore.py``); :func:`unavailable` turns a driver error that
means the store cannot be used into :class:`StoreUnavailable`, in the
words the ORM store uses too (``store/engine.py``).
"""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from fleetprompt_cli.errors import StoreUnavailable

__all__ = ["DEFAULT_BUSY_TIMEOUT", "DriverTx", "describe", "mapped", "unavailable"]

# How long a SQLite writer waits for another writer before giving up.
DEFAULT_BUSY_TIMEOUT = 30.0


@dataclass(frozen=True)
class DriverTx:
    """One write transaction on a driver connection (``sqlite3`` or ``psycopg``)."""

    driver: Any
    backend: str
    # How messages name the store: its path (SQLite) or URL without password.
    where: str
    busy_timeout: float

    @property
    def sqlite(self) -> bool:
        return self.backend == "sqlite"


def describe(detail: str, backend: str, where: str, busy_timeout: float) -> StoreUnavailable:
    """One readable line for a store that cannot be used (the engine's words too)."""
    if backend == "sqlite":
        if "locked" in detail or "busy" in detail:
            return StoreUnavailable(
                f"the state store {where} is locked by another process "
                f"(waited {busy_timeout:g} s); try again when it has finished"
            )
        return StoreUnavailable(f"cannot use the state store {where}: {detail}")
    if detail.startswith("connection failed") or "could not connect" in detail:
        # Only a refused or timed-out connection suggests a server that is down.
        down = "refused" in detail.lower() or "timeout" in detail.lower()
        hint = " (is PostgreSQL running there?)" if down else ""
        return StoreUnavailable(f"cannot connect to the state store at {where}{hint}: {detail}")
    return StoreUnavailable(f"cannot use the state store at {where}: {detail}")


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def unavailable(exc: BaseException, tx: DriverTx) -> StoreUnavailable | None:
    """The StoreUnavailable a driver error means; None for any other error."""
    if isinstance(exc, sqlite3.Error):
        # Locked, I/O, gone; the plain DatabaseError is "file is not a
        # database" or "disk image is malformed" (not its IntegrityError & co.).
        if not isinstance(exc, sqlite3.OperationalError) and type(exc) is not sqlite3.DatabaseError:
            return None
    else:
        psycopg = sys.modules.get("psycopg")
        if psycopg is None or not isinstance(
            exc, psycopg.OperationalError | psycopg.InterfaceError
        ):
            return None
    return describe(_first_line(exc), tx.backend, tx.where, tx.busy_timeout)


@contextmanager
def mapped(tx: DriverTx) -> Iterator[None]:
    """Raise a driver error of the block that means the store is unusable as StoreUnavailable."""
    try:
        yield
    except Exception as exc:
        mapped = unavailable(exc, tx)
        if mapped is None:
            raise
        raise mapped from None
