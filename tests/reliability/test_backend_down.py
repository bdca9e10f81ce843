"""A backend stopped mid-run: one clear message, nothing half-written, work done after restart.

Each test starts its own server on a spare port (``throwaway_postgres``,
``throwaway_redis``: never the shared ones) and stops it while a real
process is in the middle of its work; a fault hook holds that process at a
known point on a named pipe, so nothing sleeps.
"""

from __future__ import annotations

import json
import os
import queue
import uuid

import pytest

from fleetprompt_cli import faults
from tests.helpers import run_cli
from tests.queue.support import FX, leftovers, snapshot
from tests.queue.workers import CliProcess, WorkerProcess, lines_until

pytestmark = pytest.mark.reliability

UNAVAILABLE = 10  # ExitCode.UNAVAILABLE, as the README documents it.


@pytest.fixture(scope="module")
def reference(fx_index, tmp_path_factory) -> dict:
    """A clean install of fx-top, in a home of its own."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FLEETPROMPT_HOME", str(tmp_path_factory.mktemp("reference-home")))
        for name in ("FLEETPROMPT_DATABASE_URL", "FLEETPROMPT_QUEUE_URL", "FLEETPROMPT_FAULT"):
            mp.delenv(name, raising=False)
        mp.setenv("FLEETPROMPT_INDEX", str(fx_index))
        mp.setenv("FLEETPROMPT_ACTOR", "tester")
        result = run_cli("install", "fx-top", "--yes")
        assert result.exit_code == 0, result.stderr
        return snapshot()


@pytest.fixture(autouse=True)
def fx_env(fx_index, monkeypatch):
    monkeypatch.setenv("FLEETPROMPT_INDEX", str(fx_index))
    monkeypatch.setenv("FLEETPROMPT_ACTOR", "tester")
    monkeypatch.setenv("FLEETPROMPT_QUEUE_NAME", f"fptest-{uuid.uuid4().hex[:12]}")
    faults._hits.clear()


@pytest.fixture
def hold_pipe(tmp_path):
    path = tmp_path / "hold.fifo"
    os.mkfifo(path)
    return path


def _release(pipe) -> None:
    with open(pipe, "wb"):
        pass


def _one_error(stderr: str) -> str:
    # (A progress display on a non-terminal may leave its last line open.)
    errors = [x[x.index("error:") :] for x in stderr.splitlines() if "error:" in x]
    assert len(errors) == 1, stderr
    assert "Traceback" not in stderr
    return errors[0]


def _states(tenant: str = "default") -> dict[str, str]:
    return {s: st for s, _, st, *_ in snapshot(tenant)["installations"]}


@pytest.mark.postgres
def test_postgres_stopped_mid_install_then_recover_completes_it(
    throwaway_postgres, hold_pipe, reference, monkeypatch, isolated_home
):
    from fleetprompt_cli.store.engine import upgrade_store

    url = throwaway_postgres.url
    upgrade_store(url)
    # A PostgreSQL-only deployment: the store and the queue on the one server.
    monkeypatch.setenv("FLEETPROMPT_DATABASE_URL", url)
    monkeypatch.setenv("FLEETPROMPT_QUEUE_URL", url)
    install = CliProcess(
        "install",
        "fx-top",
        "--yes",
        env={
            "FLEETPROMPT_FAULT": "step-started:2=hold",
            "FLEETPROMPT_FAULT_HOLD": str(hold_pipe),
            # The lease has expired by the time the server is back (no waiting it out).
            "FLEETPROMPT_LEASE_SECONDS": "0",
        },
    )
    try:
        install.wait_for("fault: holding at step-started")
        throwaway_postgres.stop()  # fx-base is done, fx-mid's step has started.
        _release(hold_pipe)
        code = install.finish()
    finally:
        install.stop()
    stderr = "".join(install.lines)
    assert code == UNAVAILABLE, stderr
    assert "state store" in _one_error(stderr)
    # While it is down, every command says so in one line, with the same code.
    listed = run_cli("list")
    assert listed.exit_code == UNAVAILABLE
    assert "state store" in _one_error(listed.stderr)
    throwaway_postgres.start()
    state = snapshot(history=False)
    # Nothing half-written: fx-base complete, fx-mid not committed.
    assert [(s, st) for s, _, st, *_ in state["installations"]] == [
        ("fx-base", "active"),
        ("fx-mid", "queued"),  # (its step started on the fast path: nothing written)
        ("fx-top", "queued"),
    ]
    assert {slug for slug, *_ in state["resources"]} == {"fx-base"}
    done = run_cli("recover", "--json")
    assert done.exit_code == 0, done.stderr
    assert [d["outcome"] for d in json.loads(done.stdout)["directives"]] == ["succeeded"]
    assert snapshot() == reference
    assert leftovers(isolated_home) == []


@pytest.mark.postgres
def test_a_postgres_only_worker_outlives_a_server_restart(
    throwaway_postgres, monkeypatch, isolated_home
):
    from fleetprompt_cli.store.engine import upgrade_store

    url = throwaway_postgres.url
    upgrade_store(url)
    monkeypatch.setenv("FLEETPROMPT_DATABASE_URL", url)
    monkeypatch.setenv("FLEETPROMPT_QUEUE_URL", url)
    run_cli("tenant", "create", "later")
    worker = WorkerProcess("--log-format", "json", env={"FLEETPROMPT_SWEEP_SECONDS": "0.2"})
    try:
        worker.wait_for('"event":"ready"')
        throwaway_postgres.stop()
        # A command while the server is down: one line, exit 10, nothing written.
        refused = run_cli("install", "fx-top", "--yes", "--no-wait")
        assert refused.exit_code == UNAVAILABLE
        assert "state store" in _one_error(refused.stderr)
        throwaway_postgres.start()
        queued = run_cli("install", "fx-top", "--tenant", "later", "--yes", "--no-wait", "--json")
        assert queued.exit_code == 0, queued.stderr
        directive = json.loads(queued.stdout)["directive"]
        line = worker.wait_for(lambda x: f'"directive":"{directive}"' in x)
    finally:
        assert worker.stop() == 0, worker.lines[-5:]
    assert json.loads(line)["outcome"] == "succeeded"
    assert not any("Traceback" in x for x in worker.lines)
    assert _states("later") == dict.fromkeys(FX, "active")
    assert len(snapshot("later")["directives"]) == 1
    # The refused command wrote nothing (not even its tenant's first row).
    from fleetprompt_cli.errors import NotFound

    with pytest.raises(NotFound):
        snapshot("default")


@pytest.mark.redis
def test_redis_stopped_under_a_worker_then_restarted(throwaway_redis, monkeypatch):
    monkeypatch.setenv("FLEETPROMPT_QUEUE_URL", throwaway_redis.url)
    for tenant in ("before", "during", "after"):
        assert run_cli("tenant", "create", tenant).exit_code == 0
    sink: queue.Queue = queue.Queue()
    worker = WorkerProcess(
        "--log-format",
        "json",
        env={"FLEETPROMPT_SWEEP_SECONDS": "0.2", "FLEETPROMPT_CLAIM_GRACE_SECONDS": "0"},
        sink=sink,
    )

    def queued(tenant: str) -> tuple[str, str]:
        result = run_cli("install", "fx-top", "--tenant", tenant, "--yes", "--no-wait", "--json")
        assert result.exit_code == 0, result.stderr
        return json.loads(result.stdout)["directive"], result.stderr

    def ran(directive: str):
        return lambda lines: any(f'"directive":"{directive}"' in x for x in lines)

    try:
        worker.wait_for('"event":"ready"')
        first, warned = queued("before")
        assert warned == ""
        lines_until(sink, ran(first))
        throwaway_redis.stop()
        # The queue is down: the directive is safe in the store, the command
        # says so in one warning, and the worker's sweep runs it from the store.
        second, warned = queued("during")
        assert len(warned.strip().splitlines()) == 1
        assert "could not notify the installer queue" in warned
        lines_until(sink, ran(second))
        throwaway_redis.start()
        third, warned = queued("after")
        assert warned == ""
        lines_until(sink, ran(third))
    finally:
        assert worker.stop() == 0, worker.lines[-5:]
    runs = [json.loads(x) for x in worker.lines if '"event":"directive"' in x]
    assert sorted(r["directive"] for r in runs) == sorted([first, second, third])
    assert {r["outcome"] for r in runs} == {"succeeded"}
    assert not any("Traceback" in x for x in worker.lines)
    for tenant in ("before", "during", "after"):
        assert _states(tenant) == dict.fromkeys(FX, "active")
