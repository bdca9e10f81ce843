"""Crash and fault tests: a directive killed or failing at each checkpoint, then recovered.

Each crash test runs ``fleetprompt install fx-top --yes`` (three steps:
fx-base, fx-mid, fx-top) as a subprocess with ``FLEETPROMPT_FAULT=POINT:N``,
so it SIGKILLs itself at that checkpoint of the N-th step, and with
``FLEETPROMPT_LEASE_SECONDS=0`` so its lease is already expired when it dies
(no waiting).  ``fleetprompt recover`` (or a worker's sweep) then finishes
the directive, and the tenant must equal, row for row, a tenant that
installed cleanly in another home: installations, resources and their
content, revisions, signals, directive and steps, install counts.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from fleetprompt_cli import faults
from tests.helpers import run_cli
from tests.queue.support import FX, index_line, leftovers, snapshot, store_for

CRASH_POINTS = [("claimed", 1)] + [
    (point, nth)
    for point in ("step-started", "fetched", "extracted", "before-commit", "after-commit")
    for nth in (1, 2)
]


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
        return {"full": snapshot(), "live": snapshot(history=False)}


@pytest.fixture(autouse=True)
def fx_env(fx_index, monkeypatch):
    monkeypatch.setenv("FLEETPROMPT_INDEX", str(fx_index))
    monkeypatch.setenv("FLEETPROMPT_ACTOR", "tester")
    monkeypatch.delenv("FLEETPROMPT_FAULT", raising=False)
    monkeypatch.delenv("FLEETPROMPT_LEASE_SECONDS", raising=False)
    # The hook counts hits per process; in-process runs must start from zero.
    faults._hits.clear()
    yield
    faults._hits.clear()


def die_at(fault: str, *args: str) -> subprocess.CompletedProcess:
    """Run ``fleetprompt install ... --yes`` in a child that SIGKILLs itself at ``fault``."""
    env = {**os.environ, "FLEETPROMPT_FAULT": fault, "FLEETPROMPT_LEASE_SECONDS": "0"}
    return subprocess.run(
        [sys.executable, "-m", "fleetprompt_cli", "install", *args, "--yes"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def assert_clean(reference: dict, home: Path) -> None:
    """The tenant is exactly as after a clean install, and no temp files are left."""
    state = snapshot()
    assert state == reference["full"]
    assert [s for s, *_ in state["installations"]] == sorted(FX)
    assert state["sequences"] == list(range(1, len(FX) + 1))
    assert state["installs"] == {slug: 1 for slug in FX}
    assert state["directives"][0][:2] == ("install", "succeeded")
    for slug in FX:
        _, line = index_line(Path(os.environ["FLEETPROMPT_INDEX"]), slug)
        assert (home / "packages" / line["sha256"] / "fleetprompt.toml").is_file()
    assert leftovers(home) == []


def test_reference_is_a_full_install(reference):
    state = reference["full"]
    assert [(s, v, st) for s, v, st, *_ in state["installations"]] == [
        ("fx-base", "1.0.0", "active"),
        ("fx-mid", "1.0.0", "active"),
        ("fx-top", "1.0.0", "active"),
    ]
    assert {(slug, kind) for slug, kind, *_ in state["resources"]} == {
        ("fx-base", "skill"),
        ("fx-mid", "skill"),
        ("fx-mid", "agent"),
        ("fx-top", "agent"),
        ("fx-top", "workflow"),
        ("fx-top", "tool"),
    }
    assert state["revisions"]["fx-mid"] == [
        ("plan", None, "queued", None, "1.0.0"),
        ("start_install", "queued", "installing", None, None),
        ("complete_install", "installing", "active", None, "1.0.0"),
    ]
    prompts = [c for slug, kind, _, _, c in state["resources"] if kind == "agent"]
    assert prompts == ["You are Router.\n", "You are Dispatcher.\n"]


@pytest.mark.parametrize(("point", "nth"), CRASH_POINTS, ids=[f"{p}:{n}" for p, n in CRASH_POINTS])
def test_sigkill_then_recover(point, nth, reference, isolated_home):
    died = die_at(f"{point}:{nth}", "fx-top")
    assert died.returncode == -signal.SIGKILL, died.stderr

    listed = run_cli("recover", "--dry-run", "--json")
    assert listed.exit_code == 0, listed.stderr
    (found,) = json.loads(listed.stdout)["directives"]
    assert (found["tenant"], found["status"], found["outcome"]) == ("default", "running", None)

    result = run_cli("recover")
    assert result.exit_code == 0, result.stderr
    assert f"directive {found['id']} succeeded" in result.stdout
    assert_clean(reference, isolated_home)
    # Nothing is left to recover, and a second recover changes nothing.
    again = run_cli("recover", "--json")
    assert json.loads(again.stdout)["directives"] == []
    assert snapshot() == reference["full"]


@pytest.mark.parametrize("fault", ["fetched:2", "before-commit:1"])
def test_sigkill_then_worker_sweep(fault, reference, isolated_home, monkeypatch):
    died = die_at(fault, "fx-top")
    assert died.returncode == -signal.SIGKILL, died.stderr
    # Drop the dead CLI's own wake-up: only the sweep may find the directive.
    from fleetprompt_cli.queue import get_huey
    from fleetprompt_cli.settings import load_settings

    get_huey(load_settings()).flush()
    result = run_cli("worker", "--once", "--json")
    assert result.exit_code == 0, result.stderr
    stats = json.loads(result.stdout)
    assert (stats["swept"], stats["outcomes"]) == (1, {"succeeded": 1})
    assert_clean(reference, isolated_home)


def test_transient_faults_are_retried(reference, isolated_home, monkeypatch):
    # The first step fails at two different points, then succeeds on its third attempt.
    monkeypatch.setenv("FLEETPROMPT_FAULT", "step-started:1=raise,extracted:1=raise")
    result = run_cli("install", "fx-top", "--yes")
    assert result.exit_code == 0, result.stderr
    assert_clean(reference, isolated_home)
    assert _step_attempts() == {"fx-base": 3, "fx-mid": 1, "fx-top": 1}


def _step_attempts() -> dict[str, int]:
    from fleetprompt_cli.store import repository as repo

    store = store_for()
    try:
        with store.session(readonly=True) as s:
            tenant = repo.get_tenant(s, "default")
            (directive,) = repo.list_directives(s, tenant.id)
            return {x.slug: x.attempts for x in repo.list_steps(s, tenant.id, directive.id)}
    finally:
        store.dispose()


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


@pytest.fixture
def broken_mid(fx_index, tmp_path, monkeypatch):
    """A copy of the index whose fx-mid archive changed after publishing; returns a fixer."""
    index = tmp_path / "index"
    shutil.copytree(fx_index, index)
    monkeypatch.setenv("FLEETPROMPT_INDEX", str(index))
    _, line = index_line(index, "fx-mid")
    archive = index / line["archive"]
    good = archive.read_bytes()
    archive.write_bytes(good[:-1] + bytes([good[-1] ^ 1]))
    return lambda: archive.write_bytes(good)


@pytest.mark.parametrize("atomic", [False, True], ids=["keep-earlier", "atomic"])
def test_step_failing_three_times_then_retry(atomic, broken_mid, reference, isolated_home):
    args = ["install", "fx-top", "--yes"] + (["--atomic"] if atomic else [])
    result = run_cli(*args)
    assert result.exit_code == 6, result.stderr
    assert "checksum mismatch" in result.stderr
    assert len(result.stderr.strip().splitlines()[-1]) < 400
    steps = _steps()
    assert [(slug, status) for slug, status, *_ in steps] == [
        ("fx-base", "undone" if atomic else "done"),
        ("fx-mid", "failed"),
        ("fx-top", "cancelled"),
    ]
    assert steps[1][2] == 3 and "checksum mismatch" in steps[1][3]
    state = snapshot()
    assert state["directives"][0][:2] == ("install", "failed")
    live = {slug: status for slug, _, status, *_ in state["installations"]}
    if atomic:
        assert live == {"fx-mid": "failed"}
        assert ("fx-base", "uninstalled") in state["finished"]
    else:
        assert live == {"fx-base": "active", "fx-mid": "failed"}
    assert ("fx-top", "cancelled") in state["finished"]
    assert {slug for slug, *_ in state["resources"]} == (set() if atomic else {"fx-base"})
    # Nothing of fx-mid was written: no resources, no extracted folder.
    _, line = index_line(Path(os.environ["FLEETPROMPT_INDEX"]), "fx-mid")
    assert not (isolated_home / "packages" / line["sha256"]).exists()

    # Without --retry-failed, recover leaves a failed directive alone.
    assert json.loads(run_cli("recover", "--json").stdout)["directives"] == []
    broken_mid()
    result = run_cli("recover", "--retry-failed", "--json")
    assert result.exit_code == 0, result.stderr
    (item,) = json.loads(result.stdout)["directives"]
    assert (item["reason"], item["outcome"], item["status"]) == ("failed", "succeeded", "succeeded")
    after = snapshot()
    live = snapshot(history=False)
    # The failed attempt is fx-mid's revision 1 (helm's "failed"), so its
    # deployed revision is 2; fx-base's too after its atomic undo and reinstall.
    numbers = {row[0]: row[-1] for row in live["installations"]}
    assert numbers == {"fx-base": 2 if atomic else 1, "fx-mid": 2, "fx-top": 1}
    assert [r[:3] for r in after["releases"]["fx-mid"]] == [
        (1, "install", "failed"),
        (2, "install", "deployed"),
    ]

    def unnumbered(state: dict) -> dict:
        return {**state, "installations": [row[:-1] for row in state["installations"]]}

    assert unnumbered(live) == unnumbered(reference["live"])
    # Every transition of the failure and the retry is on record.
    assert [r[:3] for r in after["revisions"]["fx-mid"]] == [
        ("plan", None, "queued"),
        ("start_install", "queued", "installing"),
        ("fail_install", "installing", "failed"),
        ("retry", "failed", "queued"),
        ("start_install", "queued", "installing"),
        ("complete_install", "installing", "active"),
    ]
    assert after["directives"][0][:2] == ("install", "succeeded")
    if not atomic:
        # Counted once each: a failed or cancelled install never counted.
        assert after["installs"] == reference["full"]["installs"]
    assert leftovers(isolated_home) == []


def _live_status() -> dict[str, tuple]:
    return {slug: (version, status) for slug, version, status, *_ in snapshot()["installations"]}


def test_atomic_undo_leaves_alone_a_package_its_step_did_not_install(backend, broken_mid):
    # An atomic install fails at fx-mid: fx-base is undone.
    assert run_cli("install", "fx-top", "--yes", "--atomic").exit_code == 6
    assert ("fx-base", "uninstalled") in snapshot()["finished"]
    # The user installs fx-base on its own; then the failed directive is retried
    # (fx-mid is still broken): its fx-base step finds fx-base there, changes
    # nothing, and the undo after fx-mid fails again must not remove it.
    assert run_cli("install", "fx-base==1.0.0", "--yes").exit_code == 0
    result = run_cli("recover", "--retry-failed", "--json")
    # Failed again on fx-mid's checksum: recover exits as the install did (6).
    assert result.exit_code == 6, result.stderr
    (item,) = json.loads(result.stdout)["directives"]
    assert (item["reason"], item["outcome"]) == ("failed", "failed")
    assert _live_status() == {"fx-base": ("1.0.0", "active"), "fx-mid": (None, "failed")}
    assert {slug for slug, *_ in snapshot()["resources"]} == {"fx-base"}


def test_an_undo_that_fails_still_ends_the_directive_failed(
    backend, fx_index, tmp_path, isolated_home, monkeypatch
):
    index = tmp_path / "index"
    shutil.copytree(fx_index, index)
    monkeypatch.setenv("FLEETPROMPT_INDEX", str(index))
    assert run_cli("install", "fx-base==1.0.0", "--yes").exit_code == 0
    # wants-v2 upgrades fx-base to 2.0.0, then its own archive is corrupt; the
    # undo needs fx-base 1.0.0's archive, which is gone from index and cache.
    _, line = index_line(index, "wants-v2")
    archive = index / line["archive"]
    good = archive.read_bytes()
    archive.write_bytes(good[:-1] + bytes([good[-1] ^ 1]))
    _, base = index_line(index, "fx-base")
    (index / base["archive"]).unlink()
    shutil.rmtree(isolated_home / "cache" / "archives")
    # As in a new process: the texts this one remembers of the archive go too.
    from fleetprompt_cli.actions.directive_runner import forget_files

    forget_files()
    result = run_cli("install", "wants-v2", "--yes", "--atomic")
    assert result.exit_code == 6, result.stderr
    assert "undoing the earlier steps failed" in result.stderr
    assert "Traceback" not in result.stderr
    (directive, *_) = snapshot()["directives"]
    assert directive[:2] == ("install", "failed") and directive[3] is None
    assert "undoing the earlier steps failed" in directive[2]
    # Left as it is, and said so: fx-base stays at 2.0.0; nothing loops.
    assert _live_status() == {"fx-base": ("2.0.0", "active"), "wants-v2": (None, "failed")}
    assert json.loads(run_cli("recover", "--json").stdout)["directives"] == []
