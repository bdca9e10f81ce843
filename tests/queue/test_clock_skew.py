"""Leases: measured with the database's clock, and renewed while a long step runs.

A runner whose clock is 120 s off (FLEETPROMPT_FAULT_CLOCK_OFFSET) neither
loses its live lease to a process with a correct clock nor steals one.  On
SQLite and on PostgreSQL+Redis (the ``backend`` fixture).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.helpers import run_cli
from tests.queue.support import FX, snapshot, store_for


@pytest.fixture(autouse=True)
def fx_env(fx_index, backend, monkeypatch):
    monkeypatch.setenv("FLEETPROMPT_INDEX", str(fx_index))
    monkeypatch.setenv("FLEETPROMPT_ACTOR", "tester")
    monkeypatch.delenv("FLEETPROMPT_LEASE_SECONDS", raising=False)
    monkeypatch.delenv("FLEETPROMPT_FAULT_CLOCK_OFFSET", raising=False)


def _queued() -> tuple[int, str]:
    from fleetprompt_cli.store import repository as repo

    result = run_cli("install", "fx-top", "--yes", "--no-wait", "--json")
    assert result.exit_code == 0, result.stderr
    store = store_for()
    try:
        with store.session(readonly=True) as s:
            tenant_id = repo.get_tenant(s, "default").id
    finally:
        store.dispose()
    return tenant_id, json.loads(result.stdout)["directive"]


def _recover_with_a_correct_clock() -> list:
    env = {k: v for k, v in os.environ.items() if k != "FLEETPROMPT_FAULT_CLOCK_OFFSET"}
    done = subprocess.run(
        [sys.executable, "-m", "fleetprompt_cli", "recover", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)["directives"]


def test_a_runner_whose_clock_is_slow_keeps_its_live_lease(monkeypatch):
    from fleetprompt_cli.actions.directive_runner import run_directive
    from fleetprompt_cli.settings import load_settings

    tenant_id, directive = _queued()
    monkeypatch.setenv("FLEETPROMPT_FAULT_CLOCK_OFFSET", "-120")
    settings = load_settings()
    store = store_for(settings)
    found: list = []

    def meanwhile(event):
        # Mid-run, a process with a correct clock looks for stranded work.
        if event.slug == "fx-mid" and event.status == "installing" and not found:
            found.append(_recover_with_a_correct_clock())

    try:
        outcome = run_directive(settings, store, tenant_id, directive, progress=meanwhile)
    finally:
        store.dispose()
    assert found == [[]]  # Nothing looked stranded: the lease is live.
    assert (outcome.status, outcome.error) == ("succeeded", None)
    assert {s: st for s, _, st, *_ in snapshot()["installations"]} == dict.fromkeys(FX, "active")


def test_a_runner_whose_clock_is_fast_does_not_steal_a_live_lease(monkeypatch):
    from fleetprompt_cli.actions.directive_runner import run_directive
    from fleetprompt_cli.settings import load_settings
    from fleetprompt_cli.store import repository as repo

    tenant_id, directive = _queued()
    store = store_for()
    try:
        with store.session() as s:
            assert repo.claim_directive(s, tenant_id, directive, "someone", lease_seconds=60)
    finally:
        store.dispose()
    monkeypatch.setenv("FLEETPROMPT_FAULT_CLOCK_OFFSET", "120")
    recovered = run_cli("recover", "--json")
    assert recovered.exit_code == 0, recovered.stderr
    assert json.loads(recovered.stdout)["directives"] == []
    settings = load_settings()
    store = store_for(settings)
    try:
        assert run_directive(settings, store, tenant_id, directive).status == "busy"
        with store.session(readonly=True) as s:
            assert repo.get_directive(s, tenant_id, directive).lease_owner == "someone"
    finally:
        store.dispose()


def test_a_step_longer_than_the_lease_keeps_its_lease(monkeypatch):
    import time

    from fleetprompt_cli.actions.directive_runner import run_directive
    from fleetprompt_cli.settings import load_settings
    from fleetprompt_cli.store import repository as repo

    monkeypatch.setenv("FLEETPROMPT_LEASE_SECONDS", "1.5")
    tenant_id, directive = _queued()
    settings = load_settings()
    store = store_for(settings)
    try:
        stolen: list[bool] = []

        def slow_step(event):
            # fx-mid's step outlasts the lease (as a long fetch would): once
            # the database's clock is past the lease it started with, another
            # process tries to take the directive over.
            if event.slug != "fx-mid" or event.status != "installing" or stolen:
                return
            with store.session(readonly=True) as s:
                started = repo.get_directive(s, tenant_id, directive).lease_expires_at
            deadline = time.monotonic() + 30  # A bound for a broken test, not a wait.
            while time.monotonic() < deadline:
                with store.session(readonly=True) as s:
                    if repo.database_now(s) > started:
                        break
                time.sleep(0.05)
            with store.session() as s:
                stolen.append(
                    repo.claim_directive(s, tenant_id, directive, "thief", lease_seconds=60)
                )

        outcome = run_directive(settings, store, tenant_id, directive, progress=slow_step)
    finally:
        store.dispose()
    assert stolen == [False]
    assert outcome.status == "succeeded"


def test_several_sweeping_workers_wake_a_stranded_directive_once(monkeypatch):
    from fleetprompt_cli.actions.worker import WorkerContext, sweep_once
    from fleetprompt_cli.queue import get_huey
    from fleetprompt_cli.settings import load_settings

    _queued()
    settings = load_settings()
    huey = get_huey(settings)
    huey.flush()  # Its wake-up was lost.
    monkeypatch.setenv("FLEETPROMPT_CLAIM_GRACE_SECONDS", "0")
    store = store_for(settings)
    try:
        # Three workers sweep, twice each, before any of them runs anything.
        for _ in range(2):
            for _ in range(3):
                sweep_once(WorkerContext(settings, store))
        assert huey.pending_count() == 1
    finally:
        store.dispose()
    result = run_cli("worker", "--once", "--json")
    assert json.loads(result.stdout)["outcomes"] == {"succeeded": 1}
