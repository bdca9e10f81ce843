"""The enqueue path: a preview's reads and a submit's writes on one pooled connection each.

``install --no-wait`` (and ``bench/install_bench.py``, thousands of times)
pays for ``preview_install`` + ``submit`` per directive.  Through the ORM
that was ~15 statements' worth of SQLAlchemy overhead, four flushes and a
session per read; here (``bench/enqueue_bench.py`` measures it):

* **Reads** (the preview's tenant state, and the re-check under the tenant
  lock) go through the fast reader's functions (:mod:`store.fastread`: the
  same SQL, rows and decoding as the read commands) on the driver
  connection of a pooled connection, so no connection is opened and no
  schema check is repeated (``open_store`` checked it).
* **Writes** run in the store's own write transaction
  (``driverstore.driver_transaction``: the ORM store's or a DriverStore's;
  SQLite's ``BEGIN IMMEDIATE``, the engine's error messages), as SQL on the
  same driver connection, each statement built once from column lists
  written out here (``tests/store/test_driverstore.py`` checks them against
  the models) and bound as the models' column types bind (JSON, UTC times).  Even Core
  statements cost more to execute than SQLite takes to run them.  Per
  directive: the directive, its steps (one executemany), and per planned
  package either one ``INSERT ... ON CONFLICT DO NOTHING RETURNING id`` of
  a new ``queued`` row with its ``plan`` revision or one guarded ``UPDATE``
  of the live row; on PostgreSQL each parent and its children are one
  statement (a data-modifying CTE), to save round trips.

The functions mirror the repository functions of the same names
(``lock_tenant``, ``list_installations``, ``leaving_slugs``,
``create_directive``, ``plan_installation``): same arguments after the
first (a :class:`Transaction` instead of a Session), same rows written, so
``actions.preview`` runs one body over either (``tests/store/test_submit_sql.py``
writes the same plans both ways and compares every row).  The race
guarantees are the repository's, held by the database instead of by a
``SELECT ... FOR UPDATE`` first: the partial unique index refuses a second
live row (``ON CONFLICT DO NOTHING`` returns no id: busy), and the update of
an existing row names, in its WHERE, the state it was planned from (no
rows: busy).
"""

from __future__ import annotations

import functools
import json
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import chain
from typing import TYPE_CHECKING, Any

from fleetprompt_cli.core import lifecycle
from fleetprompt_cli.core.configs import config_changes
from fleetprompt_cli.core.names import canonical_slug
from fleetprompt_cli.core.vocab import DIRECTIVE_KINDS, STEP_ACTIONS
from fleetprompt_cli.errors import InvalidInput, NotFound
from fleetprompt_cli.store import fastread
from fleetprompt_cli.store.driverstore import DriverStore, driver_transaction
from fleetprompt_cli.store.drivertx import DriverTx, unavailable
from fleetprompt_cli.store.fastread import InstallationRow, Reader, TenantRow
from fleetprompt_cli.store.records import StepSpec
from fleetprompt_cli.store.records import aware_now as _now

if TYPE_CHECKING:
    from fleetprompt_cli.store.engine import Store

__all__ = [
    "NewDirective",
    "StepSpec",
    "Transaction",
    "create_directive",
    "leaving_slugs",
    "list_installations",
    "lock_tenant",
    "plan_installation",
    "pooled_reader",
    "transaction",
]

