"""Numbered revisions and rollback: history SLUG, rollback SLUG [REVISION], upgrade's words.

Against the small fixture index (tests/queue/support.py): ``fx-base`` has
1.0.0 (skills geo, summarize) and 2.0.0 (skill geo); ``fx-mid`` needs
``fx-base>=1,<2``; ``needs-config`` has a required ``region``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

from fleetprompt_cli import faults
from fleetprompt_cli.errors import ExitCode
from tests.cli.test_interactive import Terminal
from tests.helpers import run_cli
from tests.queue.support import index_line, snapshot


@pytest.fixture(autouse=True)
def fx_env(fx_index, monkeypatch):
    monkeypatch.setenv("FLEETPROMPT_INDEX", str(fx_index))
    monkeypatch.setenv("FLEETPROMPT_ACTOR", "tester")
    monkeypatch.delenv("FLEETPROMPT_FAULT", raising=False)
    monkeypatch.delenv("FLEETPROMPT_LEASE_SECONDS", raising=False)
    faults._hits.clear()
    yield
    faults._hits.clear()


def ok(*args: str):
    result = run_cli(*args)
    assert result.exit_code == 0, (args, result.stdout, result.stderr)
    return result


def doc(*args: str) -> dict:
    return json.loads(ok(*args, "--json").stdout)


def revisions(slug: str) -> list[tuple]:
    return [
        (r["revision"], r["action"], r["status"], r["version"], r["rollback_to"])
        for r in doc("history", slug)["revisions"]
    ]


def skills(slug: str) -> list[str]:
    return sorted(n for s, kind, n, *_ in snapshot(history=False)["resources"] if s == slug)


def upgraded_fx_base() -> None:
    """fx-base 1.0.0 installed (revision 1), then upgraded to 2.0.0 (revision 2)."""
    ok("install", "fx-base==1.0.0", "--yes")
    ok("upgrade", "fx-base", "--yes")


def test_history_numbers_each_revision_with_its_status(fx_index):
    upgraded_fx_base()
    assert revisions("fx-base") == [
        (1, "install", "superseded", "1.0.0", None),
        (2, "upgrade", "deployed", "2.0.0", None),
    ]
    document = doc("history", "fx-base")
    assert document["slug"] == "fx-base"
    second = document["revisions"][1]
    assert second["previous_version"] == "1.0.0"
    assert second["resources"] == 1
    _, line = index_line(fx_index, "fx-base")
    assert document["revisions"][0]["sha256"] == line["sha256"]
    # The transition trail is still there, in JSON and with --transitions.
    trail = [t["transition"] for t in document["transitions"]]
    assert trail[0] == "plan" and trail[-1] == "complete_upgrade"
    shown = ok("history", "fx-base").stdout
    assert "    1  " in shown and "superseded  1.0.0  install" in shown
    assert "deployed    2.0.0  upgrade" in shown
    assert all(len(line) <= 80 for line in shown.splitlines())
    assert "complete_upgrade" in ok("history", "fx-base", "--transitions").stdout
    # --limit keeps the newest, of one package or of all.
    assert [r["revision"] for r in doc("history", "fx-base", "--limit", "1")["revisions"]] == [2]
    ok("install", "fx-mid", "--yes")  # fx-base 2.0.0 -> 1.0.0 for fx-mid's <2
    newest = doc("history", "--limit", "2")["revisions"]
    assert [(r["slug"], r["revision"], r["action"]) for r in newest] == [
        ("fx-base", 3, "downgrade"),
        ("fx-mid", 1, "install"),
    ]
    everything = ok("history").stdout
    assert everything.index("fx-base\n") < everything.index("fx-mid\n")
    # An installation's revision is its deployed revision's number.
    rows = {row["slug"]: row["revision"] for row in doc("list")["installations"]}
    assert rows == {"fx-base": 3, "fx-mid": 1}


def test_rollback_restores_version_config_and_resources_without_the_index(
    backend, tmp_path, monkeypatch
):
    ok("install", "fx-base==1.0.0", "--yes")
    before = snapshot(history=False)["resources"]
    ok("upgrade", "fx-base", "--yes")
    assert skills("fx-base") == ["geo"]
    # The snapshot in the store is enough: the index is gone.
    empty = tmp_path / "empty-index"
    empty.mkdir()
    monkeypatch.setenv("FLEETPROMPT_INDEX", str(empty))
    result = doc("rollback", "fx-base", "--yes")
    assert (result["status"], result["error"]) == ("succeeded", None)
    (step,) = result["plan"]
    assert (step["previous"], step["version"], step["action"]) == ("2.0.0", "1.0.0", "downgrade")
    assert (step["from_revision"], step["revision"]) == (2, 1)
    assert snapshot(history=False)["resources"] == before
    assert revisions("fx-base") == [
        (1, "install", "superseded", "1.0.0", None),
        (2, "upgrade", "superseded", "2.0.0", None),
        (3, "rollback", "deployed", "1.0.0", 1),
    ]
    state = snapshot()
    assert state["directives"][0][:2] == ("rollback", "succeeded")
    assert state["directives"][0][4] == [("fx-base", "downgrade", "done")]
    assert state["signals"][-1][0] == "fleetprompt.package.rolled_back"
    assert [v for s, v, *_ in state["installations"]] == ["1.0.0"]
    # Rolling forward again is a rollback too: to revision 2.
    ok("rollback", "fx-base", "2", "--yes")
    assert skills("fx-base") == ["geo"]
    assert revisions("fx-base")[-1] == (4, "rollback", "deployed", "2.0.0", 2)


def test_rollback_no_wait_is_left_to_a_worker(backend):
    upgraded_fx_base()
    queued = doc("rollback", "fx-base", "--yes", "--no-wait")
    assert (queued["status"], queued["error"]) == ("queued", None)
    assert revisions("fx-base")[-1][2] == "deployed"  # nothing ran yet
    assert run_cli("rollback", "fx-base", "--yes").exit_code == ExitCode.STATE
    result = run_cli("worker", "--once", "--json")
    assert result.exit_code == 0, result.stderr
    # The wake-ups of the install and upgrade that ran in-process find them
    # finished; the rollback's runs.
    assert json.loads(result.stdout)["outcomes"]["succeeded"] == 1
    assert revisions("fx-base")[-1] == (3, "rollback", "deployed", "1.0.0", 1)
    assert doc("directives", "show", queued["directive"])["directive"]["status"] == "succeeded"


def test_rollback_restores_the_config(backend):
    ok("install", "needs-config", "--config", "region=us", "--yes")
    ok("configure", "needs-config", "region=eu", "limit=3")
    assert revisions("needs-config") == [
        (1, "install", "superseded", "1.0.0", None),
        (2, "configure", "deployed", "1.0.0", None),
    ]
    shown = ok("rollback", "needs-config", "--yes").stdout
    assert "rolled needs-config back to revision 1 in tenant default" in shown
    config = doc("status", "needs-config")["installation"]["config"]
    assert config == {"region": "us", "limit": 8}
    last = doc("history", "needs-config")["revisions"][-1]
    assert (last["revision"], last["description"], last["status"]) == (
        3,
        "rollback to 1",
        "deployed",
    )
    assert last["config_diff"]["changed"] == {"limit": [3, 8], "region": ["eu", "us"]}


def test_rollback_dry_run_prints_the_plan_and_changes_nothing(fx_index):
    upgraded_fx_base()
    before = snapshot()
    shown = ok("rollback", "fx-base", "--dry-run")
    assert "Rollback plan for tenant default" in shown.stdout
    assert "fx-base 2.0.0 → 1.0.0 downgrade" in shown.stdout
    assert "why: rollback to revision 1" in shown.stdout
    assert all(len(line) <= 80 for line in shown.stdout.splitlines())
    document = doc("rollback", "fx-base", "--dry-run")
    assert (document["schema"], document["kind"], document["status"]) == (1, "rollback", "dry_run")
    assert document["directive"] is None and document["revisions"] == [1, 2]
    (step,) = document["plan"]
    _, line = index_line(fx_index, "fx-base")
    assert step["sha256"] == line["sha256"]
    assert step["reason"] == "rollback to revision 1"
    assert (step["slug"], step["previous"], step["version"]) == ("fx-base", "2.0.0", "1.0.0")
    assert snapshot() == before


def test_rollback_to_the_deployed_revision_is_nothing_to_do():
    upgraded_fx_base()
    before = snapshot()
    result = ok("rollback", "fx-base", "2")
    assert "fx-base is at revision 2 (2.0.0) in tenant default already. Nothing to do." in (
        result.stderr
    )
    document = doc("rollback", "fx-base", "2")
    assert (document["status"], document["plan"]) == ("nothing_to_do", [])
    assert snapshot() == before


def test_rollback_to_a_revision_that_does_not_exist():
    upgraded_fx_base()
    result = run_cli("rollback", "fx-base", "7")
    assert result.exit_code == ExitCode.NOT_FOUND
    assert "fx-base has no revision 7 in tenant 'default' (revisions: 1, 2)" in result.stderr
    error = json.loads(run_cli("rollback", "fx-base", "7", "--json").stdout)["error"]
    assert (error["kind"], error["revisions"]) == ("not_found", [1, 2])
    for bad in ("0", "-1", "x", str(2**63)):
        assert run_cli("rollback", "fx-base", bad).exit_code == ExitCode.USAGE, bad


def test_rollback_of_something_that_is_not_a_slug():
    for bad in ("", "../x", "ev\x1b[31mil", "a b", "x" * 65):
        result = run_cli("rollback", bad)
        assert result.exit_code == ExitCode.USAGE, bad
        assert "not a package slug" in result.stderr
        assert "\x1b" not in result.stderr


def test_rollback_with_no_earlier_revision():
    ok("install", "fx-base==1.0.0", "--yes")
    result = run_cli("rollback", "fx-base")
    assert result.exit_code == ExitCode.NOT_FOUND
    assert "fx-base has no revision before 1 to roll back to (revisions: 1)" in result.stderr


def test_rollback_of_a_package_that_is_not_installed():
    result = run_cli("rollback", "fx-base")
    assert result.exit_code == ExitCode.NOT_FOUND
    assert "fx-base is not installed in tenant 'default'" in result.stderr
    upgraded_fx_base()
    ok("uninstall", "fx-base", "--yes")
    result = run_cli("rollback", "fx-base", "1")
    assert result.exit_code == ExitCode.NOT_FOUND
    assert "fx-base is not installed" in result.stderr
    # The uninstall marked the deployed revision; a reinstall numbers on.
    assert revisions("fx-base")[-1] == (2, "upgrade", "uninstalled", "2.0.0", None)
    ok("install", "fx-base==1.0.0", "--yes")
    assert revisions("fx-base")[-1] == (3, "install", "deployed", "1.0.0", None)
    # Revisions of the earlier installation can be returned to.
    ok("rollback", "fx-base", "2", "--yes")
    assert skills("fx-base") == ["geo"]
    assert revisions("fx-base")[-1] == (4, "rollback", "deployed", "2.0.0", 2)


def test_rollback_while_another_directive_holds_the_package():
    upgraded_fx_base()
    ok("install", "fx-base==1.0.0", "--yes", "--no-wait")  # queued, not run
    before = snapshot()
    result = run_cli("rollback", "fx-base", "1", "--yes")
    assert result.exit_code == ExitCode.STATE
    assert "another directive is changing fx-base" in result.stderr
    assert snapshot() == before


def test_rollback_that_would_break_a_dependent_is_refused():
    ok("install", "fx-base==2.0.0", "--yes")
    ok("install", "fx-base==1.0.0", "--yes")  # revision 2: a downgrade
    ok("install", "fx-mid", "--yes")  # needs fx-base>=1,<2
    before = snapshot()
    result = run_cli("rollback", "fx-base", "--yes")
    assert result.exit_code == ExitCode.CONFLICT
    assert "cannot roll fx-base back to 2.0.0: fx-mid 1.0.0 needs fx-base>=1,<2" in result.stderr
    assert snapshot() == before


def test_failed_upgrade_leaves_the_previous_revision_deployed(backend, monkeypatch):
    ok("install", "fx-base==1.0.0", "--yes")
    live = snapshot(history=False)
    # The upgrade fails between two resource writes, on every attempt.
    monkeypatch.setenv("FLEETPROMPT_FAULT", "resource-written=raise")
    result = run_cli("upgrade", "fx-base", "--yes")
    assert result.exit_code != 0
    assert "injected fault at resource-written" in result.stderr
    monkeypatch.delenv("FLEETPROMPT_FAULT")
    # Never half-upgraded: version, status, config and every resource as before.
    assert snapshot(history=False) == live
    assert revisions("fx-base") == [
        (1, "install", "deployed", "1.0.0", None),
        (2, "upgrade", "failed", "2.0.0", None),
    ]
    failed = doc("history", "fx-base")["revisions"][1]
    assert "injected fault" in failed["error"] and failed["description"] == "upgrade failed"
    assert "failed      2.0.0  upgrade failed" in ok("history", "fx-base").stdout
    # A failed revision has nothing to restore; the deployed one is usable.
    refused = run_cli("rollback", "fx-base", "2")
    assert refused.exit_code == ExitCode.STATE
    assert "revision 2 of fx-base failed" in refused.stderr
    ok("upgrade", "fx-base", "--yes")
    assert revisions("fx-base")[-1] == (3, "upgrade", "deployed", "2.0.0", None)
    # The default rollback target skips the failed attempt.
    assert doc("rollback", "fx-base", "--dry-run")["plan"][0]["revision"] == 1


def test_upgrade_says_upgrade(fx_index):
    ok("install", "fx-base==1.0.0", "--yes")
    shown = ok("upgrade", "fx-base", "--dry-run").stdout
    assert "Upgrade plan for tenant default" in shown
    assert "Install" not in shown
    document = doc("upgrade", "fx-base", "--dry-run")
    assert (document["schema"], document["kind"], document["status"]) == (1, "upgrade", "dry_run")
    (step,) = document["plan"]
    _, line = index_line(fx_index, "fx-base")
    assert (step["slug"], step["previous"], step["version"], step["action"]) == (
        "fx-base",
        "1.0.0",
        "2.0.0",
        "upgrade",
    )
    assert step["sha256"] != line["sha256"] and len(step["sha256"]) == 64
    assert step["reason"]
    done = ok("upgrade", "fx-base", "--yes").stdout
    assert "upgraded packages in tenant default" in done
    assert snapshot()["directives"][0][:2] == ("upgrade", "succeeded")
    assert "Up to date in tenant default" in ok("upgrade", "fx-base").stderr


# -- a rollback killed mid-way, then recovered -----------------------------------


@pytest.fixture(scope="module")
def clean_rollback(fx_index, tmp_path_factory) -> dict:
    """A clean rollback of fx-base to revision 1, in a home of its own."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FLEETPROMPT_HOME", str(tmp_path_factory.mktemp("rollback-reference")))
        for name in ("FLEETPROMPT_DATABASE_URL", "FLEETPROMPT_QUEUE_URL", "FLEETPROMPT_FAULT"):
            mp.delenv(name, raising=False)
        mp.setenv("FLEETPROMPT_INDEX", str(fx_index))
        mp.setenv("FLEETPROMPT_ACTOR", "tester")
        mp.setenv("NO_COLOR", "1")
        upgraded_fx_base()
        ok("rollback", "fx-base", "1", "--yes")
        return snapshot()


