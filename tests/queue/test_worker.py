"""The worker: JSON wake-ups, no-op wake-ups, the sweep, and SIGTERM as a graceful stop."""

from __future__ import annotations

import json
import os
import pickle
import queue
import signal
import subprocess
import sys
import threading

import pytest

from tests.helpers import run_cli
from tests.queue.support import FX, snapshot, store_for


@pytest.fixture(autouse=True)
def fx_env(fx_index, monkeypatch):
    monkeypatch.setenv("FLEETPROMPT_INDEX", str(fx_index))
    monkeypatch.setenv("FLEETPROMPT_ACTOR", "tester")


def _settings():
    from fleetprompt_cli.settings import load_settings

    return load_settings()


def test_messages_are_json_and_foreign_ones_are_refused():
    from fleetprompt_cli.queue import get_huey

    huey = get_huey(_settings())
    huey.fleetprompt_run(7, "d-1")
    raw = huey.storage.enqueued_items()[-1]
    document = json.loads(raw)
    assert document["args"] == [7, "d-1"]
    assert document["name"].endswith("fleetprompt.run_directive")
    task = huey.dequeue()
    assert task.args == (7, "d-1")
    with pytest.raises(ValueError):
        huey.serializer.deserialize(pickle.dumps({"name": "os.system"}))
    with pytest.raises(ValueError, match="not a fleetprompt task"):
        huey.serializer.deserialize(json.dumps({"name": "evil.task", "id": "x"}).encode())


def _queued(*args: str) -> str:
    result = run_cli("install", *args, "--yes", "--no-wait", "--json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)["directive"]


def test_wakeups_for_finished_held_or_unknown_directives_are_no_ops():
    from fleetprompt_cli.actions.worker import WorkerContext, _install, handle_wakeup
    from fleetprompt_cli.store import repository as repo

    directive = _queued("fx-top")
    settings = _settings()
    store = store_for(settings)
    _install(WorkerContext(settings, store))
    try:
        with store.session() as s:
            tenant_id = repo.get_tenant(s, "default").id
            assert repo.claim_directive(s, tenant_id, directive, "someone", lease_seconds=600)
        assert handle_wakeup(tenant_id, directive) == "busy"
        with store.session() as s:
            assert repo.get_directive(s, tenant_id, directive).lease_owner == "someone"
            assert repo.release(s, tenant_id, directive, "someone")
        assert handle_wakeup(tenant_id, directive) == "succeeded"
        assert handle_wakeup(tenant_id, directive) == "busy"  # finished
        # An id the tenant does not have cannot be claimed: the same no-op.
        assert handle_wakeup(tenant_id, "no-such-directive") == "busy"
        assert handle_wakeup(tenant_id + 99, directive) == "busy"
    finally:
        _install(None)
        store.dispose()
    assert [d[:2] for d in snapshot()["directives"]] == [("install", "succeeded")]


def test_sweep_wakes_expired_and_unclaimed_directives(monkeypatch):
    from fleetprompt_cli.actions.worker import WorkerContext, sweep_once
    from fleetprompt_cli.queue import get_huey
    from fleetprompt_cli.store import repository as repo

    directive = _queued("fx-top")
    settings = _settings()
    huey = get_huey(settings)
    huey.flush()  # The wake-up is lost.
    store = store_for(settings)
    context = WorkerContext(settings, store)
    try:
        assert sweep_once(context) == []  # Unclaimed, but still within the grace.
        monkeypatch.setenv("FLEETPROMPT_CLAIM_GRACE_SECONDS", "0")
        (found,) = sweep_once(context)
        assert (found.directive_id, found.lease_owner) == (directive, None)
        assert len(huey.storage.enqueued_items()) == 1
        huey.flush()
        monkeypatch.delenv("FLEETPROMPT_CLAIM_GRACE_SECONDS")
        with store.session() as s:
            tenant_id = repo.get_tenant(s, "default").id
            assert repo.claim_directive(s, tenant_id, directive, "dead", lease_seconds=0)
        (found,) = sweep_once(context)
        assert found.lease_owner == "dead"
    finally:
        store.dispose()
    result = run_cli("worker", "--once", "--workers", "2", "--json")
    assert json.loads(result.stdout)["outcomes"] == {"succeeded": 1}


def test_worker_once_with_two_threads_across_tenants():
    from fleetprompt_cli.store import repository as repo

    store = store_for()
    try:
        with store.session() as s:
            for n in range(4):
                repo.create_tenant(s, f"t{n}")
    finally:
        store.dispose()
    for n in range(4):
        _queued("fx-top", "--tenant", f"t{n}")
    result = run_cli("worker", "--once", "--workers", "2", "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["outcomes"] == {"succeeded": 4}
    for n in range(4):
        assert [s for s, _, st, *_ in snapshot(f"t{n}")["installations"] if st == "active"] == list(
            FX
        )


def test_consumer_stops_gracefully_on_sigterm():
    from fleetprompt_cli.actions.worker import WorkerContext
    from fleetprompt_cli.queue.consumer import make_consumer

    consumer = make_consumer(_fake_huey(), WorkerContext(_settings(), None), workers=2, interval=1)
    # SIGTERM: stop taking work, let running directives finish; SIGINT: stop now.
    assert consumer._signal_actions[signal.SIGTERM] == (False, True)
    assert consumer._signal_actions[signal.SIGINT] == (False, False)
    assert len(consumer.worker_threads) == 2


def _fake_huey():
    from fleetprompt_cli.queue import get_huey

    return get_huey(_settings())


def test_worker_process_runs_work_and_exits_on_sigterm():
    directive = _queued("fx-top")
    env = {**os.environ, "FLEETPROMPT_SWEEP_SECONDS": "1"}
    worker = subprocess.Popen(
        [sys.executable, "-m", "fleetprompt_cli", "worker", "--workers", "2"],
        env=env,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    lines: queue.Queue = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(x) for x in worker.stderr], daemon=True)
    reader.start()
    try:
        seen = []
        while not any(f"directive {directive} succeeded" in x for x in seen):
            seen.append(lines.get(timeout=60))
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=30) == 0
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
        reader.join(timeout=30)
        worker.stderr.close()
    while not lines.empty():
        seen.append(lines.get())
    assert any("worker stopped: 1 wake-up(s) (1 succeeded)" in x for x in seen), seen
    assert {s: st for s, _, st, *_ in snapshot()["installations"]} == dict.fromkeys(FX, "active")


