"""The state store on its plain drivers: the install path without the ORM.

One ``install --yes`` spent more time importing SQLAlchemy, sqlmodel and the
models (~0.5-1 s on the CI machine) than resolving, writing and installing
together, although every statement it runs is already plain SQL on the
driver's cursor (``store/submit_sql.py`` writes the directive,
``store/install_step.py`` claims it and writes a fresh install).  A
:class:`DriverStore` runs those statements on a connection of its own:
``sqlite3`` (with the pragmas and ``BEGIN IMMEDIATE`` of the engine's
connections) or ``psycopg``, one per thread.  Everything else, the general
installer, every ORM use case, goes to the ORM store, opened the first time
it is asked for (:attr:`DriverStore.orm`), so a DriverStore can stand
wherever a :class:`~fleetprompt_cli.store.engine.Store` is used.

Opening checks the schema revision first, as the fast reader does
(``store/fastread.py``): a store that is missing, empty, unreadable or at
another revision than SCHEMA_HEAD raises :class:`fastread.Fallback`, and the
caller opens the ORM store, which creates, migrates or refuses it with its
usual message and exit code.

:func:`driver_transaction` gives the same :class:`DriverTx` over either
kind of store, so the SQL paths take one type.  A driver error that means
the store cannot be used (a server gone, a lock held past the busy
timeout, a file that is not a database) is :class:`StoreUnavailable` with
the engine's words; any other error (a constraint, a bug) passes through.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from fleetprompt_cli.errors import StoreUnavailable
from fleetprompt_cli.store import fastread
from fleetprompt_cli.store.drivertx import DEFAULT_BUSY_TIMEOUT, DriverTx, mapped
from fleetprompt_cli.walmode import begin_quickly, enable_wal

if TYPE_CHECKING:
    from fleetprompt_cli.store.engine import Session, Store

__all__ = ["IDLE_CHECK_SECONDS", "DriverStore", "driver_transaction", "open_driver_store"]

# A PostgreSQL connection unused this long is checked before it is used
# again (SQLAlchemy's pool_pre_ping checks on every checkout).
IDLE_CHECK_SECONDS = 10.0


@contextmanager
def driver_transaction(store: Store | DriverStore) -> Iterator[DriverTx]:
    """One write transaction of either kind of store, as a :class:`DriverTx`.

    Commits when the block ends, rolls back if it raises.  On the ORM store
    it is the store's own transaction (``Store.connection``: SQLite's
    ``BEGIN IMMEDIATE`` on a pooled connection) and its driver connection.
    """
    if isinstance(store, DriverStore):
        with store.transaction() as tx:
            yield tx
        return
    with store.connection() as connection:
        tx = DriverTx(
            connection.connection.driver_connection,
            store.backend,
            store.where,
            store.busy_timeout,
        )
        with mapped(tx):
            yield tx


class DriverStore:
    """The state store at SCHEMA_HEAD on driver connections, the ORM store behind it."""

    def __init__(self, url: str, backend: str, where: str, busy_timeout: float) -> None:
        self._url = url
        self.backend = backend
        self.where = where
        self.busy_timeout = busy_timeout
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: list[Any] = []
        self._orm: Store | None = None

    @property
    def url(self) -> str:
        """The store's URL with any password hidden."""
        if self.backend == "sqlite":
            return f"sqlite:///{self.where}"
        return self.where

    # -- driver connections -----------------------------------------------------

    def _open(self) -> Any:
        if self.backend == "sqlite":
            connection = sqlite3.connect(
                self.where,
                timeout=self.busy_timeout,
                isolation_level=None,
                # Each thread has its own (self._local); dispose() closes all.
                check_same_thread=False,
            )
            cursor = connection.cursor()
            try:
                # As the engine's connections (store/engine.py _sqlite_engine).
                cursor.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
                cursor.execute("PRAGMA foreign_keys = ON")
                enable_wal(cursor, self.busy_timeout)
                cursor.execute("PRAGMA synchronous = NORMAL")
            finally:
                cursor.close()
            return connection
        import psycopg

        conninfo = urlunsplit(("postgresql", *urlsplit(self._url)[1:]))
        return psycopg.connect(conninfo, connect_timeout=fastread._CONNECT_TIMEOUT)

    def _connect(self) -> Any:
        connection = self._open()
        with self._lock:
            self._connections.append(connection)
        return connection

    def _connection(self) -> Any:
        connection = getattr(self._local, "connection", None)
        now = time.monotonic()
        if (
            connection is not None
            and self.backend == "postgresql"
            and now - getattr(self._local, "used_at", now) > IDLE_CHECK_SECONDS
        ):
            # Idle for a while (a worker between bursts): the server may have
            # restarted or dropped it meanwhile.  One round trip says; a dead
            # connection is replaced now rather than failing the next work.
            try:
                connection.execute("SELECT 1")
                connection.rollback()
            except Exception:
                self._drop(connection)
                connection = None
        self._local.used_at = now
        if connection is None:
            tx = DriverTx(None, self.backend, self.where, self.busy_timeout)
            with mapped(tx):
                connection = self._connect()
            self._local.connection = connection
        return connection

    def _drop(self, connection: Any) -> None:
        # A connection that broke is not used again: the next one is new.
        self._local.connection = None
        with self._lock:
            if connection in self._connections:
                self._connections.remove(connection)
        with suppress(Exception):
            connection.close()

    @contextmanager
    def transaction(self) -> Iterator[DriverTx]:
        """One write transaction (SQLite: ``BEGIN IMMEDIATE``); commits when the block ends."""
        connection = self._connection()
        tx = DriverTx(connection, self.backend, self.where, self.busy_timeout)
        with mapped(tx):
            sqlite = self.backend == "sqlite"
            if sqlite and not begin_quickly(connection, self.busy_timeout, "BEGIN IMMEDIATE"):
                connection.execute("BEGIN IMMEDIATE")  # SQLite's busy handler waits.
            try:
                yield tx
                connection.commit()
            except BaseException:
                with suppress(Exception):
                    connection.rollback()
                if getattr(connection, "broken", False) or getattr(connection, "closed", False):
                    self._drop(connection)  # (psycopg's: a server gone.)
                raise

    @contextmanager
    def reader(self) -> Iterator[fastread.Reader]:
        """A fast Reader over this thread's connection, in one read-only snapshot.

        SQLite: ``BEGIN`` ... ``ROLLBACK``; PostgreSQL: each SELECT in its
        own transaction (autocommit), as ``submit_sql.pooled_reader``.
        Only the fast reader's SELECTs are sent on it.
        """
        connection = self._connection()
        reader = fastread.Reader(connection, self.backend, self.where)
        if self.backend == "sqlite":
            reader.rows("BEGIN")
            try:
                yield reader
            finally:
                with suppress(Exception):
                    connection.rollback()
            return
        connection.autocommit = True
        try:
            yield reader
        finally:
            try:
                connection.autocommit = False
            except Exception:
                self._drop(connection)

    # -- the ORM store behind it -------------------------------------------------

    @property
    def orm(self) -> Store:
        """The ORM store on the same database, opened on first use."""
        if self._orm is None:
            from fleetprompt_cli.store.engine import open_store

            self._orm = open_store(self._url, busy_timeout=self.busy_timeout)
        return self._orm

    def open_orm(self) -> Store:
        """Open the ORM store now (a long-lived process: not in the middle of its work)."""
        return self.orm

    @property
    def engine(self) -> Any:
        return self.orm.engine

    @contextmanager
    def session(self, *, readonly: bool = False) -> Iterator[Session]:
        with self.orm.session(readonly=readonly) as session:
            yield session

    @contextmanager
    def connection(self, *, readonly: bool = False) -> Iterator[Any]:
        with self.orm.connection(readonly=readonly) as connection:
            yield connection

    def dispose(self) -> None:
        """Close every driver connection and the ORM store's pool."""
        with self._lock:
            connections, self._connections = self._connections, []
        for connection in connections:
            with suppress(Exception):
                connection.close()
        self._local = threading.local()
        if self._orm is not None:
            self._orm.dispose()
            self._orm = None

    def __enter__(self) -> DriverStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.dispose()

    def __repr__(self) -> str:
        return f"DriverStore({self.url!r})"


