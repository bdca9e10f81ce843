"""``recover`` right after a crash: it says what is still running, and ``--now`` takes over.

The CLI dies mid-step with its lease still live (60 s); within that time a
plain ``recover`` must not take the directive (the process might be alive)
but must say which directive is running, whose lease it is and when it
lapses, and that ``recover --now`` takes it over.  SQLite and
PostgreSQL+Redis (the ``backend`` fixture).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

from fleetprompt_cli import faults
from tests.helpers import run_cli
from tests.queue.support import FX, snapshot


@pytest.fixture(autouse=True)
def fx_env(fx_index, backend, monkeypatch):
    monkeypatch.setenv("FLEETPROMPT_INDEX", str(fx_index))
    monkeypatch.setenv("FLEETPROMPT_ACTOR", "tester")
    for name in ("FLEETPROMPT_FAULT", "FLEETPROMPT_LEASE_SECONDS"):
        monkeypatch.delenv(name, raising=False)
    faults._hits.clear()


def _die_with_a_live_lease() -> None:
    env = {**os.environ, "FLEETPROMPT_FAULT": "step-started:2"}
    died = subprocess.run(
        [sys.executable, "-m", "fleetprompt_cli", "install", "fx-top", "--yes"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert died.returncode == -signal.SIGKILL, died.stderr


def test_recover_explains_a_running_directive_and_now_takes_it_over():
    _die_with_a_live_lease()
    listed = run_cli("recover", "--json")
    assert listed.exit_code == 0, listed.stderr
    report = json.loads(listed.stdout)
    assert report["directives"] == []
    (running,) = report["running"]
    assert running["reason"] == "running" and running["lease_owner"].startswith("cli@")
    assert 0 < running["due_in_seconds"] <= 60
    text = run_cli("recover")
    assert text.exit_code == 0, text.stderr
    assert "No directives to recover." in text.stderr
    assert f"directive {running['id']} (tenant default) is running: cli@" in text.stderr
    assert "'fleetprompt recover --now' takes it over at once" in text.stderr
    # Nothing was touched.  (fx-mid's step is running, its attempt counted;
    # on the fast path its installation stays queued until the step's one
    # write transaction.)
    assert {s: st for s, _, st, *_ in snapshot()["installations"]} == {
        "fx-base": "active",
        "fx-mid": "queued",
        "fx-top": "queued",
    }
    taken = run_cli("recover", "--now", running["id"][:8])
    assert taken.exit_code == 0, taken.stderr
    assert f"directive {running['id']} succeeded" in taken.stdout
    assert {s: st for s, _, st, *_ in snapshot()["installations"]} == dict.fromkeys(FX, "active")
    again = json.loads(run_cli("recover", "--json").stdout)
    assert (again["directives"], again["running"]) == ([], [])


def test_recover_now_takes_over_a_directive_waiting_for_a_worker():
    queued = run_cli("install", "fx-top", "--yes", "--no-wait", "--json")
    directive = json.loads(queued.stdout)["directive"]
    (waiting,) = json.loads(run_cli("recover", "--dry-run", "--json").stdout)["running"]
    assert (waiting["id"], waiting["reason"]) == (directive, "waiting")
    assert waiting["lease_owner"] is None
    taken = run_cli("recover", "--now", "--json")
    assert taken.exit_code == 0, taken.stderr
    (item,) = json.loads(taken.stdout)["directives"]
    assert (item["id"], item["outcome"]) == (directive, "succeeded")
