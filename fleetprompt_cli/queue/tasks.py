"""huey tasks under fixed names: adapters that call what the worker hands them.

Only this module (and :mod:`fleetprompt_cli.queue.consumer`) import huey, and
only when a queue is actually used: the CLI's fast paths never get here.

Messages are JSON, not pickle.  A wake-up is ``(task name, tenant id,
directive id)`` and nothing more, so whoever can write to a shared Redis can
at worst make a worker look at a directive the store already holds; with
huey's default pickle serializer they could run code in every worker.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from fleetprompt_cli.errors import StoreUnavailable
from fleetprompt_cli.queue import TASK_DISPATCH, TASK_RUN, TASK_SWEEP
from fleetprompt_cli.settings import DEFAULT_QUEUE_NAME as SETTINGS_QUEUE_NAME
from fleetprompt_cli.settings import Settings, queue_backend, safe_url
from fleetprompt_cli.settings import queue_name as settings_queue_name
from fleetprompt_cli.walmode import begin_quickly

__all__ = [
    "DEFAULT_QUEUE_NAME",
    "enqueue_dispatch",
    "enqueue_run",
    "enqueue_sweep",
    "huey_for",
    "json_serializer",
    "queue_name",
    "set_handlers",
]

DEFAULT_QUEUE_NAME = SETTINGS_QUEUE_NAME
# A wake-up that cannot reach the store (it is down) is retried by huey this
# many times; the directive itself is safe in the store either way.
RUN_RETRIES = 2
RUN_RETRY_DELAY = 2
_TASK_NAMES = frozenset({TASK_RUN, TASK_SWEEP, TASK_DISPATCH})

# What the tasks call: set by the running worker (fleetprompt_cli.actions.worker).
_handlers: dict[str, Callable[..., Any] | None] = {"run": None, "sweep": None, "dispatch": None}
_handlers_lock = threading.Lock()


def set_handlers(
    run: Callable[[int, str], Any] | None,
    sweep: Callable[[], Any] | None,
    dispatch: Callable[[int], Any] | None = None,
) -> None:
    """Hand the tasks what a wake-up (tenant id, directive id), a sweep and a
    signal dispatch (tenant id) call."""
    with _handlers_lock:
        _handlers["run"] = run
        _handlers["sweep"] = sweep
        _handlers["dispatch"] = dispatch


def _handler(name: str) -> Callable[..., Any]:
    with _handlers_lock:
        handler = _handlers[name]
    if handler is None:
        raise StoreUnavailable(
            f"no worker runs in this process to take a {name} task: use 'fleetprompt worker'"
        )
    return handler


def queue_name() -> str:
    """The huey queue name (FLEETPROMPT_QUEUE_NAME): Redis key prefix, SQLite queue column."""
    return settings_queue_name()


def _sqlite_path(url: str) -> str:
    return url.removeprefix("sqlite:///")


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def _time(value: Any) -> str | None:
    return None if value is None else value.isoformat()


def _parse_time(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def _json_serializer_class() -> type:
    from huey.registry import Message
    from huey.serializer import Serializer

    class JsonSerializer(Serializer):
        """huey messages as JSON: only our flat tasks, ids as arguments."""

        def _serialize(self, data: Any) -> bytes:
            if not isinstance(data, Message):
                raise TypeError("the fleetprompt queue carries task messages only")
            if data.on_complete or data.on_error or data.chord_config:
                raise TypeError("the fleetprompt queue does not carry pipelines or chords")
            document = {
                "id": data.id,
                "name": data.name,
                "eta": _time(data.eta),
                "retries": data.retries,
                "retry_delay": data.retry_delay,
                "priority": data.priority,
                "args": list(data.args or ()),
                "kwargs": dict(data.kwargs or {}),
                "expires": data.expires,
                "expires_resolved": _time(data.expires_resolved),
                "timeout": data.timeout,
                "retry_backoff": data.retry_backoff,
            }
            return json.dumps(document, separators=(",", ":")).encode()

        def _deserialize(self, data: bytes) -> Any:
            document = json.loads(data)
            name = document.get("name", "")
            # huey's registry names a task "module.name"; ours end with a fixed name.
            if not any(name == n or name.endswith("." + n) for n in _TASK_NAMES):
                raise ValueError(f"not a fleetprompt task: {name!r}")
            return Message(
                document["id"],
                name,
                _parse_time(document.get("eta")),
                document.get("retries") or 0,
                document.get("retry_delay") or 0,
                document.get("priority"),
                tuple(document.get("args") or ()),
                dict(document.get("kwargs") or {}),
                None,
                None,
                document.get("expires"),
                _parse_time(document.get("expires_resolved")),
                document.get("timeout"),
                None,
                document.get("retry_backoff") or 0,
            )

    return JsonSerializer


def json_serializer() -> Any:
    """A JSON serializer for huey (the class is built here so huey loads only when used)."""
    return _json_serializer_class()()


@functools.cache
def _sqlite_storage() -> type:
    """huey's SQLite storage with ``synchronous=NORMAL`` (WAL) instead of FULL.

    huey offers FULL (an fsync per enqueue and per dequeue) or OFF (which
    can corrupt the file on power loss).  NORMAL under WAL never corrupts
    it; a power loss may forget the last wake-ups, and a wake-up carries
    nothing the store does not have: the sweep finds its directive.
    """
    from huey.storage import SqliteStorage

    class Storage(SqliteStorage):
        def _create_connection(self) -> sqlite3.Connection:
            conn = super()._create_connection()
            conn.execute("pragma synchronous=NORMAL")
            return conn

        @contextlib.contextmanager
        def db(self, commit: bool = False, close: bool = False) -> Iterator[Any]:
            # huey's own, but its BEGIN EXCLUSIVE waits for another process's
            # enqueue or dequeue in short steps (walmode.begin_quickly), not
            # in SQLite's millisecond sleeps.
            if not commit:
                with super().db(commit, close) as cursor:
                    yield cursor
                return
            with self.lock:
                conn = self.conn
                if not begin_quickly(conn, self._timeout, self.begin_sql):
                    conn.execute(self.begin_sql)
                cursor = conn.cursor()
                try:
                    yield cursor
                except Exception:
                    conn.rollback()
                    raise
                else:
                    conn.commit()
                finally:
                    cursor.close()
                    if close:
                        conn.close()
                        self._conn = None

    return Storage


@functools.cache
def _huey_class() -> type:
    """huey without task revocation, which fleetprompt never uses.

    huey reads a task's revocation keys before running it and deletes its
    own afterwards: two more queue operations per wake-up (a write
    transaction each on a SQLite queue).  A wake-up is never revoked here: a
    directive is cancelled in the store, and a wake-up for it then does nothing.
    """
    from huey import Huey

    class NoRevokeHuey(Huey):
        def is_revoked(self, task: Any, timestamp: Any = None, peek: bool = True) -> bool:
            return False

        def delete(self, key: Any) -> Any:
            # Only _execute deletes, and only the task's revocation key ("r:<id>").
            if isinstance(key, str) and key.startswith("r:"):
                return False
            return super().delete(key)

        def revoke(self, *args: Any, **kwargs: Any) -> Any:
            raise TypeError("fleetprompt wake-ups are not revoked: cancel the directive")

        revoke_all = revoke_by_id = revoke

    return NoRevokeHuey


@functools.cache
def _huey(queue_url: str, name: str) -> Any:

    backend = queue_backend(queue_url)  # An unusable URL: InvalidInput naming the variable.
    # results=False: the state store keeps the results; a wake-up carries ids only.
    options = {
        "results": False,
        "store_none": False,
        "store_intermediate_errors": False,
        "utc": True,
        "serializer": json_serializer(),
    }
    Huey = _huey_class()
    if backend == "redis":
        from huey.storage import RedisStorage

        huey = Huey(name, storage_class=RedisStorage, url=queue_url, **options)
    elif backend == "postgres":
        from fleetprompt_cli.queue.pgstorage import PostgresStorage

        try:
            huey = Huey(name, storage_class=PostgresStorage, url=queue_url, **options)
        except Exception as exc:  # psycopg.Error: down, refused, no such database.
            raise StoreUnavailable(
                f"cannot use the installer queue {safe_url(queue_url)}: {_first_line(exc)}"
            ) from None
    else:
        path = _sqlite_path(queue_url)
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        # huey's default 5 s busy timeout is short for a queue shared by a CLI
        # and several worker processes on a slow disk.
        try:
            huey = Huey(name, storage_class=_sqlite_storage(), filename=path, timeout=30, **options)
        except sqlite3.DatabaseError as exc:  # "file is not a database"
            raise StoreUnavailable(f"cannot use the installer queue {path}: {exc}") from None
    _register(huey)
    return huey


def huey_for(settings: Settings) -> Any:
    """The (cached) huey instance of the settings' queue URL and queue name."""
    return _huey(settings.queue_url, queue_name())


