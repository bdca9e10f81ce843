"""Subscriptions follow their package; dispatch, deliveries, dead letters, retry, replay, tail.

The second handler is a REAL entry point (tests/actions/signal_support.py):
commands that must load it run as child processes with it on PYTHONPATH.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.actions.signal_support import child_env, read_log, write_plugin
from tests.helpers import publish_all, run_cli, write_package


@pytest.fixture(scope="module")
def sig_index(tmp_path_factory):
    root = tmp_path_factory.mktemp("sig")
    src, index = root / "src", root / "index"
    folders = [
        write_package(
            src,
            "sig-pkg",
            "1.0.0",
            agents={"Watcher": []},
            workflows=[{"name": "Flow", "steps": ["Watcher"]}],
            signals={
                "subscribes": [
                    {"type": "fleetprompt.package.*", "handler": "Watcher"},
                    {"type": "crm.lead.*", "handler": "Flow"},
                ]
            },
        ),
        write_package(
            src,
            "sig-pkg",
            "2.0.0",
            agents={"Watcher": []},
            skills=["notes"],
            signals={
                "subscribes": [
                    {"type": "crm.lead.qualified", "handler": "Watcher"},
                    {"type": "billing.*", "handler": "notes"},
                ]
            },
        ),
    ]
    index.mkdir()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FLEETPROMPT_HOME", str(root / "publisher"))
        publish_all(index, *folders)
    return index


@pytest.fixture(autouse=True)
def sig_env(sig_index, monkeypatch):
    monkeypatch.setenv("FLEETPROMPT_INDEX", str(sig_index))
    monkeypatch.setenv("FLEETPROMPT_ACTOR", "tester")


def ok(*args: str) -> dict:
    result = run_cli(*args, "--json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def subs() -> dict[str, dict]:
    return {s["name"]: s for s in ok("subscriptions")["subscriptions"]}


def test_subscriptions_follow_install_upgrade_pause_and_uninstall():
    ok("install", "sig-pkg==1.0.0", "--yes")
    found = subs()
    assert {n: (s["handler_kind"], s["patterns"], s["status"]) for n, s in found.items()} == {
        "sig-pkg:Flow": ("workflow", ["crm.lead.*"], "active"),
        "sig-pkg:Watcher": ("agent", ["fleetprompt.package.*"], "active"),
    }
    # Registered before the package's own "installed" signal: it is pending for Watcher.
    assert found["sig-pkg:Watcher"]["offset"] == 0
    assert found["sig-pkg:Watcher"]["pending"] == 1
    assert ok("signals", "dispatch")["delivered"] == 1
    assert subs()["sig-pkg:Watcher"]["offset"] == 1

    ok("pause", "sig-pkg")
    assert {s["status"] for s in subs().values()} == {"paused"}
    ok("signals", "emit", "crm.lead.new")
    assert ok("signals", "dispatch")["delivered"] == 0  # paused: it waits
    assert subs()["sig-pkg:Flow"]["pending"] == 1
    ok("resume", "sig-pkg")
    assert ok("signals", "dispatch")["delivered"] == 3  # crm.lead.new, paused, resumed

    ok("upgrade", "sig-pkg", "--yes")
    found = subs()
    assert {n: (s["handler_kind"], s["patterns"]) for n, s in found.items()} == {
        "sig-pkg:Watcher": ("agent", ["crm.lead.qualified"]),
        "sig-pkg:notes": ("skill", ["billing.*"]),
    }
    assert found["sig-pkg:Watcher"]["offset"] == 4  # kept across the upgrade
    ok("uninstall", "sig-pkg", "--yes")
    assert subs() == {}
    assert ok("signals", "deliveries")["deliveries"] == []  # removed with their subscriber


def test_a_failed_install_registers_no_subscription():
    result = run_cli(
        "install", "sig-pkg==1.0.0", "--yes", env={"FLEETPROMPT_FAULT": "before-commit=raise"}
    )
    assert result.exit_code != 0
    assert subs() == {}
    types = [s["type"] for s in ok("signals")["signals"]]
    assert types == ["fleetprompt.package.failed"]


def test_every_lifecycle_change_is_announced_and_linked_to_its_directive():
    ok("install", "sig-pkg==1.0.0", "--yes")
    ok("pause", "sig-pkg")
    ok("resume", "sig-pkg")
    ok("upgrade", "sig-pkg", "--yes")
    ok("uninstall", "sig-pkg", "--yes")
    events = ok("signals")["signals"]
    assert [e["type"].removeprefix("fleetprompt.package.") for e in events] == [
        "installed",
        "paused",
        "resumed",
        "upgraded",
        "uninstalled",
    ]
    assert [e["sequence"] for e in events] == [1, 2, 3, 4, 5]
    directives = [d["id"] for d in ok("directives", "list", "-n", "10")["directives"]][::-1]
    assert [e["correlationid"] for e in events] == directives
    assert [e["causationid"] for e in events] == directives
    assert all(e["subject"] == "sig-pkg" and e["data"]["slug"] == "sig-pkg" for e in events)
    shown = ok("directives", "show", directives[1])["directive"]
    assert [s["type"] for s in shown["signals"]] == ["fleetprompt.package.paused"]


def test_deliveries_replay_and_generations():
    ok("install", "sig-pkg==1.0.0", "--yes")
    for n in range(3):
        ok("signals", "emit", "crm.lead.new", "--data", json.dumps({"n": n}))
    assert ok("signals", "dispatch")["delivered"] == 4
    assert ok("signals", "dispatch")["delivered"] == 0  # nothing twice
    flow = ok("signals", "deliveries", "--subscriber", "sig-pkg:Flow")["deliveries"]
    assert [(d["sequence"], d["generation"], d["status"]) for d in flow] == [
        (2, 1, "delivered"),
        (3, 1, "delivered"),
        (4, 1, "delivered"),
    ]
    assert flow[0]["result"]["notified"] == "workflow:Flow"
    replayed = ok("signals", "replay", "--subscriber", "sig-pkg:Flow", "--from", "3")
    assert replayed["subscription"]["generation"] == 2
    assert replayed["subscription"]["pending"] == 2
    assert ok("signals", "dispatch")["delivered"] == 2
    flow = ok("signals", "deliveries", "--subscriber", "sig-pkg:Flow")["deliveries"]
    assert [(d["sequence"], d["generation"]) for d in flow][-2:] == [(3, 2), (4, 2)]
    missing = run_cli("signals", "replay", "--subscriber", "nobody:X", "--from", "1")
    assert missing.exit_code == 3 and "no subscriber named 'nobody:X'" in missing.stderr


def _child(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "fleetprompt_cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_a_plugin_handler_that_fails_is_retried_then_dead_lettered(tmp_path):
    ok("install", "sig-pkg==1.0.0", "--yes")
    log, fail = tmp_path / "calls.log", tmp_path / "fail-now"
    env = child_env(
        write_plugin(tmp_path / "plugin", ("workflow",)),
        FP_TEST_HANDLER_LOG=str(log),
        FP_TEST_HANDLER_FAIL=str(fail),
        FLEETPROMPT_SIGNAL_MAX_ATTEMPTS="2",
    )
    ok("signals", "emit", "crm.lead.new", "--data", '{"n": 1}')
    ok("signals", "emit", "crm.lead.new", "--data", '{"fail": true}')
    ok("signals", "emit", "crm.lead.new", "--data", '{"n": 3}')
    done = _child("signals", "dispatch", "--json", env=env)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["dead_lettered"] == 1
    flow = ok("signals", "deliveries", "--subscriber", "sig-pkg:Flow")["deliveries"]
    assert [(d["sequence"], d["status"], d["attempts"]) for d in flow] == [
        (2, "delivered", 1),
        (3, "dead", 2),
        (4, "delivered", 1),  # later signals still delivered
    ]
    assert flow[0]["result"] == {"handled_by": "fp-test-plugin", "sequence": 2}
    assert flow[1]["error"] == "RuntimeError: handler refused signal 3"
    # The agent subscriber kept the built-in handler (the plugin serves workflows).
    watcher = ok("signals", "deliveries", "--subscriber", "sig-pkg:Watcher")["deliveries"]
    assert watcher[0]["result"]["handler"] == "notification"
    assert [c[1] for c in read_log(log)] == [2, 3, 3, 4]
    dead = ok("signals", "dead-letters")["deliveries"]
    assert [d["sequence"] for d in dead] == [3]
    # Retrying runs the handler once more: the data still says fail.
    again = _child("signals", "retry", str(dead[0]["id"]), "--json", env=env)
    assert again.returncode == 1
    assert json.loads(again.stdout)["delivery"]["attempts"] == 3
    # A retry with a handler that now succeeds delivers it.
    fixed = child_env(write_plugin(tmp_path / "plugin2", ("workflow",)))
    (tmp_path / "plugin2" / "fp_test_handler.py").write_text(
        "def handle(event, subscriber):\n    return {'fixed': True}\n"
    )
    retried = _child("signals", "retry", str(dead[0]["id"]), "--json", env=fixed)
    assert retried.returncode == 0, retried.stderr
    assert json.loads(retried.stdout)["delivery"]["status"] == "delivered"
    assert ok("signals", "dead-letters")["deliveries"] == []
    not_dead = run_cli("signals", "retry", str(dead[0]["id"]))
    assert not_dead.exit_code == 11 and "only dead letters" in not_dead.stderr
    assert run_cli("signals", "retry", "999").exit_code == 3


def test_tail_reads_what_is_written_and_stops_at_its_limit():
    ok("signals", "emit", "crm.lead.new")
    ok("signals", "emit", "billing.invoice.paid")
    ok("signals", "emit", "crm.lead.lost")
    result = run_cli(
        "signals", "tail", "--since", "0", "--type", "crm.*", "--limit", "2", "--jsonl"
    )
    assert result.exit_code == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(e["sequence"], e["type"]) for e in lines] == [
        (1, "crm.lead.new"),
        (3, "crm.lead.lost"),
    ]
    # From now on, nothing new: a timeout of zero ends it at once.
    idle = run_cli("signals", "tail", "--timeout", "0")
    assert idle.exit_code == 0 and idle.stdout == ""


def test_the_worker_delivers_what_a_wakeup_announces():
    ok("install", "sig-pkg==1.0.0", "--yes")
    ok("signals", "emit", "crm.lead.new")
    stats = ok("worker", "--once")
    assert stats["signals_delivered"] == 2  # the package's installed signal and crm.lead.new
    assert all(s["pending"] == 0 for s in subs().values())


def test_emit_wakes_a_worker_through_the_queue():
    from fleetprompt_cli.queue import get_huey
    from fleetprompt_cli.settings import load_settings

    ok("signals", "emit", "crm.lead.new")
    huey = get_huey(load_settings())
    messages = [json.loads(raw) for raw in huey.storage.enqueued_items()]
    assert [(m["name"].rsplit(".", 1)[-1], m["args"]) for m in messages] == [
        ("dispatch_signals", [1])
    ]


def test_a_bad_attempt_limit_is_refused_naming_the_variable():
    ok("install", "sig-pkg==1.0.0", "--yes")
    result = run_cli("signals", "dispatch", env={"FLEETPROMPT_SIGNAL_MAX_ATTEMPTS": "0"})
    assert result.exit_code == 8
    assert "FLEETPROMPT_SIGNAL_MAX_ATTEMPTS must be a whole number from 1 to 100" in result.stderr
    assert subs()["sig-pkg:Watcher"]["pending"] == 1  # nothing was delivered


def test_tail_follows_signals_written_while_it_waits():
    import threading

    from fleetprompt_cli.actions.signals import tail
    from tests.queue.support import store_for

    store = store_for()
    got: list[dict] = []
    follower = threading.Thread(
        target=lambda: got.extend(tail(store, "default", since=0, limit=2, timeout=120, poll=0.01))
    )
    follower.start()
    ok("signals", "emit", "crm.lead.new")
    ok("signals", "emit", "crm.lead.lost")
    follower.join()
    store.dispose()
    assert [e["type"] for e in got] == ["crm.lead.new", "crm.lead.lost"]
