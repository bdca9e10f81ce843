"""The installer's fast path writes exactly what the general path writes.

``store/install_step.py`` runs a fresh install step in two
transactions of hand-written SQL; the general runner in four of ORM
statements.  The same commands are run once with the fast path and once
without it, on each backend, and every row of every table the installer
writes is compared, column by column (ids, uuids and timestamps replaced by
what they point at, or dropped).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from fleetprompt_cli.actions import directive_runner
from fleetprompt_cli.store import install_step
from tests.helpers import run_cli

# Each command as a user runs it; fresh installs take the fast path.
SCENARIO = [
    ("install", "fx-base==1.0.0", "--yes"),
    ("install", "fx-mid", "--yes"),
    ("install", "fx-top", "--yes"),
    ("uninstall", "fx-top", "--yes"),
    ("install", "fx-top", "--yes"),
    ("tenant", "create", "acme"),
    # Three steps: the first takes the fast path, the others the general one.
    ("install", "fx-top", "--tenant", "acme", "--yes"),
    ("tenant", "create", "zeta"),
    ("install", "fx-base==1.0.0", "--tenant", "zeta", "--yes"),
    ("uninstall", "fx-base", "--tenant", "zeta", "--yes"),
    ("install", "fx-base==1.0.0", "--tenant", "zeta", "--yes"),
    # A config: the installation's, the revisions' and the release's diffs.
    ("install", "needs-config", "--config", "region=eu", "--yes"),
    ("uninstall", "needs-config", "--yes"),
    ("install", "needs-config", "--config", "region=us", "--config", "limit=3", "--yes"),
]

TABLES = [
    "tenants",
    "tenant_counters",
    "installations",
    "installed_resources",
    "directives",
    "directive_steps",
    "revisions",
    "releases",
    "package_stats",
    "signals",
    "subscriptions",
]
# Different on every run: row ids, uuids, clocks, lease holders.
VOLATILE = {
    "id",
    "pk",
    "created_at",
    "updated_at",
    "started_at",
    "finished_at",
    "installed_at",
    "heartbeat_at",
    "lease_expires_at",
    "lease_owner",
    "at",
    "time",
}


def _plain(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def dump() -> dict[str, list]:
    """Every row the installer writes, with ids replaced by what they name."""
    from sqlalchemy import text

    from tests.queue.support import store_for

    store = store_for()
    try:
        with store.connection(readonly=True) as c:
            rows = {
                table: [dict(r._mapping) for r in c.execute(text(f"SELECT * FROM {table}"))]
                for table in TABLES
            }
    finally:
        store.dispose()
    tenants = {r["id"]: r["slug"] for r in rows["tenants"]}
    installations = {
        r["id"]: f"{tenants[r['tenant_id']]}/{r['slug']}#{n}"
        for n, r in enumerate(sorted(rows["installations"], key=lambda r: r["id"]))
    }
    directives = {
        r["id"]: f"directive#{n}"
        for n, r in enumerate(sorted(rows["directives"], key=lambda r: str(r["created_at"])))
    }
    names = {
        "tenant_id": tenants,
        "installation_id": installations,
        "directive_id": directives,
        "correlation_id": directives,
        "causation_id": directives,
    }
    out: dict[str, list] = {}
    for table, found in rows.items():
        cleaned = []
        for row in found:
            record = {}
            for key, value in row.items():
                if key in VOLATILE:
                    continue
                record[key] = names[key].get(value, value) if key in names else _plain(value)
            cleaned.append(json.dumps(record, sort_keys=True, default=str))
        out[table] = sorted(cleaned)
    return out


def run_scenario() -> None:
    for command in SCENARIO:
        result = run_cli(*command)
        assert result.exit_code == 0, (command, result.stdout, result.stderr)


@pytest.fixture
def fx_env(fx_index, monkeypatch):
    monkeypatch.setenv("FLEETPROMPT_INDEX", str(fx_index))
    monkeypatch.setenv("FLEETPROMPT_ACTOR", "tester")
    monkeypatch.setenv("NO_COLOR", "1")


def _general_path_on_a_new_store(backend, tmp_path, monkeypatch, request) -> None:
    """From here on: the fast path off, a new home and an empty store of the backend."""
    monkeypatch.setattr(directive_runner, "FAST_PATH", False)
    monkeypatch.setenv("FLEETPROMPT_HOME", str(tmp_path / "general-home"))
    if backend.startswith("postgresql"):
        second = request.getfixturevalue("postgres_store_url")
    else:
        second = f"sqlite:///{tmp_path / 'general.db'}"
    monkeypatch.setenv("FLEETPROMPT_DATABASE_URL", second)


def test_fast_and_general_paths_write_the_same_rows(
    backend, fx_env, tmp_path, monkeypatch, request
):
    taken = []
    real = install_step.install_fresh

    def counting(*args: Any, **kwargs: Any) -> bool:
        taken.append(args[3].slug)
        return real(*args, **kwargs)

    monkeypatch.setattr(install_step, "install_fresh", counting)
    run_scenario()
    fast = dump()
    # Every fresh install step went the fast way: the first of a directive
    # marked running by the claim, the later ones (acme's fx-mid and fx-top
    # after fx-base) by install_step.start_fresh.
    assert taken == [
        *("fx-base", "fx-mid", "fx-top", "fx-top", "fx-base", "fx-mid", "fx-top"),
        *("fx-base", "fx-base", "needs-config", "needs-config"),
    ]

    # The same commands on a new store, without the fast path.
    _general_path_on_a_new_store(backend, tmp_path, monkeypatch, request)
    taken.clear()
    run_scenario()
    assert taken == []
    general = dump()
    assert fast.keys() == general.keys()
    for table in TABLES:
        assert fast[table] == general[table], table
    # The comparison compared something.
    assert len(fast["releases"]) == 11 and len(fast["revisions"]) > 20
    assert any('"region": "us"' in row for row in fast["releases"])


# Packages of the bundled index that subscribe to signals, with and
# without subscribers before them in the tenant (offsets after signals).
SUBSCRIBERS = [
    ("install", "customer-support", "--yes"),
    ("install", "knowledge-base", "--yes"),  # two handlers; two dependencies first
    ("uninstall", "customer-support", "--yes"),
    ("install", "customer-support", "--yes"),
    ("tenant", "create", "acme"),
    ("install", "employee-onboarding", "--tenant", "acme", "--yes"),
]


TAKEN = [
    ("customer-support", 1),
    *(("core-skills", 0), ("data-connectors", 0), ("knowledge-base", 2)),
    ("customer-support", 1),
    *(("core-skills", 0), ("comms-skills", 0), ("data-connectors", 0)),
    *(("knowledge-base", 2), ("employee-onboarding", 1)),
]


def test_subscribing_packages_take_the_fast_path_with_the_same_rows(
    backend, monkeypatch, tmp_path, request
):
    taken = []
    real = install_step.install_fresh

    def counting(*args: Any, **kwargs: Any) -> bool:
        taken.append((args[3].slug, len(args[3].subscriptions)))
        return real(*args, **kwargs)

    monkeypatch.setattr(install_step, "install_fresh", counting)
    monkeypatch.setenv("FLEETPROMPT_ACTOR", "tester")
    for command in SUBSCRIBERS:
        result = run_cli(*command)
        assert result.exit_code == 0, (command, result.stderr)
    fast = dump()
    # Every step of every install went the fast way, subscribers with theirs.
    assert taken == TAKEN, taken

    _general_path_on_a_new_store(backend, tmp_path, monkeypatch, request)
    taken.clear()
    for command in SUBSCRIBERS:
        assert run_cli(*command).exit_code == 0, command
    assert taken == []
    general = dump()
    for table in TABLES:
        assert fast[table] == general[table], table
    # The comparison compared subscribers that started at different offsets.
    offsets = {json.loads(row)["offset"] for row in fast["subscriptions"]}
    assert len(fast["subscriptions"]) == 6 and len(offsets) > 1


def test_a_fast_attempt_that_fails_is_retried_by_the_general_path(backend, fx_env, monkeypatch):
    calls = []

    def broken(*args: Any, **kwargs: Any) -> bool:
        calls.append(args[3].slug)
        raise install_step.NotFresh("fx-base: its installation changed while the step was starting")

    monkeypatch.setattr(install_step, "install_fresh", broken)
    result = run_cli("install", "fx-base==1.0.0", "--yes")
    assert result.exit_code == 0, result.stderr
    assert calls == ["fx-base"]
    from tests.cli.test_faults import _step_attempts

    # The fast attempt counted: the general path's success was the second.
    assert _step_attempts() == {"fx-base": 2}
    listed = json.loads(run_cli("list", "--json").stdout)
    assert [(p["slug"], p["version"], p["status"]) for p in listed["installations"]] == [
        ("fx-base", "1.0.0", "active")
    ]


def test_the_lease_keeper_renews_while_held_and_leaves_no_thread():
    import threading

    keeper = directive_runner._LeaseKeeper()
    renewed = threading.Event()
    token = keeper.hold(lambda: renewed.set() is None, 0.01)
    assert renewed.wait(10)  # Renewed in the background while held.
    assert any(t.name == "lease-keeper" for t in threading.enumerate())
    keeper.drop(token)
    # The last drop stops the thread and waits for it.
    assert keeper._thread is None
    assert not any(
        t.name == "lease-keeper" and t.is_alive() and t is not directive_runner._keeper._thread
        for t in threading.enumerate()
    )


def test_an_archive_this_process_read_installs_in_the_claims_transaction(
    backend, fx_env, monkeypatch
):
    at_once: list[bool] = []
    real = directive_runner._Runner._at_once

    def watching(self: Any, connection: Any, claimed: Any) -> bool:
        at_once.append(real(self, connection, claimed))
        return at_once[-1]

    monkeypatch.setattr(directive_runner._Runner, "_at_once", watching)
    assert run_cli("install", "fx-base==1.0.0", "--yes").exit_code == 0
    # The first read of the archive was in this process: the usual two transactions.
    assert at_once == [False]
    assert run_cli("tenant", "create", "acme").exit_code == 0
    assert run_cli("install", "fx-base==1.0.0", "--tenant", "acme", "--yes").exit_code == 0
    assert at_once == [False, True]
    from tests.queue.support import snapshot

    assert snapshot("acme")["installations"] == snapshot("default")["installations"]


def test_a_write_in_the_claims_transaction_that_fails_is_run_again_the_usual_way(
    backend, fx_env, monkeypatch
):
    assert run_cli("install", "fx-base==1.0.0", "--yes").exit_code == 0
    assert run_cli("tenant", "create", "acme").exit_code == 0
    calls = []
    real = install_step.install_fresh

    def failing_once(*args: Any, **kwargs: Any) -> bool:
        calls.append(args[3].slug)
        if len(calls) == 1:
            raise install_step.NotFresh("fx-base: changed")
        return real(*args, **kwargs)

    monkeypatch.setattr(install_step, "install_fresh", failing_once)
    result = run_cli("install", "fx-base==1.0.0", "--tenant", "acme", "--yes")
    assert result.exit_code == 0, result.stderr
    # Tried in the claim's transaction (rolled back whole, the claim too),
    # then claimed again and written the usual way: one attempt on record.
    assert calls == ["fx-base", "fx-base"]
    from fleetprompt_cli.store import repository as repo
    from tests.queue.support import store_for

    store = store_for()
    try:
        with store.session(readonly=True) as s:
            tenant = repo.get_tenant(s, "acme")
            (directive,) = repo.list_directives(s, tenant.id)
            (step,) = repo.list_steps(s, tenant.id, directive.id)
            assert (directive.status, directive.attempts) == ("succeeded", 1)
            assert (step.status, step.attempts) == ("done", 1)
    finally:
        store.dispose()


def test_a_directive_whose_later_step_adds_the_first_subscriber_asks_for_dispatch(backend):
    """knowledge-base (it subscribes) after its two new dependencies, all fast:
    the tenant had no subscriber before, so only the last step's write says
    the worker should deliver the directive's signals now."""
    from fleetprompt_cli.actions.state import open_quick
    from fleetprompt_cli.settings import load_settings
    from fleetprompt_cli.store import fastread

    result = run_cli("install", "knowledge-base", "--yes", "--no-wait", "--json")
    assert result.exit_code == 0, result.stderr
    directive = json.loads(result.stdout)["directive"]
    settings = load_settings()
    store = open_quick(settings)
    try:
        with fastread.reader(settings.database_url) as reader:
            tenant_id = fastread.get_tenant(reader, "default").id
        taken: list[str] = []
        real = install_step.install_fresh

        def counting(*args: Any, **kwargs: Any) -> bool:
            taken.append(args[3].slug)
            return real(*args, **kwargs)

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(install_step, "install_fresh", counting)
            outcome = directive_runner.run_directive(settings, store, tenant_id, directive)
    finally:
        store.dispose()
    assert outcome.status == "succeeded", outcome.error
    assert taken == ["core-skills", "data-connectors", "knowledge-base"]
    assert outcome.dispatch is True