# The live statuses a new plan may start from: not changing, not finished
# (lifecycle.changing without a pending version; the guarded UPDATE below
# also requires ``pending_version IS NULL``, its other half).
_STEADY = tuple(
    s for s in lifecycle.STATUSES if lifecycle.is_live(s) and not lifecycle.changing(s, None)
)
# The partial unique index that keeps one live row per (tenant, slug): its
# predicate, as the models (and the migration) spell it.
_LIVE_PREDICATE = "status NOT IN ('uninstalled', 'cancelled')"
# The columns each INSERT states (every column but a generated integer id:
# a directive's id is a uuid the caller makes), as the ORM's INSERT does.
# tests/store/test_submit_sql.py checks them against the models.
_COLUMNS = {
    "directives": (
        "id", "tenant_id", "actor", "created_at", "kind", "command", "arguments", "plan",
        "atomic", "status", "lease_owner", "lease_expires_at", "heartbeat_at", "attempts",
        "error", "error_kind", "finished_at",
    ),
    "directive_steps": (
        "tenant_id", "directive_id", "position", "slug", "version", "action",
        "installation_id", "status", "attempts", "error_message", "started_at", "finished_at",
    ),
    "revisions": (
        "tenant_id", "installation_id", "directive_id", "actor", "at", "transition",
        "from_status", "to_status", "from_version", "to_version", "config_diff",
    ),
    "installations": (
        "tenant_id", "slug", "version", "revision", "pending_version", "pending_config",
        "status", "previous_status", "config", "requested", "error_message", "installed_at",
        "created_at", "updated_at",
    ),
}  # fmt: skip
# How each column is bound (the models' column types, by name: one meaning
# per name): JSON, and models.UTCDateTime.  Checked against the models too.
_JSON_COLUMNS = frozenset({"arguments", "config", "config_diff", "pending_config", "plan"})
_TIME_COLUMNS = frozenset(
    {
        "at", "created_at", "finished_at", "heartbeat_at", "installed_at",
        "lease_expires_at", "started_at", "updated_at",
    }
)  # fmt: skip


def _insert_sql(table: str, *, returning: bool = False, conflict: str = "") -> tuple[str, tuple]:
    """``INSERT INTO table (its columns) VALUES (?, ...)``."""
    columns = _COLUMNS[table]
    sql = (
        f"INSERT INTO {table} ({', '.join(columns)})"
        f" VALUES ({', '.join('?' for _ in columns)}){conflict}"
    )
    return sql + (" RETURNING id" if returning else ""), columns


_INSERT_DIRECTIVE, _DIRECTIVE_COLUMNS = _insert_sql("directives")
_INSERT_STEP, _STEP_COLUMNS = _insert_sql("directive_steps")
_INSERT_REVISION, _REVISION_COLUMNS = _insert_sql("revisions")
# A new live row, or none when one exists (RETURNING then gives no id).
_INSERT_INSTALLATION, _INSTALLATION_COLUMNS = _insert_sql(
    "installations",
    returning=True,
    conflict=f" ON CONFLICT (tenant_id, slug) WHERE {_LIVE_PREDICATE} DO NOTHING",
)
# PostgreSQL runs a data-modifying CTE: the parent row's INSERT and its
# children's in one statement (the foreign keys are checked at its end).
_INSERT_INSTALLATION_WITH_REVISION = (
    f"WITH installation AS ({_INSERT_INSTALLATION})"
    f" INSERT INTO revisions ({', '.join(_REVISION_COLUMNS)}) SELECT "
    + ", ".join("installation.id" if n == "installation_id" else "?" for n in _REVISION_COLUMNS)
    + " FROM installation RETURNING installation_id"
)


@functools.cache
def _directive_with_steps(count: int) -> str:
    values = ", ".join(f"({', '.join('?' for _ in _STEP_COLUMNS)})" for _ in range(count))
    return (
        f"WITH directive AS ({_INSERT_DIRECTIVE})"
        f" INSERT INTO directive_steps ({', '.join(_STEP_COLUMNS)}) VALUES {values}"
    )


# A plan on the live row, only if it is still in the state it was read in.
_PLAN_EXISTING = (
    "UPDATE installations SET pending_version = ?, pending_config = ?,"
    " requested = (requested OR ?), updated_at = ?"
    " WHERE tenant_id = ? AND id = ?"
    f" AND status IN ({', '.join('?' for _ in _STEADY)}) AND pending_version IS NULL"
)
# submit's lock on the tenant row (SQLite: its write transaction already
# holds the database's one write lock).  On PostgreSQL the same round trip
# reads the database clock (the transaction's start time, which
# repository.database_now reads with a query of its own).
_LOCK_TENANT = {
    "sqlite": "SELECT id, slug, tier, created_at FROM tenants WHERE id = ?",
    "postgresql": (
        "SELECT id, slug, tier, created_at, CURRENT_TIMESTAMP FROM tenants WHERE id = ? FOR UPDATE"
    ),
}


