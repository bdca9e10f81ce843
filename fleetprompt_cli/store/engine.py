"""Opening the state store: engines, transactions and the migration policy.

The policy (docs/state-machine.md and CONTRIBUTING's "The state store"):

* SQLite stores migrate automatically on first use, under a file lock
  (``<db>.lock``) and inside one ``BEGIN IMMEDIATE`` transaction.
* PostgreSQL stores are created automatically when they hold no fleetprompt
  schema; a store at an older revision is refused until :func:`upgrade_store`
  (``fleetprompt db upgrade``) migrates it under an advisory lock.
* A store at a revision this code does not know (newer, or foreign) is
  refused: the code must be upgraded, never half-work.

Every failure to reach, lock or recognise the store is a
:class:`~fleetprompt_cli.errors.StoreUnavailable` with one readable line.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, inspect, text
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import (
    ArgumentError,
    DatabaseError,
    DBAPIError,
    InterfaceError,
    NoSuchModuleError,
    OperationalError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlmodel import Session

from fleetprompt_cli.errors import StoreUnavailable
from fleetprompt_cli.store import fastread
from fleetprompt_cli.store.drivertx import DEFAULT_BUSY_TIMEOUT, DriverTx, describe
from fleetprompt_cli.store.models import SCHEMA_HEAD, VERSION_TABLE, metadata
from fleetprompt_cli.store.schema_head import refusal
from fleetprompt_cli.walmode import begin_quickly, enable_wal

__all__ = [
    "DEFAULT_BUSY_TIMEOUT",
    "MIGRATIONS",
    "Migrations",
    "SchemaStatus",
    "Session",  # what Store.session() yields, for annotations outside store/
    "Store",
    "driver_tx",
    "open_store",
    "schema_status",
    "upgrade_store",
]

# How long a PostgreSQL migration waits for the advisory lock (another
# process migrating) or a table lock before giving up.
_PG_LOCK_TIMEOUT = 300
# pg_advisory_xact_lock key for schema migrations: b"fleetpmg" as an int64.
_PG_MIGRATION_LOCK = 0x666C656574706D67
_READONLY = "fleetprompt_readonly"


@dataclass(frozen=True)
class Migrations:
    """Where the migration scripts live and which revision the code expects."""

    script_location: Path
    head: str


MIGRATIONS = Migrations(Path(__file__).resolve().parent / "migrations", SCHEMA_HEAD)


@dataclass(frozen=True)
class SchemaStatus:
    """Where a store's schema stands relative to the code.

    ``state`` is ``current``, ``empty`` (no fleetprompt schema yet), ``older``
    (a known revision before the head), ``newer`` (a revision this code does
    not know) or ``unversioned`` (fleetprompt tables without a version).
    """

    current: str | None
    head: str
    state: str


def _safe(url: URL) -> str:
    return url.render_as_string(hide_password=True)


def _first_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    lines = [line.strip() for line in str(orig).splitlines() if line.strip()]
    return lines[0] if lines else type(orig).__name__


def _parse_url(url: str) -> URL:
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):  # (ValueError: a port that is not a number)
        raise StoreUnavailable(
            f"invalid state store URL {fastread._safe_pg(url)!r}: expected sqlite:///PATH "
            "or postgresql+psycopg://USER@HOST/DB"
        ) from None
    backend, _, driver = parsed.drivername.partition("+")
    if backend == "sqlite" and driver in ("", "pysqlite"):
        database = parsed.database or ""
        if database in ("", ":memory:") or database.startswith("file:"):
            raise StoreUnavailable(
                f"invalid state store URL {_safe(parsed)!r}: SQLite needs a file path "
                "(sqlite:///PATH)"
            )
        return parsed.set(drivername="sqlite")
    if backend in ("postgresql", "postgres") and driver in ("", "psycopg"):
        _check_options(parsed)
        # psycopg 3 is the one PostgreSQL driver we ship support for.
        return parsed.set(drivername="postgresql+psycopg")
    raise StoreUnavailable(
        f"unsupported state store URL {_safe(parsed)!r}: use sqlite:///PATH or "
        "postgresql+psycopg://USER@HOST/DB"
    )


def _check_options(url: URL) -> None:
    """Refuse a PostgreSQL URL whose query names an option libpq does not know."""
    try:
        from psycopg.conninfo import make_conninfo
    except ImportError:
        return  # _postgres_engine says psycopg is missing.
    options = {k: v if isinstance(v, str) else v[-1] for k, v in url.query.items()}
    try:
        make_conninfo("", **options)
    except Exception as exc:  # psycopg.ProgrammingError: "invalid connection option ..."
        raise StoreUnavailable(
            f"invalid state store URL {_safe(url)!r}: {_first_line(exc)}"
        ) from None


def _describe(exc: BaseException, url: URL, busy_timeout: float) -> StoreUnavailable:
    """One readable line for a driver error (no SQLAlchemy dump)."""
    return describe(_first_line(exc), url.get_backend_name(), _where(url), busy_timeout)


def _where(url: URL) -> str:
    # How messages name the store: its path (SQLite) or URL without password.
    return (url.database or "") if url.get_backend_name() == "sqlite" else _safe(url)


def _is_unavailable(exc: BaseException) -> bool:
    if isinstance(exc, OperationalError | InterfaceError | PoolTimeout):
        return True
    if type(exc) is DatabaseError:
        # The plain DatabaseError, not its IntegrityError & co.: SQLite's
        # "file is not a database" and "database disk image is malformed".
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


def _sqlite_engine(url: URL, busy_timeout: float) -> Engine:
    path = Path(url.database or "")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreUnavailable(
            f"cannot create the folder of the state store {path}: {exc.strerror}"
        ) from None
    engine = create_engine(url, connect_args={"timeout": busy_timeout})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, record: Any) -> None:
        # What driver_tx() names in its messages.
        record.info["busy_timeout"] = busy_timeout
        # Take transaction control away from pysqlite (whose implicit BEGIN is
        # deferred and skipped for SELECT and DDL): _on_begin emits our own.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
            cursor.execute("PRAGMA foreign_keys = ON")
            # WAL lets readers (search/show, progress displays) run while one
            # writer works; NORMAL sync is safe in WAL against process crashes.
            enable_wal(cursor, busy_timeout)
            cursor.execute("PRAGMA synchronous = NORMAL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        # A deferred transaction that later writes can fail at once with
        # "database is locked" (no busy wait) or act on a stale read; IMMEDIATE
        # takes the write lock up front and waits for it under busy_timeout.
        readonly = connection.get_execution_options().get(_READONLY, False)
        # A read-only transaction that wrote anyway would fail with "locked",
        # without waiting, only when another process wrote since it began: a
        # rare race.  query_only makes such a write fail every time instead.
        # The pragma is per connection: set only when it changes (the pooled
        # connection remembers it), not before every transaction.
        info = connection.connection.info
        if info.get(_READONLY) is not readonly:
            connection.exec_driver_sql(f"PRAGMA query_only = {'ON' if readonly else 'OFF'}")
            info[_READONLY] = readonly
        dbapi_connection = connection.connection.dbapi_connection
        if readonly or not begin_quickly(dbapi_connection, busy_timeout, "BEGIN IMMEDIATE"):
            # Read-only, or still locked after the quick tries: SQLite's own
            # busy handler waits (up to busy_timeout) and a failure is an
            # OperationalError like any other.
            connection.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")

    return engine


def _postgres_engine(url: URL) -> Engine:
    try:
        engine = create_engine(url, pool_pre_ping=True, connect_args={"connect_timeout": 10})
    except (ImportError, NoSuchModuleError):
        raise StoreUnavailable(
            "a PostgreSQL state store needs psycopg: pip install 'fleetprompt[postgres]'"
        ) from None

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        # As on SQLite: a read-only block can never write by mistake.
        if connection.get_execution_options().get(_READONLY, False):
            connection.exec_driver_sql("SET TRANSACTION READ ONLY")

    return engine


def _make_engine(url: URL, busy_timeout: float) -> Engine:
    if url.get_backend_name() == "sqlite":
        return _sqlite_engine(url, busy_timeout)
    return _postgres_engine(url)


def driver_tx(connection: Connection) -> DriverTx:
    """The driver connection under a Core connection, in its transaction, as a DriverTx.

    For the SQL paths (``store/install_step.py``) run inside an ORM
    session's transaction (``repository.claim_directive``).
    """
    return DriverTx(
        connection.connection.driver_connection,
        connection.dialect.name,
        _where(connection.engine.url),
        connection.connection.info.get("busy_timeout", DEFAULT_BUSY_TIMEOUT),
    )


class Store:
    """An open state store: an engine plus the transaction boundary."""

    def __init__(self, engine: Engine, url: URL, busy_timeout: float) -> None:
        self.engine = engine
        self._url = url
        self.busy_timeout = busy_timeout
        self._readonly_engine = engine.execution_options(**{_READONLY: True})

    @property
    def backend(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self._url.get_backend_name()

    @property
    def url(self) -> str:
        """The store's URL with any password hidden."""
        return _safe(self._url)

    @property
    def where(self) -> str:
        """How messages name the store: its path (SQLite) or URL without password."""
        return _where(self._url)

    @contextmanager
    def session(self, *, readonly: bool = False) -> Iterator[Session]:
        """One transaction: commits when the block ends, rolls back if it raises.

        ``readonly`` skips SQLite's write lock (``BEGIN`` instead of ``BEGIN
        IMMEDIATE``) and makes the transaction read-only in the database: a
        write inside it fails.
        """
        bind = self._readonly_engine if readonly else self.engine
        try:
            with Session(bind, expire_on_commit=False) as session:
                try:
                    yield session
                    session.commit()
                except BaseException:
                    session.rollback()
                    raise
        except Exception as exc:
            if _is_unavailable(exc):
                raise _describe(exc, self._url, self.busy_timeout) from None
            raise

    @contextmanager
    def connection(self, *, readonly: bool = False) -> Iterator[Connection]:
        """A Core connection inside one transaction (for bulk or raw SQL work)."""
        bind = self._readonly_engine if readonly else self.engine
        try:
            with bind.begin() as connection:
                yield connection
        except Exception as exc:
            if _is_unavailable(exc):
                raise _describe(exc, self._url, self.busy_timeout) from None
            raise

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.dispose()

    def __repr__(self) -> str:
        return f"Store({self.url!r})"


