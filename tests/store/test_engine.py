"""Opening the store and its transactions: WAL, BEGIN IMMEDIATE, locks, outages."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlmodel import select

from fleetprompt_cli import walmode
from fleetprompt_cli.errors import ExitCode, InvalidInput, StoreUnavailable
from fleetprompt_cli.store import repository as repo
from fleetprompt_cli.store.engine import open_store, schema_status
from fleetprompt_cli.store.models import PackageStats, Tenant


def _sqlite_path(store) -> Path:
    return Path(store.engine.url.database)


def test_sqlite_runs_in_wal_with_foreign_keys(tmp_path):
    url = f"sqlite:///{tmp_path / 'state.db'}"
    with open_store(url) as store, store.connection() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000


def test_write_session_takes_the_write_lock_at_begin(tmp_path):
    with open_store(f"sqlite:///{tmp_path / 'state.db'}") as store:
        other = sqlite3.connect(_sqlite_path(store), timeout=0, isolation_level=None)
        try:
            with store.session() as session:
                # Only a read so far: a deferred BEGIN would not hold a lock yet.
                session.exec(select(Tenant)).all()
                with pytest.raises(sqlite3.OperationalError, match="locked"):
                    other.execute("BEGIN IMMEDIATE")
            with store.session(readonly=True) as session:
                session.exec(select(Tenant)).all()
                other.execute("BEGIN IMMEDIATE")
                other.execute("ROLLBACK")
        finally:
            other.close()


def test_concurrent_writers_lose_no_update(store):
    with store.session() as session:
        session.add(PackageStats(slug="crm"))

    def increment_200_times():
        for _ in range(200):
            with store.session() as session:
                # Read-modify-write on purpose: SQLite's BEGIN IMMEDIATE (and
                # the row lock on PostgreSQL) must serialise these.
                row = session.get(PackageStats, "crm", with_for_update=True)
                row.install_count += 1
                session.add(row)

    threads = [threading.Thread(target=increment_200_times) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with store.session(readonly=True) as session:
        assert session.get(PackageStats, "crm").install_count == 400


def test_locked_sqlite_beyond_busy_timeout_is_unavailable(tmp_path):
    path = tmp_path / "state.db"
    with open_store(f"sqlite:///{path}", busy_timeout=0.05) as store:
        holder = sqlite3.connect(path, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            with pytest.raises(StoreUnavailable) as caught, store.session() as session:
                repo.create_tenant(session, "acme")
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert str(caught.value) == (
            f"the state store {path} is locked by another process (waited 0.05 s); "
            "try again when it has finished"
        )
        assert caught.value.exit_code == ExitCode.UNAVAILABLE
        # Nothing was half-written, and the store works once the lock is gone.
        with store.session() as session:
            assert repo.list_tenants(session) == []
            repo.create_tenant(session, "acme")


def _rollback_journal_writer(path: Path) -> sqlite3.Connection:
    """A connection writing to a database not yet in WAL mode.

    While it holds its lock, SQLite refuses a switch to WAL at once, without
    calling the busy handler: the case that made concurrent first use fail.
    """
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE squatter (x)")
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("INSERT INTO squatter VALUES (1)")
    return holder


def test_locked_fresh_sqlite_store_cannot_be_opened(tmp_path):
    path = tmp_path / "state.db"
    holder = _rollback_journal_writer(path)
    started = time.monotonic()
    try:
        with pytest.raises(StoreUnavailable, match="is locked by another process"):
            open_store(f"sqlite:///{path}", busy_timeout=0.05)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    # It waited for the lock as long as it said, not failed at once.
    assert time.monotonic() - started >= 0.05


def test_switch_to_wal_waits_for_a_writer(tmp_path, monkeypatch):
    path = tmp_path / "state.db"
    holder = _rollback_journal_writer(path)
    pauses: list[float] = []

    def writer_finishes(delay: float) -> None:
        pauses.append(delay)
        if holder.in_transaction:
            holder.execute("COMMIT")

    monkeypatch.setattr(walmode, "_pause", writer_finishes)
    try:
        with (
            open_store(f"sqlite:///{path}", busy_timeout=5) as store,
            store.connection(readonly=True) as connection,
        ):
            mode = connection.exec_driver_sql("PRAGMA journal_mode").scalar()
    finally:
        holder.close()
    assert pauses, "the switch to WAL never met the writer's lock"
    assert mode == "wal"
    assert schema_status(f"sqlite:///{path}").state == "current"


def test_postgres_down_is_unavailable_with_one_readable_line():
    url = "postgresql+psycopg://postgres@127.0.0.1:1/fleetprompt"
    with pytest.raises(StoreUnavailable) as caught:
        open_store(url)
    message = str(caught.value)
    assert message.startswith(
        "cannot connect to the state store at postgresql+psycopg://postgres@127.0.0.1:1/fleetprompt"
    )
    assert "refused" in message.lower()
    assert "\n" not in message
    assert "sqlalchemy" not in message.lower()
    assert "[SQL" not in message


def test_password_is_not_shown():
    with pytest.raises(StoreUnavailable) as caught:
        open_store("postgresql://fp:hunter2@127.0.0.1:1/fleetprompt")
    assert "hunter2" not in str(caught.value)
    assert "***" in str(caught.value)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("not a url", "invalid state store URL 'not a url'"),
        ("mysql://root@localhost/fp", "unsupported state store URL 'mysql://root@localhost/fp'"),
        ("sqlite://", "SQLite needs a file path"),
        ("sqlite:///:memory:", "SQLite needs a file path"),
    ],
)
def test_bad_urls_are_unavailable(url, expected):
    with pytest.raises(StoreUnavailable, match=expected):
        open_store(url)


def test_session_commits_or_rolls_back(store):
    with pytest.raises(InvalidInput), store.session() as session:
        repo.create_tenant(session, "acme")
        repo.create_tenant(session, "Not Valid")
    with store.session() as session:
        assert repo.list_tenants(session) == []
        repo.create_tenant(session, "acme")
    with store.session(readonly=True) as session:
        assert [t.slug for t in repo.list_tenants(session)] == ["acme"]


def test_timestamps_come_back_aware_utc(store):
    with store.session() as session:
        repo.create_tenant(session, "acme")
    with store.session(readonly=True) as session:
        created = repo.get_tenant(session, "acme").created_at
        assert created.utcoffset() is not None and created.utcoffset().total_seconds() == 0
        assert session.exec(text("SELECT count(*) FROM tenants")).one()[0] == 1


@pytest.mark.parametrize(
    "module",
    ["fleetprompt_cli.store", "fleetprompt_cli.store.stats_reader"],
)
def test_light_modules_do_not_import_sqlalchemy(module):
    code = (
        f"import sys, {module}\n"
        "heavy = ('sqlalchemy', 'sqlmodel', 'alembic', 'psycopg')\n"
        "heavy = [m for m in heavy if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_store_package_exposes_open_store_lazily():
    import fleetprompt_cli.store as store_package

    assert store_package.open_store is open_store
    with pytest.raises(AttributeError):
        store_package.nothing_here  # noqa: B018


@pytest.mark.postgres
@pytest.mark.parametrize("store_url", ["postgres"], indirect=True)
def test_postgres_lost_mid_run_is_unavailable_from_the_session(store_url, postgres_admin_url):
    import psycopg
    from sqlalchemy.engine import make_url

    with open_store(store_url) as store:
        with store.session() as session:
            repo.create_tenant(session, "acme")
        database = make_url(store_url).database
        admin = make_url(postgres_admin_url).set(drivername="postgresql")
        conninfo = admin.render_as_string(hide_password=False)
        with psycopg.connect(conninfo, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE "{database}" WITH (FORCE)')
        with pytest.raises(StoreUnavailable) as caught, store.session() as session:
            repo.list_tenants(session)
    assert database in str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_read_only_block_cannot_write(store):
    # On SQLite a read-only transaction that writes would fail only when
    # another process wrote since it began (a race); it must fail every time.
    with (
        # A bug, not an outage: on PostgreSQL it stays the driver's error.
        pytest.raises((StoreUnavailable, DBAPIError), match=r"read-only|readonly"),
        store.session(readonly=True) as session,
    ):
        repo.create_tenant(session, "acme")
    # The same pooled connection writes again once the block is over.
    with store.session() as session:
        repo.create_tenant(session, "acme")
    with store.session(readonly=True) as session:
        assert [t.slug for t in repo.list_tenants(session)] == ["acme"]