@dataclass
class Transaction:
    """One write transaction of the store: its connection, and a fast Reader and SQL over it."""

    tx: DriverTx
    reader: Reader
    # The DBAPI connection under both (sqlite3 or psycopg), in the same transaction.
    driver: Any
    # Per tenant id, the live installations read in this transaction by slug
    # (what plan_installation plans from).
    live: dict[int, dict[str, InstallationRow]]
    # The database's clock when the tenant lock read it (PostgreSQL), else None.
    now: datetime | None = None

    @property
    def backend(self) -> str:
        return self.reader.backend

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """Run one statement on the driver connection; its cursor."""
        return self.executemany(sql, [params], many=False)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]], *, many: bool = True) -> Any:
        """Run one statement per row of parameters (one executemany)."""
        if self.backend == "postgresql":
            sql = sql.replace("?", "%s")
        cursor = self.driver.cursor()
        try:
            if many:
                cursor.executemany(sql, rows)
            else:
                cursor.execute(sql, rows[0])
        except Exception as exc:
            mapped = unavailable(exc, self.tx)
            if mapped is None:
                raise
            raise mapped from None
        return cursor

    def values(self, names: Sequence[str], given: dict[str, Any]) -> tuple[Any, ...]:
        """A row's parameters as the ORM's column types would bind them on this backend."""
        return tuple(self.bind(name, given[name]) for name in names)

    def bind(self, name: str, value: Any) -> Any:
        if name in _JSON_COLUMNS:
            # As SQLAlchemy's JSON type: None is stored as JSON null, not SQL NULL.
            if self.backend == "postgresql":
                from psycopg.types.json import Jsonb

                return Jsonb(value)
            return json.dumps(value)
        if name in _TIME_COLUMNS and value is not None:
            # As models.UTCDateTime: UTC; on SQLite naive, in SQLAlchemy's text format.
            value = value.astimezone(UTC)
            if self.backend == "sqlite":
                return value.strftime("%Y-%m-%d %H:%M:%S.%f")
        return value


def _reader(connection: Any, store: Store) -> Reader:
    return Reader(connection.connection.driver_connection, store.backend, store.url)


@contextmanager
def pooled_reader(store: Store | DriverStore) -> Iterator[Reader]:
    """A fast Reader over one of the store's pooled connections, in one read-only transaction.

    The same functions and rows as :func:`fastread.reader`, without opening
    a connection or re-reading the schema revision (the store was opened at
    the head).  ``fastread.Fallback`` from a body (the default tenant not
    created yet) passes through: the caller takes the ORM path.

    The driver connection is taken from the pool without a SQLAlchemy
    Connection around it (a third of a preview's read time went into that):
    on SQLite a ``BEGIN`` holds one snapshot for every query (returning it
    to the pool rolls back); on PostgreSQL the queries run in autocommit.
    A write is never sent on it: only the fast reader's SELECTs.  (A
    :class:`DriverStore` reads on its own connection the same way.)
    """
    if isinstance(store, DriverStore):
        with store.reader() as reader:
            yield reader
        return
    try:
        pooled = store.engine.raw_connection()
    except Exception:
        # The pool could not connect: the Store's own path reports why, in
        # its words (or, if it connects now, reads there).
        with store.connection(readonly=True) as connection:
            yield _reader(connection, store)
        return
    driver: Any = pooled.driver_connection
    postgres = store.backend == "postgresql"
    try:
        if postgres:
            # Each statement in its own transaction: at READ COMMITTED (the
            # ORM's read sessions) each has its own snapshot anyway, and the
            # BEGIN and ROLLBACK round trips are saved.
            driver.autocommit = True
        reader = Reader(driver, store.backend, store.url)
        if not postgres:
            reader.rows("BEGIN")  # (A driver error is StoreUnavailable, as every read's.)
        yield reader
    finally:
        try:
            if postgres:
                driver.autocommit = False
        except Exception:
            pooled.invalidate()  # A broken connection is not pooled again.
        pooled.close()