# -- schema revision and migration ------------------------------------------


def _read_revision(connection: Connection) -> tuple[str | None, bool]:
    """The stored schema revision and whether any fleetprompt table exists."""
    inspector = inspect(connection)
    if inspector.has_table(VERSION_TABLE):
        rows = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).all()
        if rows:
            return ",".join(sorted(row[0] for row in rows)), True
    tables = set(inspector.get_table_names())
    return None, bool(tables & set(metadata.tables))


def _alembic_config(migrations: Migrations, connection: Connection | None = None) -> Any:
    from alembic.config import Config

    config = Config()
    # configparser interpolates "%": a path containing one must be escaped.
    config.set_main_option("script_location", str(migrations.script_location).replace("%", "%%"))
    config.set_main_option("path_separator", "os")
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def _known_revisions(migrations: Migrations) -> set[str]:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(_alembic_config(migrations))
    return {s.revision for s in script.walk_revisions()}


def _classify(current: str | None, has_tables: bool, migrations: Migrations) -> SchemaStatus:
    if current == migrations.head:
        state = "current"
    elif current is None:
        state = "unversioned" if has_tables else "empty"
    elif current in _known_revisions(migrations):
        state = "older"
    else:
        state = "newer"
    return SchemaStatus(current, migrations.head, state)


