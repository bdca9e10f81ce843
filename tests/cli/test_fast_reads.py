"""The fast read path (store/fastread.py): same answers as the ORM, without importing it.

Every read command and a no-op install run in a subprocess on SQLite and on
PostgreSQL and must not import sqlmodel, SQLAlchemy or alembic, nor psycopg
(the fast reader and the stats reader speak to libpq itself), nor pydantic
(``signals`` builds its CloudEvents documents without it); the fast reader
(over libpq, and over psycopg when no libpq loads) and the ORM path must
return equal result objects over the same store; a store at another schema
revision is refused on the fast path with the ORM path's message and exit
code; a missing store behaves as before.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from fleetprompt_cli.actions import inspecting
from fleetprompt_cli.actions.state import StateSource
from fleetprompt_cli.actions.tenants import list_tenants
from fleetprompt_cli.errors import ExitCode, NotFound
from fleetprompt_cli.store import fastread, open_store
from fleetprompt_cli.store.schema_head import SCHEMA_HEAD, VERSION_TABLE
from tests.helpers import run_cli

_HEAVY = ("sqlmodel", "sqlalchemy", "alembic", "psycopg", "pydantic")
_PROBE = (
    "import sys, runpy; sys.argv = ['fleetprompt'] + sys.argv[1:]\n"
    "code = 0\n"
    "try:\n    runpy.run_module('fleetprompt_cli', run_name='__main__')\n"
    "except SystemExit as exit:\n    code = exit.code\n"
    "heavy = sorted({m.split('.')[0] for m in sys.modules} & "
    f"{set(_HEAVY)!r})\n"
    "print('HEAVY', heavy, file=sys.stderr)\n"
    "sys.exit(code)\n"
)


def _execute(url: str, sql: str) -> None:
    """Run one statement on the store with the plain drivers (the test's own hand)."""
    if url.startswith("sqlite"):
        with sqlite3.connect(url.split("///", 1)[1]) as connection:
            connection.execute(sql)
        return
    import psycopg

    conninfo = "postgresql" + url[len("postgresql+psycopg") :]
    with psycopg.connect(conninfo, autocommit=True) as connection:
        connection.execute(sql)


@pytest.fixture
def populated(store_url, monkeypatch) -> str:
    """A store with live, paused, configured and uninstalled rows in two tenants."""
    monkeypatch.setenv("FLEETPROMPT_DATABASE_URL", store_url)
    for args in (
        ("install", "knowledge-base", "--yes"),
        ("configure", "knowledge-base", "max_articles=7"),
        ("pause", "knowledge-base"),
        ("install", "customer-support", "--yes"),
        ("uninstall", "customer-support", "--yes"),
        ("tenant", "create", "acme", "--tier", "pro"),
        ("install", "knowledge-base", "--yes", "--tenant", "acme"),
    ):
        result = run_cli(*args)
        assert result.exit_code == 0, (args, result.stderr)
    return store_url


def _orm_refused() -> Any:
    raise AssertionError("the fast path opened the ORM store")


def test_fast_reader_and_orm_give_equal_results(populated):
    fast = StateSource(populated, _orm_refused)
    store = open_store(populated)
    try:
        directive = inspecting.list_directives(store, "default", limit=None)[-1].id
        calls = [
            lambda s: inspecting.list_installations(s, "default"),
            lambda s: inspecting.list_installations(s, "default", include_all=True),
            lambda s: inspecting.list_installations(s, "acme"),
            lambda s: inspecting.status(s, "default"),
            lambda s: inspecting.status(s, "default", "knowledge-base"),
            lambda s: inspecting.status(s, "default", "customer-support"),
            lambda s: inspecting.status(s, "default", directive[:8]),
            lambda s: inspecting.installation_detail(s, "default", "knowledge-base"),
            lambda s: inspecting.directive_detail(s, "default", directive),
            lambda s: inspecting.list_directives(s, "default"),
            lambda s: inspecting.list_directives(s, "default", status="succeeded", limit=2),
            lambda s: inspecting.history(s, "default"),
            lambda s: inspecting.history(s, "default", "knowledge-base", limit=2),
            lambda s: inspecting.list_signals(s, "default"),
            lambda s: inspecting.list_signals(s, "default", after=2, limit=3),
            lambda s: list_tenants(s),
        ]
        for number, call in enumerate(calls):
            orm, quick = call(store), call(fast)
            assert quick == orm, number
            document = orm.to_json() if hasattr(orm, "to_json") else [o.to_json() for o in orm]
            assert json.dumps(document, default=str), number
        # Not a smoke test: the state above is not empty anywhere.
        assert len(inspecting.list_signals(fast, "default")) >= 4
        assert inspecting.history(fast, "default", "knowledge-base")[-1].transition == "pause"
        changed = [
            r.config_diff["changed"]
            for r in inspecting.history(fast, "default")
            if r.config_diff and r.config_diff["changed"]
        ]
        assert changed == [{"max_articles": [2000, 7]}]
        for call in (
            lambda s: inspecting.list_installations(s, "nobody"),
            lambda s: inspecting.history(s, "default", "never-installed"),
            lambda s: inspecting.directive_detail(s, "default", "ffffffff"),
            lambda s: inspecting.status(s, "default", "no-such-thing"),
        ):
            with pytest.raises(NotFound) as orm_error:
                call(store)
            with pytest.raises(NotFound) as fast_error:
                call(fast)
            assert str(fast_error.value) == str(orm_error.value)
    finally:
        store.dispose()


# PostgreSQL only: SQLite reads through the stdlib.
@pytest.mark.postgres
@pytest.mark.parametrize("store_url", ["postgres"], indirect=True)
def test_without_libpq_the_fast_reader_uses_psycopg_with_equal_results(populated, monkeypatch):
    assert populated.startswith("postgresql")
    from fleetprompt_cli.store import libpq

    fast = StateSource(populated, _orm_refused)
    calls = [
        lambda s: inspecting.list_installations(s, "default", include_all=True),
        lambda s: inspecting.status(s, "default", "knowledge-base"),
        lambda s: inspecting.installation_detail(s, "default", "knowledge-base"),
        lambda s: inspecting.list_directives(s, "default"),
        lambda s: inspecting.history(s, "default"),
        lambda s: inspecting.list_signals(s, "default"),
        lambda s: list_tenants(s),
    ]
    over_libpq = [call(fast) for call in calls]
    with fastread.reader(populated) as reader:
        assert reader._libpq
    # No libpq to load (as without psycopg's binary wheel nor a system libpq5).
    monkeypatch.setattr(libpq, "_LIBRARY", None)
    monkeypatch.setattr(libpq, "_candidates", lambda: ["/nonexistent/libpq.so.5"])
    with pytest.raises(libpq.Unavailable):
        libpq.load()
    with fastread.reader(populated) as reader:
        assert not reader._libpq
    assert [call(fast) for call in calls] == over_libpq
    assert over_libpq[0].installations


def test_installed_lists_live_rows(populated):
    rows = fastread.installed(populated, "default")
    assert [(r.slug, r.status, r.requested) for r in rows] == [
        ("core-skills", "active", False),
        ("data-connectors", "active", False),
        ("knowledge-base", "paused", True),
    ]
    assert rows[-1].config["max_articles"] == 7
    assert rows[-1].pending_version is None
    with pytest.raises(NotFound, match="unknown tenant 'nobody'"):
        fastread.installed(populated, "nobody")


def _run(home: Path, url: str, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "FLEETPROMPT_DEBUG"}
    env.update(FLEETPROMPT_HOME=str(home), FLEETPROMPT_DATABASE_URL=url, NO_COLOR="1", COLUMNS="80")
    return subprocess.run(
        [sys.executable, "-c", _PROBE, *args], capture_output=True, text=True, env=env, timeout=120
    )


def test_read_commands_import_no_orm(populated, tmp_path):
    home = Path(os.environ["FLEETPROMPT_HOME"])
    directive = inspecting.list_directives(StateSource(populated, _orm_refused), "default")[0].id
    commands = [
        ["list"],
        ["list", "--all", "--json"],
        ["status"],
        ["status", "knowledge-base"],
        ["status", directive[:8], "--json"],
        ["history"],
        ["history", "knowledge-base", "--json"],
        ["directives", "list"],
        ["directives", "show", directive],
        ["signals"],
        ["signals", "--json"],
        ["signals", "list", "--type", "fleetprompt.package.*", "--json"],
        ["tenant", "list"],
        ["db", "status"],
        ["show", "knowledge-base", "--tenant", "acme"],
        ["install", "knowledge-base"],
        ["install", "knowledge-base", "--json"],
        ["list", "--tenant", "acme"],
    ]
    for args in commands:
        result = _run(home, populated, *args)
        assert result.returncode == 0, (args, result.stderr[-800:])
        assert "HEAVY []" in result.stderr, (args, result.stderr[-800:])
        # Same bytes as the in-process run (the suite's, which may take any path).
        in_process = run_cli(*args)
        assert result.stdout == in_process.stdout, args
    noop = json.loads(_run(home, populated, "install", "knowledge-base", "--json").stdout)
    assert noop["status"] == "nothing_to_do"
    # Writing commands still work after the fast reads (and import the ORM).
    result = _run(home, populated, "resume", "knowledge-base")
    assert result.returncode == 0, result.stderr


def _set_revision(url: str, revision: str) -> None:
    _execute(url, f"UPDATE {VERSION_TABLE} SET version_num = '{revision}'")


@pytest.mark.parametrize(
    ("revision", "words"),
    [
        ("9999_from_the_future", "upgrade fleetprompt"),
        ("0001", "run 'fleetprompt db upgrade'"),
    ],
)
def test_store_at_another_revision_is_never_read(populated, revision, words):
    _set_revision(populated, revision)
    if revision == "0001" and populated.startswith("sqlite"):
        # SQLite stores migrate on first use, as before: the fast reader hands
        # the command to the ORM path, which migrates (from a real 0001 this
        # would upgrade; here the tables are already newer, so just check
        # that the fast path did not read an old store).
        with pytest.raises(fastread.Fallback) as fallback:
            fastread.open_reader(populated)
        assert (fallback.value.state, fallback.value.current) == ("older", "0001")
        return
    for args in (["list"], ["status"], ["history"], ["signals"], ["tenant", "list"]):
        result = run_cli(*args, "--json")
        assert result.exit_code == ExitCode.UNAVAILABLE, (args, result.stderr)
        assert f"state store schema is at {revision}" in result.stderr
        assert words in result.stderr
        assert json.loads(result.stdout)["error"]["kind"]
    # show never creates or migrates: it refuses a store it cannot read correctly.
    result = run_cli("show", "knowledge-base")
    assert result.exit_code == ExitCode.UNAVAILABLE
    assert f"state store schema is at {revision}, this fleetprompt expects {SCHEMA_HEAD}" in (
        result.stderr
    )
    status = run_cli("db", "status", "--json")
    document = json.loads(status.stdout)
    assert (document["current"], document["expected"]) == (revision, SCHEMA_HEAD)


def test_missing_store_behaves_as_before(tmp_path, monkeypatch):
    database = tmp_path / "fresh" / "state.db"
    url = f"sqlite:///{database}"
    monkeypatch.setenv("FLEETPROMPT_DATABASE_URL", url)
    status = json.loads(run_cli("db", "status", "--json").stdout)
    assert (status["current"], status["state"]) == (None, "empty")
    assert not database.exists()
    shown = run_cli("show", "knowledge-base", "--json")
    assert shown.exit_code == 0
    assert json.loads(shown.stdout)["package"]["installed"] is None
    assert not database.exists()
    # As before: the first read command creates and migrates the store and
    # the default tenant (through the ORM path), then answers.
    listed = run_cli("list")
    assert listed.exit_code == 0, listed.stderr
    assert "Nothing installed in tenant default." in listed.stderr
    assert database.exists()
    assert fastread.schema_revision(url) == SCHEMA_HEAD
    with fastread.reader(url) as reader:
        assert [t.slug for t in fastread.list_tenants(reader)] == ["default"]


def test_default_tenant_missing_falls_back_to_creating_it(empty_store_url, monkeypatch):
    monkeypatch.setenv("FLEETPROMPT_DATABASE_URL", empty_store_url)
    assert run_cli("tenant", "create", "acme").exit_code == 0
    with fastread.reader(empty_store_url) as reader, pytest.raises(fastread.Fallback) as fallback:
        fastread.get_tenant(reader, "default")
    assert fallback.value.state == "no-tenant"
    result = run_cli("history", "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["revisions"] == []
    with fastread.reader(empty_store_url) as reader:
        assert fastread.get_tenant(reader, "default").tier == "free"


def test_unreadable_sqlite_store_says_so_once(tmp_path, monkeypatch):
    database = tmp_path / "state.db"
    database.write_bytes(b"this is not a database, just text\n" * 100)
    monkeypatch.setenv("FLEETPROMPT_DATABASE_URL", f"sqlite:///{database}")
    for args in (["list"], ["show", "knowledge-base"]):
        result = run_cli(*args)
        assert result.exit_code == ExitCode.UNAVAILABLE, (args, result.stderr)
        assert "Traceback" not in result.stderr
        assert str(database) in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_placeholders_are_numbered_for_libpq():
    assert fastread._numbered("SELECT 1") == "SELECT 1"
    assert fastread._numbered("a = ? AND b IN (?, ?) LIMIT ?") == (
        "a = $1 AND b IN ($2, $3) LIMIT $4"
    )


def test_install_of_fresh_packages_imports_no_orm(populated):
    """``install --yes`` on a store at the head: previewed, written and installed on
    the plain drivers (store/driverstore.py), a package and its new dependency
    alike; psycopg is the one driver it loads, on PostgreSQL.  (A package that
    subscribes to signals takes the general installer, which uses the ORM.)"""
    home = Path(os.environ["FLEETPROMPT_HOME"])
    allowed = {"psycopg"} if populated.startswith("postgresql") else set()
    assert run_cli("install", "code-review", "--yes").exit_code == 0
    assert run_cli("uninstall", "code-review", "--yes").exit_code == 0
    assert run_cli("tenant", "create", "beta").exit_code == 0
    for args in (
        ["install", "code-review", "--yes"],  # its archive cached
        ["install", "code-review", "--yes", "--tenant", "beta"],  # core-skills with it
    ):
        result = _run(home, populated, *args)
        assert result.returncode == 0, (args, result.stderr[-800:])
        heavy = result.stderr.rsplit("HEAVY ", 1)[1].strip()
        assert set(json.loads(heavy.replace("'", '"'))) <= allowed, (args, heavy)
    for tenant, expected in (
        ("default", {"code-review", "core-skills", "data-connectors"}),
        ("beta", {"code-review", "core-skills"}),
    ):
        listed = json.loads(run_cli("list", "--tenant", tenant, "--json").stdout)
        live = {i["slug"] for i in listed["installations"] if i["status"] == "active"}
        assert expected <= live, tenant
