"""An install that needs a package another directive is changing waits for it, then plans again.

(``--wait-timeout``, ``--no-wait-lock``.)  Bundled index; SQLite and
PostgreSQL+Redis (the ``backend`` fixture).
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time

import pytest

from fleetprompt_cli.errors import ExitCode
from tests.helpers import run_cli
from tests.queue.support import snapshot

BUSY = (
    "another directive is changing core-skills: wait for it, or run "
    "'fleetprompt recover' if its process died"
)


@pytest.fixture(autouse=True)
def queued_dependency(backend, monkeypatch):
    monkeypatch.delenv("FLEETPROMPT_INDEX", raising=False)
    monkeypatch.setenv("FLEETPROMPT_ACTOR", "tester")
    # knowledge-base's directive plans core-skills and waits for a worker.
    result = run_cli("install", "knowledge-base", "--yes", "--no-wait")
    assert result.exit_code == 0, result.stderr


def test_no_wait_lock_fails_at_once():
    result = run_cli("install", "code-review", "--yes", "--no-wait-lock")
    assert result.exit_code == ExitCode.STATE
    assert BUSY in result.stderr
    assert "waiting" not in result.stderr


def test_the_wait_ends_at_the_timeout():
    result = run_cli("install", "code-review", "--yes", "--wait-timeout", "0")
    assert result.exit_code == ExitCode.STATE
    assert "waiting for another directive changing core-skills (up to 0 s" in result.stderr
    assert BUSY in result.stderr


def test_an_install_waits_for_the_other_directive_then_plans_again():
    child = subprocess.Popen(
        [sys.executable, "-m", "fleetprompt_cli", "install", "code-review", "--yes"],
        env=dict(os.environ),
        stderr=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(x) for x in child.stderr], daemon=True)
    reader.start()
    try:
        seen: list[str] = []
        deadline = time.monotonic() + 60  # A bound for a broken test, not a wait.
        while not any("waiting for another directive changing core-skills" in x for x in seen):
            assert time.monotonic() < deadline and child.poll() is None, seen
            seen.append(lines.get(timeout=60))
        # The other directive runs; the waiting install then plans and installs.
        # (It may also run the waiting install's own directive, if that is
        # written before the worker's last look at the queue.)
        worker = run_cli("worker", "--once", "--json")
        assert json.loads(worker.stdout)["outcomes"].get("succeeded") in (1, 2)
        assert child.wait(timeout=120) == 0, seen
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        reader.join(timeout=30)
        child.stderr.close()
        child.stdout.close()
    live = {s: st for s, _, st, *_ in snapshot()["installations"]}
    assert live == dict.fromkeys(
        ["code-review", "core-skills", "data-connectors", "knowledge-base"], "active"
    )