def _refusal(status: SchemaStatus, where: str) -> StoreUnavailable:
    return refusal(status.state, status.current, status.head, where)


@contextmanager
def _file_lock(database: Path, timeout: float) -> Iterator[None]:
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        # Without flock the IMMEDIATE transaction still serialises migrations;
        # the loser re-reads the revision inside it and finds nothing to do.
        yield
        return
    lock_path = database.with_name(database.name + ".lock")
    deadline = time.monotonic() + timeout
    with open(lock_path, "a") as handle:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise StoreUnavailable(
                        f"another fleetprompt is migrating the state store {database} "
                        f"(waited {timeout:g} s for {lock_path})"
                    ) from None
                time.sleep(0.05)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _migrate(store: Store, migrations: Migrations, allowed: set[str]) -> SchemaStatus:
    """Migrate to the head if the state found under the lock is in ``allowed``."""
    from alembic import command

    url = store._url
    sqlite = url.get_backend_name() == "sqlite"
    lock = _file_lock(Path(url.database or ""), store.busy_timeout) if sqlite else nullcontext()
    with lock, store.connection() as connection:
        if not sqlite:
            connection.execute(text(f"SET LOCAL lock_timeout = '{_PG_LOCK_TIMEOUT}s'"))
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK}
            )
        # Re-read under the lock: another process may have migrated meanwhile.
        status = _classify(*_read_revision(connection), migrations)
        if status.state == "current":
            return status
        if status.state not in allowed:
            raise _refusal(status, store.url)
        command.upgrade(_alembic_config(migrations, connection), migrations.head)
    return status


