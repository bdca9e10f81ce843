"""A huey storage on PostgreSQL, for deployments with PostgreSQL and no Redis.

``FLEETPROMPT_QUEUE_URL=postgresql://...`` (or ``postgresql+psycopg://``)
selects it.  The wake-ups live in three tables of their own, created on first
use (``fleetprompt_queue_task``, ``_schedule``, ``_kv``; one ``queue`` column
keeps queue names apart), usually in the state store's own database: the
state store's tables are never touched here, and the store's migrations know
nothing of these.

* ``dequeue`` takes the oldest message with ``DELETE ... FOR UPDATE SKIP
  LOCKED ... RETURNING``: one statement, so every message goes to exactly one
  worker, and concurrent workers never wait on each other's rows.
* ``enqueue`` inserts and calls ``pg_notify`` in one statement (one
  transaction: the notification is sent at commit, never before the row is
  visible).  A worker whose queue is empty waits up to ``read_timeout`` on
  ``LISTEN`` instead of polling (as huey's Redis storage waits on BRPOP), so
  a wake-up is picked up at once.  A lost notification costs at most
  ``read_timeout``: the worker reads the table again either way.
* Each thread has its own autocommit connection (worker threads do not queue
  behind one lock); a connection that failed is dropped and the next call
  reconnects, so a PostgreSQL restart needs no worker restart.

Only this module of ``queue/`` imports psycopg (the import-linter contract
names it); it uses plain SQL on its own tables, no ORM.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import datetime
from typing import Any

import psycopg
from huey.constants import EmptyData
from huey.storage import BaseStorage
from psycopg import sql

__all__ = ["PostgresStorage", "conninfo"]

_TASK = "fleetprompt_queue_task"
_SCHEDULE = "fleetprompt_queue_schedule"
_KV = "fleetprompt_queue_kv"
# Serialises the CREATE TABLE IF NOT EXISTS of concurrent first users (it is
# not safe to run concurrently on PostgreSQL); any fixed 64-bit number.
_DDL_LOCK = 0x46_50_51_55_45_55_45  # "FPQUEUE"
_DDL = (
    f"CREATE TABLE IF NOT EXISTS {_TASK} ("
    " id BIGSERIAL PRIMARY KEY, queue TEXT NOT NULL, data BYTEA NOT NULL,"
    " priority DOUBLE PRECISION NOT NULL DEFAULT 0,"
    " enqueued_at TIMESTAMPTZ NOT NULL DEFAULT now())",
    f"CREATE INDEX IF NOT EXISTS {_TASK}_order ON {_TASK} (queue, priority DESC, id)",
    f"CREATE TABLE IF NOT EXISTS {_SCHEDULE} ("
    " id BIGSERIAL PRIMARY KEY, queue TEXT NOT NULL, data BYTEA NOT NULL,"
    " ts TIMESTAMP NOT NULL)",
    f"CREATE INDEX IF NOT EXISTS {_SCHEDULE}_ts ON {_SCHEDULE} (queue, ts)",
    f"CREATE TABLE IF NOT EXISTS {_KV} ("
    " queue TEXT NOT NULL, key TEXT NOT NULL, value BYTEA NOT NULL,"
    " PRIMARY KEY (queue, key))",
)


def conninfo(url: str) -> str:
    """A libpq connection URI from a queue URL (``postgresql+psycopg://`` as libpq reads it)."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.split("+", 1)[0] not in ("postgresql", "postgres"):
        raise ValueError("not a postgresql:// URL")
    return f"postgresql://{rest}"


def _key(key: Any) -> str:
    return key.decode() if isinstance(key, bytes) else str(key)


class PostgresStorage(BaseStorage):
    """huey's storage API on PostgreSQL tables (see the module docstring)."""

    blocking = True
    priority = True

    def __init__(
        self,
        name: str = "huey",
        url: str = "",
        read_timeout: float = 1.0,
        connect_timeout: int = 5,
        **kwargs: Any,
    ) -> None:
        super().__init__(name)
        self.conninfo = conninfo(url)
        self.read_timeout = read_timeout
        self.connect_timeout = connect_timeout
        # LISTEN takes an identifier; a digest keeps any queue name a valid one.
        digest = hashlib.sha256(name.encode()).hexdigest()[:16]
        self.channel = f"fleetprompt_queue_{digest}"
        self._local = threading.local()
        self._connections: list[psycopg.Connection] = []
        self._connections_lock = threading.Lock()
        self.initialize_schema()

    # -- connections ------------------------------------------------------------

    def _connect(self) -> psycopg.Connection:
        conn = psycopg.connect(
            self.conninfo,
            autocommit=True,
            connect_timeout=self.connect_timeout,
            application_name="fleetprompt-queue",
        )
        with self._connections_lock:
            self._connections.append(conn)
        return conn

    def _drop(self, conn: psycopg.Connection) -> None:
        self._local.conn = None
        self._local.listening = False
        with self._connections_lock:
            if conn in self._connections:
                self._connections.remove(conn)
        with suppress(Exception):  # Closing a broken connection may fail too.
            conn.close()

    @contextmanager
    def _conn(self) -> Iterator[psycopg.Connection]:
        conn = getattr(self._local, "conn", None)
        if conn is None or conn.closed:
            conn = self._local.conn = self._connect()
            self._local.listening = False
        try:
            yield conn
        except psycopg.Error:
            # A server restart or a network cut: reconnect on the next call.
            if conn.closed or conn.broken:
                self._drop(conn)
            raise

    def _execute(self, query: str, params: tuple = ()) -> list[tuple]:
        # Our statements are constants of this module (table names included).
        statement: Any = query
        with self._conn() as conn:
            cursor = conn.execute(statement, params)
            return cursor.fetchall() if cursor.description else []

    def close(self) -> bool:
        with self._connections_lock:
            connections, self._connections = self._connections, []
        for conn in connections:
            with suppress(Exception):
                conn.close()
        self._local = threading.local()
        return True

    def initialize_schema(self) -> None:
        with self._conn() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_DDL_LOCK,))
            for ddl in _DDL:
                statement: Any = ddl
                conn.execute(statement)

    # -- the queue ----------------------------------------------------------------

    def enqueue(self, data: bytes, priority: float | None = None) -> None:
        self._execute(
            f"WITH added AS (INSERT INTO {_TASK} (queue, data, priority)"
            " VALUES (%s, %s, %s) RETURNING id) SELECT pg_notify(%s, '') FROM added",
            (self.name, data, priority or 0.0, self.channel),
        )

    def _pop(self) -> bytes | None:
        rows = self._execute(
            f"DELETE FROM {_TASK} WHERE id = ("
            f" SELECT id FROM {_TASK} WHERE queue = %s ORDER BY priority DESC, id"
            " LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING data",
            (self.name,),
        )
        return bytes(rows[0][0]) if rows else None

    def dequeue(self) -> bytes | None:
        data = self._pop()
        if data is not None or not self.blocking or self.read_timeout <= 0:
            return data
        with self._conn() as conn:
            if not getattr(self._local, "listening", False):
                conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self.channel)))
                self._local.listening = True
                # A wake-up enqueued before LISTEN took effect sent its
                # notification to nobody: read the table once more.
                data = self._pop()
                if data is not None:
                    return data
            for _ in conn.notifies(timeout=self.read_timeout, stop_after=1):
                break
        return self._pop()

    def queue_size(self) -> int:
        rows = self._execute(
            f"SELECT count(*) FROM {_TASK} WHERE queue = %s",
            (self.name,),
        )
        return int(rows[0][0])

    def enqueued_items(self, limit: int | None = None) -> list[bytes]:
        rows = self._execute(
            f"SELECT data FROM {_TASK} WHERE queue = %s ORDER BY priority DESC, id LIMIT %s",
            (self.name, limit),
        )
        return [bytes(r[0]) for r in rows]

    def flush_queue(self) -> None:
        self._execute(f"DELETE FROM {_TASK} WHERE queue = %s", (self.name,))

    def oldest_age(self) -> float | None:
        """Seconds the oldest queued message has waited (None: the queue is empty)."""
        rows = self._execute(
            f"SELECT extract(epoch FROM now() - min(enqueued_at)) FROM {_TASK} WHERE queue = %s",
            (self.name,),
        )
        return None if rows[0][0] is None else float(rows[0][0])

    # -- the schedule (delayed retries) ---------------------------------------------

    def add_to_schedule(self, data: bytes, ts: datetime) -> None:
        self._execute(
            f"INSERT INTO {_SCHEDULE} (queue, data, ts) VALUES (%s, %s, %s)",
            (self.name, data, ts.replace(tzinfo=None)),
        )

    def read_schedule(self, ts: datetime) -> list[bytes]:
        rows = self._execute(
            f"DELETE FROM {_SCHEDULE} WHERE queue = %s AND ts <= %s RETURNING data, ts, id",
            (self.name, ts.replace(tzinfo=None)),
        )
        return [bytes(r[0]) for r in sorted(rows, key=lambda r: (r[1], r[2]))]

    def schedule_size(self) -> int:
        rows = self._execute(
            f"SELECT count(*) FROM {_SCHEDULE} WHERE queue = %s",
            (self.name,),
        )
        return int(rows[0][0])

    def scheduled_items(self, limit: int | None = None) -> list[bytes]:
        rows = self._execute(
            f"SELECT data FROM {_SCHEDULE} WHERE queue = %s ORDER BY ts, id LIMIT %s",
            (self.name, limit),
        )
        return [bytes(r[0]) for r in rows]

    def flush_schedule(self) -> None:
        self._execute(f"DELETE FROM {_SCHEDULE} WHERE queue = %s", (self.name,))

    # -- key/value data (locks, revocations; results are off) ---------------------------

    def put_data(self, key: Any, value: bytes, is_result: bool = False) -> None:
        self._execute(
            f"INSERT INTO {_KV} (queue, key, value) VALUES (%s, %s, %s)"
            " ON CONFLICT (queue, key) DO UPDATE SET value = EXCLUDED.value",
            (self.name, _key(key), value),
        )

    def peek_data(self, key: Any) -> Any:
        rows = self._execute(
            f"SELECT value FROM {_KV} WHERE queue = %s AND key = %s",
            (self.name, _key(key)),
        )
        return bytes(rows[0][0]) if rows else EmptyData

    def pop_data(self, key: Any) -> Any:
        rows = self._execute(
            f"DELETE FROM {_KV} WHERE queue = %s AND key = %s RETURNING value",
            (self.name, _key(key)),
        )
        return bytes(rows[0][0]) if rows else EmptyData

    def has_data_for_key(self, key: Any) -> bool:
        return self.peek_data(key) is not EmptyData

    def put_if_empty(self, key: Any, value: bytes, ttl: float | None = None) -> bool:
        if ttl is not None:
            raise NotImplementedError("ttl is not supported by the PostgreSQL queue")
        rows = self._execute(
            f"INSERT INTO {_KV} (queue, key, value) VALUES (%s, %s, %s)"
            " ON CONFLICT (queue, key) DO NOTHING RETURNING 1",
            (self.name, _key(key), value),
        )
        return bool(rows)

    def incr(self, key: Any, amount: int = 1) -> int:
        rows = self._execute(
            f"INSERT INTO {_KV} (queue, key, value) VALUES (%s, %s, %s)"
            " ON CONFLICT (queue, key) DO UPDATE SET value ="
            f" convert_to((convert_from({_KV}.value, 'UTF8')::bigint + %s)::text, 'UTF8')"
            " RETURNING convert_from(value, 'UTF8')::bigint",
            (self.name, "counter:" + _key(key), str(amount).encode(), amount),
        )
        return int(rows[0][0])

    def delete_counter(self, key: Any) -> None:
        self._execute(
            f"DELETE FROM {_KV} WHERE queue = %s AND key = %s",
            (self.name, "counter:" + _key(key)),
        )

    def result_store_size(self) -> int:
        return len(self.result_items())

    def result_items(self) -> dict[str, bytes]:
        rows = self._execute(
            f"SELECT key, value FROM {_KV} WHERE queue = %s AND key NOT LIKE 'counter:%%'",
            (self.name,),
        )
        return {r[0]: bytes(r[1]) for r in rows}

    def flush_results(self) -> None:
        self._execute(
            f"DELETE FROM {_KV} WHERE queue = %s AND key NOT LIKE 'counter:%%'",
            (self.name,),
        )

    def flush_counters(self) -> None:
        self._execute(
            f"DELETE FROM {_KV} WHERE queue = %s AND key LIKE 'counter:%%'",
            (self.name,),
        )
