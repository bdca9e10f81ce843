"""The state store on its plain drivers (store/driverstore.py).

Opened only on a store at the code's schema (anything else goes to the ORM
store, which creates, migrates or refuses it as always); a transaction
commits or leaves nothing; a store that cannot be used is one
StoreUnavailable line in the engine's words; each thread has its own
connection; the ORM store behind it opens only when a use case asks.  The
SQL paths' column lists, written out so that they need no models, are
checked against the models here.
"""

from __future__ import annotations

import sqlite3
import threading

import pytest
from sqlalchemy import JSON

from fleetprompt_cli.actions.state import open_quick
from fleetprompt_cli.errors import ExitCode, StoreUnavailable
from fleetprompt_cli.settings import load_settings
from fleetprompt_cli.store import fastread, submit_sql
from fleetprompt_cli.store.driverstore import DriverStore, driver_transaction, open_driver_store
from fleetprompt_cli.store.engine import Store, open_store
from fleetprompt_cli.store.models import (
    Directive,
    DirectiveStep,
    Installation,
    Revision,
    UTCDateTime,
)
from fleetprompt_cli.store.schema_head import VERSION_TABLE


def _count(store: DriverStore, table: str) -> int:
    with store.reader() as reader:
        return int(reader.rows(f"SELECT count(*) FROM {table}")[0][0])


def test_a_transaction_commits_or_leaves_nothing(store_url):
    store = open_driver_store(store_url, busy_timeout=5.0)
    try:
        before = _count(store, "tenants")
        with driver_transaction(store) as tx:
            tx.driver.execute(
                "INSERT INTO tenants (slug, tier, created_at) VALUES ('acme', 'pro', '2026-01-01')"
                if tx.sqlite
                else "INSERT INTO tenants (slug, tier, created_at) VALUES ('acme', 'pro', now())"
            )
        assert _count(store, "tenants") == before + 1
        with pytest.raises(RuntimeError, match="half"), driver_transaction(store) as tx:
            tx.driver.execute(
                "INSERT INTO tenants (slug, tier, created_at) VALUES ('beta', 'pro', '2026-01-01')"
                if tx.sqlite
                else "INSERT INTO tenants (slug, tier, created_at) VALUES ('beta', 'pro', now())"
            )
            raise RuntimeError("half written")
        assert _count(store, "tenants") == before + 1
        # A constraint is not "unavailable": the driver's error passes through.
        with pytest.raises(Exception) as error, driver_transaction(store) as tx:
            tx.driver.execute(
                "INSERT INTO tenants (slug, tier, created_at) VALUES ('acme', 'pro', '2026-01-01')"
            )
        assert not isinstance(error.value, StoreUnavailable)
        assert type(error.value).__name__ in ("IntegrityError", "UniqueViolation")
        assert _count(store, "tenants") == before + 1
        # The ORM store was never needed.
        assert store._orm is None
    finally:
        store.dispose()


def test_orm_store_behind_it_opens_on_demand(store_url):
    store = open_driver_store(store_url)
    try:
        assert store._orm is None
        from fleetprompt_cli.store import repository as repo

        with store.session() as s:
            repo.create_tenant(s, "acme", tier="pro")
        with store.reader() as reader:
            assert fastread.get_tenant(reader, "acme").tier == "pro"
        assert isinstance(store._orm, Store)
    finally:
        store.dispose()
    assert store._orm is None


@pytest.mark.parametrize("revision", ["9999_from_the_future", "0001"])
def test_another_revision_is_left_to_the_orm_store(store_url, revision, monkeypatch):
    with open_store(store_url) as orm, orm.connection() as connection:
        connection.exec_driver_sql(f"UPDATE {VERSION_TABLE} SET version_num = '{revision}'")
    with pytest.raises(fastread.Fallback) as fallback:
        open_driver_store(store_url)
    assert fallback.value.state == ("newer" if revision.startswith("9999") else "older")
    # What the CLI opens: the ORM store, which refuses (or, SQLite, would migrate).
    monkeypatch.setenv("FLEETPROMPT_DATABASE_URL", store_url)
    if revision.startswith("9999") or store_url.startswith("postgresql"):
        with pytest.raises(StoreUnavailable, match=f"schema is at {revision}"):
            open_quick(load_settings())


def test_missing_sqlite_store_is_created_by_the_orm_store(tmp_path, monkeypatch):
    database = tmp_path / "new" / "state.db"
    url = f"sqlite:///{database}"
    with pytest.raises(fastread.Fallback, match="missing"):
        open_driver_store(url)
    assert not database.exists()
    monkeypatch.setenv("FLEETPROMPT_DATABASE_URL", url)
    store = open_quick(load_settings())
    try:
        assert isinstance(store, Store)
        assert fastread.schema_revision(url)
    finally:
        store.dispose()
    # Once it exists at the head, the CLI gets a DriverStore.
    again = open_quick(load_settings())
    try:
        assert isinstance(again, DriverStore)
    finally:
        again.dispose()


def test_unreachable_postgres_is_left_to_the_orm_store(monkeypatch):
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    with pytest.raises(fastread.Fallback) as fallback:
        open_driver_store(url)
    assert fallback.value.state == "unreadable"
    monkeypatch.setenv("FLEETPROMPT_DATABASE_URL", url)
    with pytest.raises(StoreUnavailable, match="is PostgreSQL running there"):
        open_quick(load_settings())


