"""Poison steps: a step that fails at its start, or kills its process every time, ends failed.

Each test runs on SQLite and on PostgreSQL+Redis (the ``backend`` fixture).
A poison step must end ``failed`` within the attempt limit (crashes count),
its directive must end ``failed`` with a readable reason (a dead letter that
``status`` lists and ``recover --retry-failed`` re-opens), and no worker may
loop on it.
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
from tests.queue.support import snapshot, store_for


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in ("FLEETPROMPT_INDEX", "FLEETPROMPT_FAULT", "FLEETPROMPT_LEASE_SECONDS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("FLEETPROMPT_ACTOR", "tester")
    faults._hits.clear()
    yield
    faults._hits.clear()


def _live() -> dict[str, tuple]:
    return {slug: (version, status) for slug, version, status, *_ in snapshot()["installations"]}


def _steps() -> list[tuple]:
    from fleetprompt_cli.store import repository as repo

    store = store_for()
    try:
        with store.session(readonly=True) as s:
            tenant = repo.get_tenant(s, "default")
            directive = repo.list_directives(s, tenant.id)[0]
            return [
                (x.slug, x.status, x.attempts, x.error_message)
                for x in repo.list_steps(s, tenant.id, directive.id)
            ]
    finally:
        store.dispose()


def test_a_failed_install_installs_again_without_recover(backend, monkeypatch):
    monkeypatch.setenv("FLEETPROMPT_FAULT", "fetched=raise")
    result = run_cli("install", "core-skills", "--yes")
    assert result.exit_code == 1, result.stderr
    assert _live() == {"core-skills": (None, "failed")}
    monkeypatch.delenv("FLEETPROMPT_FAULT")
    result = run_cli("install", "core-skills", "--yes")
    assert result.exit_code == 0, result.stderr
    state = snapshot()
    assert {s: (v, st) for s, v, st, *_ in state["installations"]} == {
        "core-skills": ("2.0.0", "active")
    }
    assert [r[0] for r in state["revisions"]["core-skills"]] == [
        "plan",
        "start_install",
        "fail_install",
        "retry",
        "start_install",
        "complete_install",
    ]
    assert [d[:2] for d in state["directives"]] == [
        ("install", "succeeded"),
        ("install", "failed"),
    ]


def test_a_step_whose_start_raises_fails_within_the_attempt_limit(backend):
    from fleetprompt_cli.store import repository as repo

    queued = run_cli("install", "core-skills", "--yes", "--no-wait", "--json")
    assert queued.exit_code == 0, queued.stderr
    # Someone cancels the planned installation before the step starts: every
    # start() of the step is now refused.
    store = store_for()
    try:
        with store.session() as s:
            tenant_id = repo.get_tenant(s, "default").id
            repo.apply_transition(s, tenant_id, "core-skills", "cancel", actor="someone")
    finally:
        store.dispose()
    result = run_cli("worker", "--once", "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["outcomes"] == {"failed": 1}
    ((slug, status, attempts, error),) = _steps()
    assert (slug, status, attempts) == ("core-skills", "failed", 3)
    assert "the installation planned by this directive is missing" in error
    assert [d[:2] for d in snapshot()["directives"]] == [("install", "failed")]
    # Nothing is left for a worker to loop on.
    again = run_cli("worker", "--once", "--json")
    stats = json.loads(again.stdout)
    assert (stats["wakeups"], stats["swept"], stats["outcomes"]) == (0, 0, {})


def _child(*args: str) -> subprocess.CompletedProcess:
    """Run the CLI in a child that SIGKILLs itself when its step starts, lease already expired."""
    env = {**os.environ, "FLEETPROMPT_FAULT": "step-started", "FLEETPROMPT_LEASE_SECONDS": "0"}
    return subprocess.run(
        [sys.executable, "-m", "fleetprompt_cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_step_that_kills_its_process_every_time_ends_failed(backend):
    died = _child("install", "core-skills", "--yes")
    assert died.returncode == -signal.SIGKILL, died.stderr
    # Workers pick it up (first its wake-up, then the sweep) and die too...
    for _ in range(2):
        died = _child("worker", "--once", "--json")
        assert died.returncode == -signal.SIGKILL, died.stderr
    # ...until the attempt limit: the next worker fails the step without running it.
    last = _child("worker", "--once", "--json")
    assert last.returncode == 0, last.stderr
    assert json.loads(last.stdout)["outcomes"] == {"failed": 1}
    ((slug, status, attempts, error),) = _steps()
    assert (slug, status, attempts) == ("core-skills", "failed", 3)
    assert "died 3 times" in error
    # No worker loops on it any more.
    idle = _child("worker", "--once", "--json")
    assert idle.returncode == 0, idle.stderr
    assert json.loads(idle.stdout)["outcomes"] == {}
    # status lists the dead letter with its reason and what to do.
    summary = run_cli("status", "--json")
    (failed,) = json.loads(summary.stdout)["failed_directives"]
    assert failed["status"] == "failed" and "died 3 times" in failed["error"]
    text = run_cli("status").stdout
    assert "recover --retry-failed" in text and "died 3 times" in text
    # recover --retry-failed re-opens it with fresh attempts.
    retried = run_cli("recover", "--retry-failed", "--json")
    assert retried.exit_code == 0, retried.stderr
    (item,) = json.loads(retried.stdout)["directives"]
    assert (item["reason"], item["outcome"]) == ("failed", "succeeded")
    assert _live() == {"core-skills": ("2.0.0", "active")}


def test_a_failed_uninstall_returns_the_package_and_can_be_retried(backend, monkeypatch):
    assert run_cli("install", "core-skills", "--yes").exit_code == 0
    monkeypatch.setenv("FLEETPROMPT_FAULT", "before-commit=raise")
    result = run_cli("uninstall", "core-skills", "--yes")
    assert result.exit_code == 1, result.stderr
    # Still installed, as it was, with the error recorded and what to do said.
    assert _live() == {"core-skills": ("2.0.0", "active")}
    detail = json.loads(run_cli("status", "core-skills", "--json").stdout)
    assert "injected fault" in detail["installation"]["error_message"]
    assert detail["next_step"] == (
        "the uninstall failed and core-skills 2.0.0 is still installed: "
        "run 'fleetprompt uninstall core-skills' again"
    )
    assert "Next" in run_cli("status", "core-skills").stdout
    monkeypatch.delenv("FLEETPROMPT_FAULT")
    result = run_cli("uninstall", "core-skills", "--yes")
    assert result.exit_code == 0, result.stderr
    state = snapshot()
    assert state["installations"] == []
    assert [r[0] for r in state["revisions"]["core-skills"]][-4:] == [
        "start_uninstall",
        "fail_uninstall",
        "start_uninstall",
        "complete_uninstall",
    ]


def test_a_step_raising_a_bug_fails_instead_of_escaping(backend):
    from fleetprompt_cli.store import repository as repo

    queued = run_cli("install", "core-skills", "--yes", "--no-wait", "--json")
    assert queued.exit_code == 0, queued.stderr
    directive_id = json.loads(queued.stdout)["directive"]
    # A plan this version cannot read (written by another version, or edited):
    # the step raises KeyError, not one of our errors.
    store = store_for()
    try:
        with store.session() as s:
            tenant_id = repo.get_tenant(s, "default").id
            directive = repo.get_directive(s, tenant_id, directive_id)
            (step,) = directive.plan["steps"]
            directive.plan = {"steps": [{k: v for k, v in step.items() if k != "sha256"}]}
            s.add(directive)
    finally:
        store.dispose()
    result = run_cli("worker", "--once", "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["outcomes"] == {"failed": 1}
    ((slug, status, attempts, error),) = _steps()
    assert (slug, status, attempts, error) == ("core-skills", "failed", 3, "KeyError: 'sha256'")
    assert [d[:2] for d in snapshot()["directives"]] == [("install", "failed")]
    assert _live() == {"core-skills": (None, "failed")}
