"""Operator set-up: SIGTERM finishes or releases the running directive; JSON log lines.

A real worker process is held in the middle of a directive by a fault hook
(``step-started:2=hold``: fx-base is done, fx-mid's step has started) that
waits on a named pipe, so the test decides when it goes on: no sleeps.
"""

from __future__ import annotations

import json
import os
import signal
from typing import ClassVar

import pytest

from fleetprompt_cli import faults
from fleetprompt_cli.errors import INTERRUPTED
from tests.helpers import run_cli
from tests.queue.support import FX, leftovers, snapshot, store_for
from tests.queue.workers import WorkerProcess


@pytest.fixture(scope="module")
def reference(fx_index, tmp_path_factory) -> dict:
    """A clean install of fx-top, in a home of its own."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FLEETPROMPT_HOME", str(tmp_path_factory.mktemp("reference-home")))
        for name in ("FLEETPROMPT_DATABASE_URL", "FLEETPROMPT_QUEUE_URL", "FLEETPROMPT_FAULT"):
            mp.delenv(name, raising=False)
        mp.setenv("FLEETPROMPT_INDEX", str(fx_index))
        mp.setenv("FLEETPROMPT_ACTOR", "tester")
        mp.setenv("NO_COLOR", "1")
        result = run_cli("install", "fx-top", "--yes")
        assert result.exit_code == 0, result.stderr
        return snapshot()


@pytest.fixture(autouse=True)
def fx_env(fx_index, monkeypatch):
    monkeypatch.setenv("FLEETPROMPT_INDEX", str(fx_index))
    monkeypatch.setenv("FLEETPROMPT_ACTOR", "tester")
    faults._hits.clear()


@pytest.fixture
def hold(tmp_path):
    """A named pipe the held worker waits on; ``release()`` lets it go on."""
    path = tmp_path / "hold.fifo"
    os.mkfifo(path)

    class Hold:
        env: ClassVar[dict[str, str]] = {
            "FLEETPROMPT_FAULT": "step-started:2=hold",
            "FLEETPROMPT_FAULT_HOLD": str(path),
        }

        @staticmethod
        def release() -> None:
            # Opening for writing unblocks the reader's open; closing ends its read.
            with open(path, "wb"):
                pass

    return Hold


def _queued(*args: str) -> str:
    result = run_cli("install", *args, "--yes", "--no-wait", "--json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)["directive"]


def _directive(directive_id: str):
    from fleetprompt_cli.store import repository as repo

    store = store_for()
    try:
        with store.session(readonly=True) as s:
            tenant = repo.get_tenant(s, "default")
            record = repo.get_directive(s, tenant.id, directive_id)
            steps = [(x.slug, x.status) for x in repo.list_steps(s, tenant.id, directive_id)]
            return record.status, record.lease_owner, steps
    finally:
        store.dispose()


def test_sigterm_finishes_the_running_directive_and_takes_no_more(hold, reference):
    first = _queued("fx-top")
    worker = WorkerProcess("--log-format", "json", env=hold.env)
    try:
        worker.wait_for("fault: holding at step-started")
        second = _queued("needs-config", "--config", "region=eu")
        worker.signal(signal.SIGTERM)
        worker.wait_for("stopping: finishing the running directives")
        hold.release()
        code = worker.finish()
    finally:
        worker.stop()
    assert code == 0, worker.lines[-5:]
    records = [json.loads(x) for x in worker.lines if x.startswith("{")]
    (run,) = [r for r in records if r.get("event") == "directive"]
    assert {k: run[k] for k in ("tenant", "directive", "kind", "outcome", "attempts")} == {
        "tenant": "default",
        "directive": first,
        "kind": "install",
        "outcome": "succeeded",
        "attempts": 1,
    }
    assert isinstance(run["duration"], float) and run["duration"] > 0
    assert {r["event"] for r in records} >= {"ready", "directive", "stopped"}
    assert all(r["level"] in ("info", "warning") for r in records)
    # The directive was finished (lease gone with it); the next one was not started.
    assert _directive(first) == ("succeeded", None, [(s, "done") for s in FX])
    assert _directive(second)[:2] == ("pending", None)
    full = snapshot()
    assert {k: full["revisions"][k] for k in FX} == reference["revisions"]
    assert full["resources"] == reference["resources"]


def test_a_second_sigterm_releases_the_directive_and_the_next_worker_finishes_it(
    hold, reference, isolated_home
):
    directive = _queued("fx-top")
    worker = WorkerProcess(env=hold.env)
    try:
        worker.wait_for("fault: holding at step-started")
        status, owner, steps = _directive(directive)
        assert owner is not None and owner.startswith("worker@")
        worker.signal(signal.SIGTERM)
        worker.wait_for("stopping: finishing the running directives")
        worker.signal(signal.SIGTERM)  # Stop now: the interrupted exit code.
        assert worker.finish() == INTERRUPTED, worker.lines[-5:]
    finally:
        worker.stop()
    assert worker.lines[-1] == "interrupted\n"
    assert not any("Traceback" in x for x in worker.lines)
    assert any("released directive " + directive in x for x in worker.lines), worker.lines
    # The lease is released at once (no waiting for it to expire); fx-base
    # is done, fx-mid's step was never committed.
    status, owner, steps = _directive(directive)
    assert (status, owner) == ("running", None)
    assert steps == [("fx-base", "done"), ("fx-mid", "running"), ("fx-top", "pending")]
    state = snapshot(history=False)
    assert [(s, st) for s, _, st, *_ in state["installations"]] == [
        ("fx-base", "active"),
        ("fx-mid", "queued"),  # (its step started on the fast path: nothing written)
        ("fx-top", "queued"),
    ]
    assert {slug for slug, *_ in state["resources"]} == {"fx-base"}
    # The next worker takes it without waiting out a lease.
    done = run_cli("worker", "--once", "--json", env={"FLEETPROMPT_CLAIM_GRACE_SECONDS": "0"})
    assert done.exit_code == 0, done.stderr
    assert json.loads(done.stdout)["outcomes"] == {"succeeded": 1}
    assert snapshot() == reference
    assert leftovers(isolated_home) == []


def test_an_unknown_log_format_is_a_usage_error():
    result = run_cli("worker", "--once", "--log-format", "xml")
    assert result.exit_code == 2
    assert "--log-format" in result.stderr and "text, json" in result.stderr


def test_text_log_lines_stay_the_default():
    directive = _queued("fx-top")
    result = run_cli("worker", "--once")
    assert result.exit_code == 0, result.stderr
    assert f"directive {directive} succeeded" in result.stderr
    assert not any(x.startswith("{") for x in result.stderr.splitlines())