def _register(huey: Any) -> None:
    @huey.task(name=TASK_RUN, retries=RUN_RETRIES, retry_delay=RUN_RETRY_DELAY)
    def run_directive_task(tenant_id: int, directive_id: str) -> None:
        _handler("run")(int(tenant_id), str(directive_id))

    @huey.task(name=TASK_SWEEP)
    def sweep_task() -> None:
        _handler("sweep")()

    @huey.task(name=TASK_DISPATCH)
    def dispatch_task(tenant_id: int) -> None:
        _handler("dispatch")(int(tenant_id))

    huey.fleetprompt_run = run_directive_task
    huey.fleetprompt_sweep = sweep_task
    huey.fleetprompt_dispatch = dispatch_task


def enqueue_run(settings: Settings, tenant_id: int, directive_id: str) -> None:
    """Put a wake-up for (tenant, directive) on the queue."""
    huey = huey_for(settings)
    huey.fleetprompt_run(tenant_id, directive_id)


def enqueue_dispatch(settings: Settings, tenant_id: int) -> None:
    """Put a signal-dispatch wake-up for a tenant on the queue."""
    huey_for(settings).fleetprompt_dispatch(tenant_id)


def enqueue_sweep(settings: Settings) -> None:
    """Ask some worker to sweep for expired leases (e.g. from cron)."""
    huey_for(settings).fleetprompt_sweep()
