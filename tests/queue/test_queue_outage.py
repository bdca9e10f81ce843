"""A queue that is down: workers keep sweeping the store and run what they find there.

The queue URL points at a port nothing listens on (never the shared Redis
stopped); the store is SQLite or PostgreSQL (the ``store_url`` fixture).
"""

from __future__ import annotations

import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

from tests.helpers import run_cli
from tests.queue.support import FX, snapshot


def _dead_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(autouse=True)
def dead_queue(fx_index, store_url, monkeypatch):
    monkeypatch.setenv("FLEETPROMPT_INDEX", str(fx_index))
    monkeypatch.setenv("FLEETPROMPT_ACTOR", "tester")
    monkeypatch.setenv("FLEETPROMPT_DATABASE_URL", store_url)
    monkeypatch.setenv("FLEETPROMPT_QUEUE_URL", f"redis://127.0.0.1:{_dead_port()}/0")
    # Found by the first sweep: no claim grace to wait out.
    monkeypatch.setenv("FLEETPROMPT_CLAIM_GRACE_SECONDS", "0")


def _queue_while_down() -> str:
    result = run_cli("install", "fx-top", "--yes", "--no-wait", "--json")
    assert result.exit_code == 0, result.stderr
    assert "could not notify the installer queue" in result.stderr
    return json.loads(result.stdout)["directive"]


def _active() -> dict[str, str]:
    return {s: st for s, _, st, *_ in snapshot()["installations"]}


def test_worker_once_finishes_and_runs_stranded_work(dead_queue):
    _queue_while_down()
    done = subprocess.run(
        [sys.executable, "-m", "fleetprompt_cli", "worker", "--once", "--json"],
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout)["outcomes"] == {"succeeded": 1}
    assert "queue unreachable" in done.stderr
    assert len(done.stderr.splitlines()) < 50  # No spinning.
    assert _active() == dict.fromkeys(FX, "active")


def test_long_running_worker_runs_stranded_work_while_the_queue_is_down(dead_queue):
    directive = _queue_while_down()
    env = {**os.environ, "FLEETPROMPT_SWEEP_SECONDS": "0.2"}
    worker = subprocess.Popen(
        [sys.executable, "-m", "fleetprompt_cli", "worker"],
        env=env,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    lines: queue.Queue = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(x) for x in worker.stderr], daemon=True)
    reader.start()
    try:
        seen: list[str] = []
        deadline = time.monotonic() + 60  # A bound for a broken worker, not a wait.
        while not any(f"directive {directive} succeeded" in x for x in seen):
            assert time.monotonic() < deadline, seen[-5:]
            seen.append(lines.get(timeout=60))
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=30) == 0
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
        reader.join(timeout=30)
        worker.stderr.close()
    assert _active() == dict.fromkeys(FX, "active")