def open_driver_store(url: str, *, busy_timeout: float = DEFAULT_BUSY_TIMEOUT) -> DriverStore:
    """A DriverStore on a store at SCHEMA_HEAD, or :class:`fastread.Fallback`.

    Fallback when the ORM store must open it: a missing SQLite file, no
    schema, another revision, a store that cannot be reached or read, or no
    psycopg for PostgreSQL (the ORM store then says so in its words).
    """
    scheme = url.split(":", 1)[0].lower()
    backend, _, driver = scheme.partition("+")
    if backend == "sqlite" and driver in ("", "pysqlite"):
        path = fastread._sqlite_path(url)
        if str(path) in ("", ":memory:") or str(path).startswith("file:"):
            raise fastread.Fallback("unreadable")
        if not path.is_file():
            raise fastread.Fallback("missing")
        store = DriverStore(url, "sqlite", str(path), busy_timeout)
    elif backend in ("postgresql", "postgres") and driver in ("", "psycopg"):
        try:
            import psycopg  # noqa: F401
        except ImportError:
            raise fastread.Fallback("unreadable") from None
        store = DriverStore(url, "postgresql", fastread._safe_pg(url), busy_timeout)
    else:
        raise fastread.Fallback("unreadable")
    try:
        connection = store._connection()
        reader = fastread.Reader(connection, store.backend, store.where)
        try:
            state = fastread._classify(fastread._revision(reader))
        finally:
            if store.backend == "postgresql":
                connection.rollback()
    except StoreUnavailable as exc:
        store.dispose()
        raise fastread.Fallback("unreadable", detail=exc.message) from None
    except Exception as exc:
        store.dispose()
        if isinstance(exc, ValueError) or fastread._is_driver_error(exc):
            # A URL the driver refuses (an unknown option, a bad port): the
            # ORM store names it, in its words.
            raise fastread.Fallback("unreadable", detail=fastread._first_line(exc)) from None
        raise
    except BaseException:
        store.dispose()
        raise
    if state != "current":
        store.dispose()
        raise fastread.Fallback(state)
    return store