def test_sqlite_locked_past_the_busy_timeout_is_one_line(tmp_path):
    url = f"sqlite:///{tmp_path / 'state.db'}"
    open_store(url).dispose()
    store = open_driver_store(url, busy_timeout=0.05)
    holder = sqlite3.connect(tmp_path / "state.db", isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        with pytest.raises(StoreUnavailable) as error, driver_transaction(store):
            pass
        assert str(error.value) == (
            f"the state store {tmp_path / 'state.db'} is locked by another process "
            "(waited 0.05 s); try again when it has finished"
        )
        holder.execute("ROLLBACK")
        with driver_transaction(store) as tx:  # Free again: the same store goes on.
            tx.driver.execute("SELECT 1")
    finally:
        holder.close()
        store.dispose()


def _kill_backend(store: DriverStore, url: str) -> int:
    """Terminate the server process of this thread's connection; its pid."""
    import psycopg

    with driver_transaction(store) as tx:
        pid = int(tx.driver.execute("SELECT pg_backend_pid()").fetchone()[0])
    with psycopg.connect("postgresql" + url[len("postgresql+psycopg") :], autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    return pid


def test_a_postgres_connection_killed_between_transactions(postgres_store_url):
    store = open_driver_store(postgres_store_url)
    try:
        pid = _kill_backend(store, postgres_store_url)
        lost = pytest.raises(StoreUnavailable, match="cannot use the state store at")
        with lost, driver_transaction(store) as tx:
            tx.driver.execute("SELECT 1")
        # The dead connection was dropped: the next transaction has a new one.
        with driver_transaction(store) as tx:
            assert tx.driver.execute("SELECT pg_backend_pid()").fetchone()[0] != pid
    finally:
        store.dispose()


def test_an_idle_postgres_connection_is_checked_before_use(postgres_store_url, monkeypatch):
    from fleetprompt_cli.store import driverstore

    store = open_driver_store(postgres_store_url)
    try:
        pid = _kill_backend(store, postgres_store_url)
        # Idle past the check (a worker between bursts): the dead connection
        # is replaced before the work, which then succeeds.
        monkeypatch.setattr(driverstore, "IDLE_CHECK_SECONDS", -1.0)
        with driver_transaction(store) as tx:
            assert tx.driver.execute("SELECT pg_backend_pid()").fetchone()[0] != pid
    finally:
        store.dispose()


def test_each_thread_has_its_own_connection(store_url):
    store = open_driver_store(store_url)
    seen: list[int] = []

    def work() -> None:
        with driver_transaction(store) as tx:
            seen.append(id(tx.driver))

    try:
        work()
        thread = threading.Thread(target=work)
        thread.start()
        thread.join()
        work()
        assert seen[0] == seen[2] != seen[1]
    finally:
        store.dispose()
    assert store._connections == []


def test_sql_column_lists_match_the_models():
    tables = {
        "directives": Directive,
        "directive_steps": DirectiveStep,
        "revisions": Revision,
        "installations": Installation,
    }
    for name, model in tables.items():
        table = model.__table__
        expected = {c.name for c in table.columns if c.name != "id" or model is Directive}
        assert set(submit_sql._COLUMNS[name]) == expected, name
        assert len(submit_sql._COLUMNS[name]) == len(expected), name
    columns = [c for model in tables.values() for c in model.__table__.columns]
    assert {c.name for c in columns if isinstance(c.type, JSON)} == submit_sql._JSON_COLUMNS
    assert {c.name for c in columns if isinstance(c.type, UTCDateTime)} == submit_sql._TIME_COLUMNS
    live = next(
        i
        for i in Installation.__table__.indexes  # type: ignore[attr-defined]
        if i.name == "uq_installations_live_slug"
    )
    assert str(live.dialect_options["sqlite"]["where"]) == submit_sql._LIVE_PREDICATE
    assert str(live.dialect_options["postgresql"]["where"]) == submit_sql._LIVE_PREDICATE


def test_messages_name_the_store_without_its_password(postgres_store_url):
    url = postgres_store_url.replace("postgres@", "postgres:hunter2@", 1)
    store = open_driver_store(url)  # (trust authentication: any password)
    try:
        assert "hunter2" not in store.url and "hunter2" not in store.where
        assert store.where.endswith(url.rsplit("@", 1)[1])
    finally:
        store.dispose()


@pytest.mark.parametrize(
    ("url", "words"),
    [
        (
            "postgresql+psycopg://ann:hunter2@127.0.0.1:5432/fp?bogus=1",
            'invalid connection option "bogus"',
        ),
        ("postgresql+psycopg://ann:hunter2@127.0.0.1:notaport/fp", "expected sqlite:///PATH"),
    ],
)
def test_a_url_the_driver_refuses_is_one_line(url, words, monkeypatch):
    from tests.helpers import run_cli

    monkeypatch.setenv("FLEETPROMPT_DATABASE_URL", url)
    monkeypatch.delenv("FLEETPROMPT_DEBUG", raising=False)
    for args in (["install", "code-review", "--yes"], ["list"]):
        result = run_cli(*args)
        assert result.exit_code == ExitCode.UNAVAILABLE, (args, result.stderr)
        assert "invalid state store URL" in result.stderr and words in result.stderr, args
        assert "hunter2" not in result.stderr and "internal error" not in result.stderr
    with pytest.raises(fastread.Fallback):
        open_driver_store(url)
