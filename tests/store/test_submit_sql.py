"""submit's Core path (store/submit_sql.py) writes exactly what the ORM repository writes.

The same plans go through ``actions.preview.write_directive`` twice: over an
ORM session with ``store.repository`` (the old path, still used by
rollback, recover and the runner) and over a ``submit_sql`` Transaction
(what ``submit`` uses), into two stores of the same backend.  Every column
of directives, directive_steps, installations and revisions is then compared
as the database holds it (cast to text, so SQL NULL and JSON ``null`` differ),
ids, uuids and timestamps aside.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import text

from fleetprompt_cli.actions.preview import tenant_basis, write_directive
from fleetprompt_cli.errors import StateError, TierDenied
from fleetprompt_cli.store import repository as repo
from fleetprompt_cli.store import submit_sql
from fleetprompt_cli.store.driverstore import open_driver_store
from fleetprompt_cli.store.engine import open_store
from fleetprompt_cli.store.models import UTCDateTime, metadata


@dataclass
class Plan:
    """A Submittable written by hand: the plan steps submit would write."""

    tenant: str
    tenant_id: int
    steps: list[dict[str, Any]]
    kind: str = "install"
    basis: dict[str, str] = field(default_factory=dict)
    tiers: list[tuple[str, Any]] = field(default_factory=list)

    def plan_steps(self) -> list[dict[str, Any]]:
        return self.steps

    def request(self) -> list[str]:
        return [s["slug"] for s in self.steps if s["requested"]]

    def tier_packages(self) -> list[tuple[str, Any]]:
        return self.tiers


def step(slug, version, action="install", *, requested=True, config=None, **extra):
    return {
        "slug": slug,
        "version": version,
        "action": action,
        "previous": None,
        "requested": requested,
        "reason": "requested" if requested else "dependency",
        "manifest": {"package": {"slug": slug, "version": version}},
        "config": {} if config is None else config,
        **extra,
    }


@pytest.fixture(params=["engine", "drivers"])
def stores(store_url, request, tmp_path) -> Iterator[tuple[Any, Any]]:
    """Two migrated stores of the backend: (ORM path, SQL path).

    The SQL path's store is the ORM store (its pooled driver connections)
    or a DriverStore (its own), as the CLI opens it.
    """
    if store_url.startswith("sqlite"):
        from fleetprompt_cli.store.engine import upgrade_store

        other = f"sqlite:///{tmp_path / 'other.db'}"
        upgrade_store(other)
        urls: Iterator[str] = iter([other])
    else:
        from tests.fixtures_backends import _postgres_database

        urls = _postgres_database(
            request.getfixturevalue("postgres_admin_url"),
            request.getfixturevalue("_postgres_template"),
        )
    orm = open_store(store_url, busy_timeout=5.0)
    if request.param == "drivers":
        core: Any = open_driver_store(next(urls), busy_timeout=5.0)
    else:
        core = open_store(next(urls), busy_timeout=5.0)
    try:
        yield orm, core
    finally:
        orm.dispose()
        core.dispose()
        for _ in urls:  # Drops the second PostgreSQL database.
            pass


def _tenant(store, slug="acme", tier="pro") -> int:
    with store.session() as s:
        return repo.create_tenant(s, slug, tier=tier).id


def _basis(store, tenant_id) -> dict[str, str]:
    with store.session(readonly=True) as s:
        live = {i.slug: i for i in repo.list_installations(s, tenant_id)}
        return tenant_basis(live, repo.leaving_slugs(s, tenant_id))


def _write(store, path: str, tenant_id: int, steps, *, command: str, **plan) -> str:
    preview = Plan("acme", tenant_id, steps, basis=_basis(store, tenant_id), **plan)
    if path == "orm":
        with store.session() as s:
            return write_directive(s, repo, preview, steps, actor="ann", command=command)
    with submit_sql.transaction(store) as tx:
        return write_directive(tx, submit_sql, preview, steps, actor="ann", command=command)


def _apply(store, tenant_id, slug, *names):
    for name in names:
        with store.session() as s:
            repo.apply_transition(s, tenant_id, slug, name, actor="ann")


_IGNORED = {
    "directives": {"id", "created_at"},
    "directive_steps": {"id", "directive_id"},
    "installations": {"id", "created_at", "updated_at", "installed_at"},
    "revisions": {"id", "installation_id", "directive_id", "at"},
}


def _rows(store) -> dict[str, list[tuple]]:
    """Every row of the four tables as text, ids replaced by what they name."""
    out: dict[str, list[tuple]] = {}
    with store.connection(readonly=True) as c:
        commands = dict(c.execute(text("SELECT id, command FROM directives")).all())
        slugs = {i: s for i, s in c.execute(text("SELECT id, slug FROM installations")).all()}
        for table, ignored in _IGNORED.items():
            columns = [c.name for c in metadata.tables[table].columns if c.name not in ignored]
            refs = [r for r in ("directive_id", "installation_id") if r in ignored]
            selected = ", ".join([f"CAST({name} AS TEXT)" for name in columns] + refs)
            times = [
                c.name for c in metadata.tables[table].columns if isinstance(c.type, UTCDateTime)
            ]
            selected += "".join(f", CAST({name} AS TEXT)" for name in times)
            rows = []
            for raw in c.execute(text(f"SELECT {selected} FROM {table}")).all():
                values = list(raw[: len(columns)])
                # Times differ run to run; how they are stored must not (on
                # SQLite: naive UTC text in SQLAlchemy's format; NULL or not).
                for value in raw[len(columns) + len(refs) :]:
                    shape = None if value is None else re.sub(r"\d", "9", value)
                    values.append(shape if store.backend == "sqlite" else value is None)
                named = dict(zip(refs, raw[len(columns) : len(columns) + len(refs)], strict=True))
                # A reference compares as what it points at: the directive's
                # command (unique per plan here), the installation's slug.
                values += [commands.get(named.get("directive_id"))]
                values += [slugs.get(named.get("installation_id"))]
                rows.append(tuple(values))
            out[table] = sorted(rows, key=repr)
    return out


def _both(stores, tenant_ids, steps, *, command, **plan) -> None:
    for path, store in zip(("orm", "core"), stores, strict=True):
        _write(store, path, tenant_ids[path], steps, command=command, **plan)


def test_the_core_path_writes_the_rows_the_orm_path_writes(stores):
    orm, core = stores
    tenants = {"orm": _tenant(orm), "core": _tenant(core)}
    # A package with a dependency: two new installations, queued, with their
    # plan revisions (one with a config, one without), two ordered steps.
    plan = [
        step("core-skills", "1.2.0", requested=False),
        step("crm", "1.0.0", config={"region": "eu", "seats": 5}),
    ]
    _both(stores, tenants, plan, command="install crm", tiers=[("crm", "pro")])
    for path, store in zip(("orm", "core"), stores, strict=True):
        _apply(store, tenants[path], "core-skills", "start_install", "complete_install")
        _apply(store, tenants[path], "crm", "start_install", "complete_install")
    # An existing row: pending version and config, and "requested" set by a
    # request of what was only a dependency; an atomic upgrade directive.
    upgrade = [step("core-skills", "1.3.0", "upgrade", config={"cache": True})]
    _both(stores, tenants, upgrade, command="upgrade core-skills", kind="upgrade")
    # A pending config of None (a step without a config) on an existing row,
    # and an uninstall, which plans no installation.
    for path, store in zip(("orm", "core"), stores, strict=True):
        _apply(store, tenants[path], "core-skills", "start_upgrade", "complete_upgrade")
    reconf = [step("core-skills", "1.3.1", "upgrade", requested=False)]
    reconf[0]["config"] = None
    _both(stores, tenants, reconf, command="upgrade again", kind="upgrade")
    _both(
        stores,
        tenants,
        [step("crm", "1.0.0", "uninstall")],
        command="uninstall crm",
        kind="uninstall",
    )
    old, new = _rows(orm), _rows(core)
    assert {table: len(rows) for table, rows in new.items()} == {
        "directives": 4,
        "directive_steps": 5,
        "installations": 2,
        "revisions": 2 + 4 + 2,
    }
    assert new == old


@pytest.mark.parametrize("path", ["orm", "core"])
def test_both_paths_refuse_the_same_way_and_write_nothing(stores, path):
    store = stores[0] if path == "orm" else stores[1]
    tenant_id = _tenant(store, tier="free")
    _write(store, path, tenant_id, [step("crm", "1.0.0")], command="first")
    before = _rows(store)
    # The installation is queued: planning it again is busy (exit 11).
    with pytest.raises(StateError, match="another directive is changing crm"):
        _write(store, path, tenant_id, [step("crm", "1.1.0", "upgrade")], command="second")
    # The basis moved since the preview: busy too, naming the package.
    with pytest.raises(StateError, match="another directive is changing crm"):
        preview = Plan("acme", tenant_id, [step("other", "1.0.0")], basis={})
        if path == "orm":
            with store.session() as s:
                write_directive(s, repo, preview, preview.steps, actor="a", command="x")
        else:
            with submit_sql.transaction(store) as tx:
                write_directive(tx, submit_sql, preview, preview.steps, actor="a", command="x")
    # The tier is re-checked under the tenant lock.
    with pytest.raises(TierDenied):
        _write(
            store,
            path,
            tenant_id,
            [step("fleet", "1.0.0")],
            command="third",
            tiers=[("fleet", "enterprise")],
        )
    assert _rows(store) == before


def test_the_database_refuses_a_row_planned_since_the_transaction_read(stores):
    """The guards that replace SELECT ... FOR UPDATE: a stale read is refused as busy."""
    _, store = stores
    tenant_id = _tenant(store)
    with submit_sql.transaction(store) as tx:
        submit_sql.plan_installation(tx, tenant_id, "crm", "1.0.0", actor="ann")
    # Another directive's live row that this transaction did not see: the
    # partial unique index keeps one live row, ON CONFLICT returns no id.
    with pytest.raises(StateError, match="changing crm"), submit_sql.transaction(store) as tx:
        tx.live[tenant_id] = {}
        submit_sql.plan_installation(tx, tenant_id, "crm", "1.1.0", actor="ann")
    _apply(store, tenant_id, "crm", "start_install", "complete_install")
    before = _rows(store)["revisions"]
    # A row read as steady that another directive planned since: the guarded
    # UPDATE matches nothing.
    with pytest.raises(StateError, match="changing crm"), submit_sql.transaction(store) as tx:
        submit_sql.list_installations(tx, tenant_id)
        change = "UPDATE installations SET pending_version = '2.0.0' WHERE slug = 'crm'"
        if store.backend == "postgresql":
            with store.connection() as other:
                other.execute(text(change))
        else:
            # SQLite has one writer: the "other" change is made in the same transaction.
            tx.execute(change)
        submit_sql.plan_installation(tx, tenant_id, "crm", "1.1.0", actor="ann")
    with store.session(readonly=True) as s:
        row = repo.get_installation(s, tenant_id, "crm")
    # (On PostgreSQL the other transaction committed its change; on SQLite
    # it was part of the refused transaction and rolled back with it.)
    assert row.pending_version == ("2.0.0" if store.backend == "postgresql" else None)
    assert _rows(store)["revisions"] == before