def _status(store: Store, migrations: Migrations) -> SchemaStatus:
    with store.connection(readonly=True) as connection:
        current, has_tables = _read_revision(connection)
    if current == migrations.head:
        # The common case costs one query and never loads the scripts.
        return SchemaStatus(current, migrations.head, "current")
    return _classify(current, has_tables, migrations)


def open_store(
    url: str,
    *,
    busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
    migrations: Migrations = MIGRATIONS,
) -> Store:
    """Open the state store at ``url``, applying the migration policy, or raise StoreUnavailable."""
    parsed = _parse_url(url)
    store = Store(_make_engine(parsed, busy_timeout), parsed, busy_timeout)
    try:
        status = _status(store, migrations)
        if status.state == "current":
            return store
        if status.state in ("newer", "unversioned"):
            raise _refusal(status, store.url)
        if store.backend == "sqlite":
            _migrate(store, migrations, {"empty", "older"})
        elif status.state == "empty":
            _migrate(store, migrations, {"empty"})
        else:
            raise _refusal(status, store.url)
    except BaseException:
        store.dispose()
        raise
    return store


def upgrade_store(
    url: str,
    *,
    busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
    migrations: Migrations = MIGRATIONS,
) -> SchemaStatus:
    """Migrate the store at ``url`` to the code's head (``fleetprompt db upgrade``).

    Returns the status found before migrating; a newer or foreign schema is
    refused.  Safe to run concurrently: one process migrates, the others wait.
    """
    parsed = _parse_url(url)
    with Store(_make_engine(parsed, busy_timeout), parsed, busy_timeout) as store:
        return _migrate(store, migrations, {"empty", "older"})


def schema_status(
    url: str,
    *,
    busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
    migrations: Migrations = MIGRATIONS,
) -> SchemaStatus:
    """Where the store's schema stands (``fleetprompt db status``); changes nothing."""
    parsed = _parse_url(url)
    if parsed.get_backend_name() == "sqlite" and not Path(parsed.database or "").exists():
        # Connecting would create the file; a missing store is simply empty.
        return SchemaStatus(None, migrations.head, "empty")
    with Store(_make_engine(parsed, busy_timeout), parsed, busy_timeout) as store:
        return _status(store, migrations)
