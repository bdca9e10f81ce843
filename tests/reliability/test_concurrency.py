"""8 processes installing and uninstalling at once, in one tenant and across tenants.

Every process is started at the same moment (a barrier on stdin) and runs
its commands in-process; on SQLite (WAL) and on PostgreSQL (with the
PostgreSQL queue, so a deployment without Redis is under load too).  The end
state of every tenant must equal the same commands run one after the other,
and no command may fail or report "database is locked".  Submits of one
tenant are serialised and refuse a plan whose basis changed meanwhile (exit
11, nothing written): the actor runs such a command again, as the message
says, and the test checks each refusal is that one line.

Each process installs ``app-N`` (which depends on ``common``, shared by the
four processes of the ``shared`` tenant) and ``solo-N``, then uninstalls
``solo-N``: the end state does not depend on the order.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.helpers import publish_all, run_cli, write_package
from tests.queue.support import snapshot, store_for

pytestmark = pytest.mark.reliability

ROOT = Path(__file__).resolve().parents[2]
PROCESSES = 8
TENANTS = ["shared"] * 4 + [f"own-{n}" for n in range(4, PROCESSES)]


def _commands(n: int) -> list[list[str]]:
    tenant, k = TENANTS[n], n % 4
    return [
        ["install", f"app-{k}", f"solo-{k}", "--tenant", tenant, "--yes"],
        ["uninstall", f"solo-{k}", "--tenant", tenant, "--yes"],
    ]


@pytest.fixture(scope="module")
def load_index(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("load")
    src, index = root / "src", root / "index"
    folders = [write_package(src, "common", "1.0.0", skills=["shared-skill"])]
    for k in range(4):
        folders.append(
            write_package(
                src,
                f"app-{k}",
                "1.0.0",
                deps={"common": ">=1"},
                agents={f"Agent {k}": ["common:shared-skill"]},
            )
        )
        folders.append(write_package(src, f"solo-{k}", "1.0.0", skills=[f"solo{k}"]))
    index.mkdir()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FLEETPROMPT_HOME", str(root / "publisher-home"))
        publish_all(index, *folders)
    return index


def _create_tenants() -> None:
    from fleetprompt_cli.store import repository as repo

    store = store_for()
    try:
        with store.session() as s:
            for tenant in sorted(set(TENANTS)):
                repo.create_tenant(s, tenant)
    finally:
        store.dispose()


def _state() -> dict[str, dict]:
    return {tenant: snapshot(tenant, history=False) for tenant in sorted(set(TENANTS))}


@pytest.fixture(scope="module")
def serial(load_index, tmp_path_factory) -> dict[str, dict]:
    """The same commands run one after the other, in a home of their own."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FLEETPROMPT_HOME", str(tmp_path_factory.mktemp("serial-home")))
        for name in ("FLEETPROMPT_DATABASE_URL", "FLEETPROMPT_QUEUE_URL"):
            mp.delenv(name, raising=False)
        mp.setenv("FLEETPROMPT_INDEX", str(load_index))
        mp.setenv("FLEETPROMPT_ACTOR", "tester")
        _create_tenants()
        for n in range(PROCESSES):
            for args in _commands(n):
                result = run_cli(*args)
                assert result.exit_code == 0, (args, result.stderr)
        return _state()


def test_eight_processes_at_once_end_as_the_serial_run(load_index, serial, store_url, monkeypatch):
    monkeypatch.setenv("FLEETPROMPT_INDEX", str(load_index))
    monkeypatch.setenv("FLEETPROMPT_ACTOR", "tester")
    monkeypatch.setenv("FLEETPROMPT_DATABASE_URL", store_url)
    if store_url.startswith("postgresql"):
        monkeypatch.setenv("FLEETPROMPT_QUEUE_URL", store_url)
        monkeypatch.setenv("FLEETPROMPT_QUEUE_NAME", f"fptest-{uuid.uuid4().hex[:12]}")
    _create_tenants()
    # Every process reads the same index: build its catalog once, first.
    assert run_cli("search", "app").exit_code == 0
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    actors = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.reliability.actor", json.dumps(_commands(n))],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(PROCESSES)
    ]
    try:
        for actor in actors:
            assert actor.stdout is not None
            assert actor.stdout.readline() == "ready\n", actor.stderr and actor.stderr.read()
        for actor in actors:  # Go: all at once.
            assert actor.stdin is not None
            actor.stdin.write("go\n")
            actor.stdin.flush()
        outputs = [actor.communicate(timeout=180) for actor in actors]
    finally:
        for actor in actors:
            if actor.poll() is None:
                actor.kill()
                actor.wait()
    runs = []
    for actor, (out, err) in zip(actors, outputs, strict=True):
        assert actor.returncode == 0, err[-2000:]
        runs += [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert len(runs) == 2 * PROCESSES
    failed = [(r["args"], r["code"], r["stderr"][-500:]) for r in runs if r["code"] != 0]
    assert failed == []
    texts = [r["stderr"] for r in runs] + [x for r in runs for x in r["refusals"]]
    assert not any("database is locked" in x or "Traceback" in x for x in texts)
    # A refusal is one line naming what changed, and changed nothing itself.
    for refusal in (x for r in runs for x in r["refusals"]):
        errors = [x for x in refusal.splitlines() if x.startswith("error:")]
        assert len(errors) == 1 and errors[0].startswith("error: another directive is changing ")
    assert _state() == serial
    # And every directive ended.
    from fleetprompt_cli.store import repository as repo

    store = store_for()
    try:
        with store.session(readonly=True) as s:
            for tenant in set(TENANTS):
                record = repo.get_tenant(s, tenant)
                statuses = {d.status for d in repo.list_directives(s, record.id)}
                assert statuses == {"succeeded"}, (tenant, statuses)
    finally:
        store.dispose()