def test_a_runner_whose_lease_was_taken_over_commits_nothing_more():
    from datetime import UTC, datetime, timedelta

    from fleetprompt_cli.actions.directive_runner import run_directive
    from fleetprompt_cli.store import repository as repo

    directive = _queued("fx-top")
    settings = _settings()
    store = store_for(settings)
    try:
        with store.session() as s:
            tenant_id = repo.get_tenant(s, "default").id
        taken: list[str] = []

        def take_over(event):
            # The first runner stalls inside fx-mid's step (after renewing its
            # lease) long enough for the lease to lapse, and another process
            # claims the directive.
            if event.slug == "fx-mid" and event.status == "installing" and not taken:
                later = datetime.now(UTC) + timedelta(hours=1)
                with store.session() as s:
                    assert repo.claim_directive(
                        s, tenant_id, directive, "successor", lease_seconds=600, now=later
                    )
                taken.append(event.slug)

        outcome = run_directive(
            settings, store, tenant_id, directive, owner="first", progress=take_over
        )
        assert outcome.status == "lost"
        with store.session(readonly=True) as s:
            steps = [(x.slug, x.status) for x in repo.list_steps(s, tenant_id, directive)]
            record = repo.get_directive(s, tenant_id, directive)
            mid = repo.get_installation(s, tenant_id, "fx-mid")
        # fx-base was done before the takeover; of fx-mid only its start (the
        # step running, its attempt counted, before the stall) was committed.
        assert steps == [("fx-base", "done"), ("fx-mid", "running"), ("fx-top", "pending")]
        assert (record.status, record.lease_owner) == ("running", "successor")
        assert mid.status == "queued"
        # The new holder finishes the directive as if nothing had happened.
        done = run_directive(settings, store, tenant_id, directive, owner="successor")
        assert done.status == "succeeded"
    finally:
        store.dispose()
    state = snapshot()
    assert [(slug, status) for slug, _, status, *_ in state["installations"]] == [
        (slug, "active") for slug in FX
    ]
    assert [d[:2] for d in state["directives"]] == [("install", "succeeded")]