@contextmanager
def transaction(store: Store | DriverStore) -> Iterator[Transaction]:
    """One write transaction (SQLite: ``BEGIN IMMEDIATE``); commits when the block ends."""
    with driver_transaction(store) as tx:
        yield Transaction(tx, Reader(tx.driver, tx.backend, tx.where), tx.driver, {})


# -- reads (as the repository's, over the transaction) -------------------------


def lock_tenant(tx: Transaction, tenant_id: int) -> TenantRow:
    """Lock the tenant's row until the transaction ends (as ``repository.lock_tenant``)."""
    rows = tx.reader.rows(_LOCK_TENANT[tx.backend], (tenant_id,))
    if not rows:
        raise NotFound(f"no tenant with id {tenant_id}")
    row = rows[0]
    if tx.backend == "postgresql":
        tx.now = row[4].astimezone(UTC)
    return TenantRow(row[0], row[1], row[2], fastread._time(row[3]))


def list_installations(
    tx: Transaction, tenant_id: int, *, include_finished: bool = False
) -> list[InstallationRow]:
    """The tenant's live installations by slug (and remembered for plan_installation)."""
    rows = fastread.list_installations(tx.reader, tenant_id, include_finished=include_finished)
    tx.live[tenant_id] = {row.slug: row for row in rows if lifecycle.is_live(row.status)}
    return rows


def leaving_slugs(tx: Transaction, tenant_id: int) -> set[str]:
    """The slugs an open directive's open ``uninstall`` step is to remove."""
    return fastread.leaving_slugs(tx.reader, tenant_id)


# -- writes ------------------------------------------------------------------------


@dataclass(frozen=True)
class NewDirective:
    """A directive this transaction wrote."""

    id: str
    created_at: datetime


def _database_now(tx: Transaction) -> datetime:
    # As repository.database_now: PostgreSQL's transaction time (read with
    # the tenant lock, else here), or this host's clock at SQLite's precision.
    if tx.backend == "postgresql":
        if tx.now is None:
            tx.now = tx.reader.rows("SELECT CURRENT_TIMESTAMP")[0][0].astimezone(UTC)
        return tx.now
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def create_directive(
    tx: Transaction,
    tenant_id: int,
    *,
    actor: str,
    kind: str,
    command: str = "",
    arguments: dict[str, Any] | None = None,
    plan: dict[str, Any] | None = None,
    steps: Sequence[StepSpec] = (),
    atomic: bool = False,
    now: datetime | None = None,
) -> NewDirective:
    """Write a directive and its ordered steps (as ``repository.create_directive``)."""
    if kind not in DIRECTIVE_KINDS:
        raise InvalidInput(f"unknown directive kind {kind!r}")
    for spec in steps:
        if spec.action not in STEP_ACTIONS:
            raise InvalidInput(f"unknown step action {spec.action!r}")
    created = _now(now) if now is not None else _database_now(tx)
    directive_id = str(uuid.uuid4())
    directive = {
        "id": directive_id,
        "tenant_id": tenant_id,
        "actor": actor,
        "created_at": created,
        "kind": kind,
        "command": command,
        "arguments": dict(arguments or {}),
        "plan": dict(plan or {}),
        "atomic": atomic,
        "status": "pending",
        "lease_owner": None,
        "lease_expires_at": None,
        "heartbeat_at": None,
        "attempts": 0,
        "error": None,
        "error_kind": None,
        "finished_at": None,
    }
    step_rows = [
        tx.values(
            _STEP_COLUMNS,
            {
                "tenant_id": tenant_id,
                "directive_id": directive_id,
                "position": position,
                "slug": canonical_slug(spec.slug),
                "version": spec.version,
                "action": spec.action,
                "installation_id": spec.installation_id,
                "status": "pending",
                "attempts": 0,
                "error_message": None,
                "started_at": None,
                "finished_at": None,
            },
        )
        for position, spec in enumerate(steps)
    ]
    head = tx.values(_DIRECTIVE_COLUMNS, directive)
    if tx.backend == "postgresql" and step_rows:
        # One round trip: the steps' INSERT with the directive's as its CTE.
        tx.execute(_directive_with_steps(len(step_rows)), [*head, *chain(*step_rows)])
        return NewDirective(directive_id, created)
    tx.execute(_INSERT_DIRECTIVE, head)
    if step_rows:
        tx.executemany(_INSERT_STEP, step_rows)
    return NewDirective(directive_id, created)


