"""The enqueue path: a preview's reads and a submit's writes on one pooled connection each.

``install --no-wait`` (and ``bench/install_bench.py``, thousands of times)
pays for ``preview_install`` + ``submit`` per directive.  Through the ORM
that was about 15 statements' worth of SQLAlchemy overhead, four flushes and
a fresh connection per session; here it is:

* **Reads** (the preview's tenant state, and the re-check under the tenant
  lock) go through the fast reader's functions (:mod:`store.fastread`: the
  same SQL, rows and decoding as the read commands) over the driver
  connection of a pooled SQLAlchemy connection, inside the store's own
  transaction, so no connection is opened and no schema check is repeated
  (``open_store`` checked it).
* **Writes** are Core statements built once (module level, or once per
  dialect for the upserts): the directive, its steps in one executemany, and
  per planned package either one ``INSERT ... ON CONFLICT DO NOTHING
  RETURNING id`` of a new ``queued`` row (with its ``plan`` revision) or one
  guarded ``UPDATE`` of the live row.

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

import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Table, bindparam, func, insert, or_, select, update
from sqlalchemy.engine import Connection

from fleetprompt_cli.core import lifecycle
from fleetprompt_cli.core.configs import config_changes
from fleetprompt_cli.core.names import canonical_slug
from fleetprompt_cli.errors import InvalidInput, NotFound
from fleetprompt_cli.store import fastread
from fleetprompt_cli.store.engine import Store
from fleetprompt_cli.store.fastread import InstallationRow, Reader, TenantRow
from fleetprompt_cli.store.models import (
    DIRECTIVE_KINDS,
    STEP_ACTIONS,
    Directive,
    DirectiveStep,
    Installation,
    Revision,
    Tenant,
)
from fleetprompt_cli.store.repository._common import _now
from fleetprompt_cli.store.repository.directives import StepSpec

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

_TENANTS: Table = Tenant.__table__  # type: ignore[attr-defined]
_INSTALLATIONS: Table = Installation.__table__  # type: ignore[attr-defined]
_DIRECTIVES: Table = Directive.__table__  # type: ignore[attr-defined]
_STEPS: Table = DirectiveStep.__table__  # type: ignore[attr-defined]
_REVISIONS: Table = Revision.__table__  # type: ignore[attr-defined]

# submit's lock on the tenant row (SQLite's compiler drops FOR UPDATE: its
# write transaction already holds the database's one write lock).  On
# PostgreSQL the same round trip reads the database clock (the transaction's
# start time, what repository.database_now reads with a query of its own).
_LOCK_TENANT = (
    select(_TENANTS.c.id, _TENANTS.c.slug, _TENANTS.c.tier, _TENANTS.c.created_at)
    .where(_TENANTS.c.id == bindparam("tenant_id"))
    .with_for_update()
)
_LOCK_TENANT_NOW = (
    select(
        _TENANTS.c.id,
        _TENANTS.c.slug,
        _TENANTS.c.tier,
        _TENANTS.c.created_at,
        func.current_timestamp(type_=DateTime(timezone=True)),
    )
    .where(_TENANTS.c.id == bindparam("tenant_id"))
    .with_for_update()
)
_INSERT_DIRECTIVE = insert(_DIRECTIVES)
_INSERT_STEPS = insert(_STEPS)
_INSERT_REVISIONS = insert(_REVISIONS)

# The live statuses a new plan may start from: not changing, not finished
# (lifecycle.changing without a pending version; the guarded UPDATE below
# also requires ``pending_version IS NULL``, its other half).
_STEADY = tuple(
    s for s in lifecycle.STATUSES if lifecycle.is_live(s) and not lifecycle.changing(s, None)
)
_PLAN_EXISTING = (
    update(_INSTALLATIONS)
    .where(
        _INSTALLATIONS.c.tenant_id == bindparam("b_tenant_id"),
        _INSTALLATIONS.c.id == bindparam("b_id"),
        _INSTALLATIONS.c.status.in_(_STEADY),
        _INSTALLATIONS.c.pending_version.is_(None),
    )
    .values(
        pending_version=bindparam("b_pending_version"),
        pending_config=bindparam("b_pending_config", type_=_INSTALLATIONS.c.pending_config.type),
        requested=or_(_INSTALLATIONS.c.requested, bindparam("b_requested")),
        updated_at=bindparam("b_updated_at", type_=_INSTALLATIONS.c.updated_at.type),
    )
)
# INSERT ... ON CONFLICT DO NOTHING RETURNING id per dialect, on the partial
# unique index of live rows (its predicate read from the model's index).
_PLAN_NEW: dict[str, Any] = {}


def _plan_new(connection: Connection) -> Any:
    dialect = connection.dialect.name
    stmt = _PLAN_NEW.get(dialect)
    if stmt is None:
        index = next(i for i in _INSTALLATIONS.indexes if i.name == "uq_installations_live_slug")
        where = index.dialect_options[dialect]["where"]
        dialect_insert = _insert_for(dialect)
        stmt = (
            dialect_insert(_INSTALLATIONS)
            .on_conflict_do_nothing(index_elements=["tenant_id", "slug"], index_where=where)
            .returning(_INSTALLATIONS.c.id)
        )
        _PLAN_NEW[dialect] = stmt
    return stmt


def _insert_for(dialect: str) -> Any:
    # ON CONFLICT lives in each dialect's own insert construct.
    if dialect == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert
    from sqlalchemy.dialects import sqlite

    return sqlite.insert


@dataclass
class Transaction:
    """One write transaction of the store: its Core connection and a fast Reader over it."""

    connection: Connection
    reader: Reader
    # Per tenant id, the live installations read in this transaction by slug
    # (what plan_installation plans from).
    live: dict[int, dict[str, InstallationRow]]
    # The database's clock when the tenant lock read it (PostgreSQL), else None.
    now: datetime | None = None

    @property
    def dialect(self) -> str:
        return self.connection.dialect.name


def _reader(connection: Connection, store: Store) -> Reader:
    driver = connection.connection.driver_connection
    return Reader(driver, store.backend, store.url)


@contextmanager
def pooled_reader(store: Store) -> Iterator[Reader]:
    """A fast Reader over one of the store's pooled connections, in one read-only transaction.

    The same functions and rows as :func:`fastread.reader`, without opening
    a connection or re-reading the schema revision (the store was opened at
    the head).  ``fastread.Fallback`` from a body (the default tenant not
    created yet) passes through: the caller takes the ORM path.
    """
    with store.connection(readonly=True) as connection:
        yield _reader(connection, store)


@contextmanager
def transaction(store: Store) -> Iterator[Transaction]:
    """One write transaction (SQLite: ``BEGIN IMMEDIATE``); commits when the block ends."""
    with store.connection() as connection:
        yield Transaction(connection, _reader(connection, store), {})


# -- reads (as the repository's, over the transaction) -------------------------


def lock_tenant(tx: Transaction, tenant_id: int) -> TenantRow:
    """Lock the tenant's row until the transaction ends (as ``repository.lock_tenant``)."""
    postgres = tx.dialect == "postgresql"
    row = tx.connection.execute(
        _LOCK_TENANT_NOW if postgres else _LOCK_TENANT, {"tenant_id": tenant_id}
    ).first()
    if row is None:
        raise NotFound(f"no tenant with id {tenant_id}")
    if postgres:
        tx.now = row[4].astimezone(UTC)
    return TenantRow(row[0], row[1], row[2], row[3])


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
    if tx.dialect == "postgresql":
        if tx.now is None:
            value = tx.connection.execute(select(func.current_timestamp())).scalar_one()
            tx.now = value.astimezone(UTC)
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
    tx.connection.execute(
        _INSERT_DIRECTIVE,
        {
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
        },
    )
    if steps:
        tx.connection.execute(
            _INSERT_STEPS,
            [
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
                }
                for position, spec in enumerate(steps)
            ],
        )
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
        changed = tx.connection.execute(
            _PLAN_EXISTING,
            {
                "b_tenant_id": tenant_id,
                "b_id": current.id,
                "b_pending_version": version,
                "b_pending_config": dict(config) if config is not None else None,
                "b_requested": requested,
                "b_updated_at": now,
            },
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
    installation_id = tx.connection.execute(_plan_new(tx.connection), values).scalar()
    if installation_id is None:
        # Another directive planned the same package since this transaction
        # read the tenant's rows (the partial unique index kept one live row).
        raise lifecycle.busy([slug])
    tx.connection.execute(
        _INSERT_REVISIONS,
        {
            "tenant_id": tenant_id,
            "installation_id": installation_id,
            "directive_id": directive_id,
            "actor": actor,
            "at": now,
            "transition": "plan",
            "from_status": None,
            "to_status": lifecycle.QUEUED,
            "from_version": None,
            "to_version": version,
            "config_diff": config_changes({}, new_config),
        },
    )
    return int(installation_id)
