"""The signal log: what directives announced, per tenant, gapless sequence."""

from __future__ import annotations

import json

from tests.helpers import run_cli


def _json(*args: str) -> dict:
    result = run_cli(*args, "--json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_installs_and_uninstalls_are_announced_in_order():
    assert run_cli("install", "knowledge-base", "--yes").exit_code == 0
    signals = _json("signals")["signals"]
    assert [s["sequence"] for s in signals] == [1, 2, 3]
    assert [(s["type"], s["subject"]) for s in signals] == [
        ("fleetprompt.package.installed", "core-skills"),
        ("fleetprompt.package.installed", "data-connectors"),
        ("fleetprompt.package.installed", "knowledge-base"),
    ]
    directive = signals[0]["correlation_id"]
    shown = _json("directives", "show", directive)["directive"]
    assert [s["sequence"] for s in shown["signals"]] == [1, 2, 3]
    assert run_cli("uninstall", "knowledge-base", "--yes").exit_code == 0
    later = _json("signals", "--after", "3")["signals"]
    assert {s["type"] for s in later} == {"fleetprompt.package.uninstalled"}
    assert [s["sequence"] for s in later] == [4, 5, 6]


def test_signals_are_per_tenant():
    assert run_cli("tenant", "create", "acme").exit_code == 0
    assert run_cli("install", "code-review", "--yes", "-t", "acme").exit_code == 0
    assert _json("signals")["signals"] == []
    assert [s["sequence"] for s in _json("signals", "-t", "acme")["signals"]] == [1, 2]