@pytest.mark.parametrize(
    "fault",
    ["claimed:1", "step-started:1", "resource-written:1", "before-commit:1", "after-commit:1"],
)
def test_sigkill_during_rollback_then_recover(fault, clean_rollback):
    upgraded_fx_base()
    env = {**os.environ, "FLEETPROMPT_FAULT": fault, "FLEETPROMPT_LEASE_SECONDS": "0"}
    died = subprocess.run(
        [sys.executable, "-m", "fleetprompt_cli", "rollback", "fx-base", "1", "--yes"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert died.returncode == -signal.SIGKILL, died.stderr
    result = run_cli("recover")
    assert result.exit_code == 0, result.stderr
    assert snapshot() == clean_rollback
    assert snapshot()["releases"]["fx-base"][-1][:3] == (3, "rollback", "deployed")
    # A second recover finds nothing.
    assert json.loads(run_cli("recover", "--json").stdout)["directives"] == []


def test_a_paused_package_can_be_rolled_back():
    upgraded_fx_base()
    ok("pause", "fx-base")
    # Like an upgrade of a paused package (complete_upgrade ends active).
    ok("rollback", "fx-base", "--yes")
    (row,) = doc("list")["installations"]
    assert (row["version"], row["status"], row["revision"]) == ("1.0.0", "active", 3)


def test_on_a_terminal_rollback_and_upgrade_ask_in_their_own_words():
    ok("install", "fx-base==1.0.0", "--yes")
    env = {k: v for k, v in os.environ.items() if k != "FLEETPROMPT_DEBUG"}
    terminal = Terminal(["upgrade", "fx-base"], env)
    terminal.expect("Upgrade plan for tenant default")
    terminal.expect("Upgrade packages in tenant default?")
    terminal.send("y")
    assert terminal.wait() == 0, terminal.seen[-2000:]
    before = snapshot()
    terminal = Terminal(["rollback", "fx-base"], env)
    terminal.expect("Roll fx-base back to revision 1 in tenant default?")
    terminal.send("n")
    assert terminal.wait() == ExitCode.DECLINED
    assert "declined: nothing changed in tenant default" in terminal.seen
    assert snapshot() == before