def plan_installation(
    tx: Transaction,
    tenant_id: int,
    slug: str,
    version: str,
    *,
    actor: str,
    requested: bool = True,
    config: dict[str, Any] | None = None,
    directive_id: str | None = None,
    now: datetime | None = None,
) -> int:
    """Record that a directive will bring ``slug`` to ``version``; the installation's id.

    As ``repository.plan_installation``: a new row ``queued`` with its
    ``plan`` revision, or ``pending_version``/``pending_config`` on the live
    row; busy (exit 11) when the live row is changing.  The live row is the
    one :func:`list_installations` read in this transaction (read here if it
    was not).
    """
    now = _now(now)
    slug = canonical_slug(slug)
    if tenant_id in tx.live:
        current = tx.live[tenant_id].get(slug)
    else:
        current = fastread.live_installation(tx.reader, tenant_id, slug)
    if current is not None:
        if lifecycle.changing(current.status, current.pending_version):
            raise lifecycle.busy([slug])
        changed = tx.execute(
            _PLAN_EXISTING,
            (
                version,
                tx.bind("pending_config", dict(config) if config is not None else None),
                requested,
                tx.bind("updated_at", now),
                tenant_id,
                current.id,
                *_STEADY,
            ),
        ).rowcount
        if changed != 1:
            # Another directive moved the row since this transaction read it.
            raise lifecycle.busy([slug])
        return current.id
    new_config = dict(config or {})
    values = {
        "tenant_id": tenant_id,
        "slug": slug,
        "version": None,
        "revision": 0,
        "pending_version": version,
        "pending_config": None,
        "status": lifecycle.QUEUED,
        "previous_status": None,
        "config": new_config,
        "requested": requested,
        "error_message": None,
        "installed_at": None,
        "created_at": now,
        "updated_at": now,
    }
    revision = {
        "tenant_id": tenant_id,
        "installation_id": None,  # The new row's, once it has one.
        "directive_id": directive_id,
        "actor": actor,
        "at": now,
        "transition": "plan",
        "from_status": None,
        "to_status": lifecycle.QUEUED,
        "from_version": None,
        "to_version": version,
        "config_diff": config_changes({}, new_config),
    }
    row = tx.values(_INSTALLATION_COLUMNS, values)
    if tx.backend == "postgresql":
        # One round trip: the revision's INSERT takes the id from the
        # installation's (its CTE); no row inserted, no revision, no id.
        rest = [n for n in _REVISION_COLUMNS if n != "installation_id"]
        inserted = tx.execute(
            _INSERT_INSTALLATION_WITH_REVISION, [*row, *tx.values(rest, revision)]
        ).fetchone()
    else:
        inserted = tx.execute(_INSERT_INSTALLATION, row).fetchone()
        if inserted is not None:
            revision["installation_id"] = inserted[0]
            tx.execute(_INSERT_REVISION, tx.values(_REVISION_COLUMNS, revision))
    if inserted is None:
        # Another directive planned the same package since this transaction
        # read the tenant's rows (the partial unique index kept one live row).
        raise lifecycle.busy([slug])
    return int(inserted[0])
