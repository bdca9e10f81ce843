"""The signal log: what directives announced, per tenant, gapless sequence."""

from __future__ import annotations

import json

import pytest

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
    directive = signals[0]["correlationid"]
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


def test_emit_publishes_a_custom_signal_in_cloudevents_form():
    emitted = _json(
        "signals", "emit", "crm.lead.qualified", "--data", '{"lead": 7}', "--subject", "lead-7"
    )
    assert emitted["kind"] == "signal" and emitted["created"] is True
    event = emitted["signal"]
    assert {k: event[k] for k in ("specversion", "type", "subject", "data", "sequence")} == {
        "specversion": "1.0",
        "type": "crm.lead.qualified",
        "subject": "lead-7",
        "data": {"lead": 7},
        "sequence": 1,
    }
    assert event["tenant"] == "default" and event["time"].endswith("Z")
    assert event["source"].startswith("fleetprompt/cli")
    assert _json("signals", "list")["signals"] == [event]


def test_list_filters_by_type_pattern_since_and_limit():
    for type_ in ("crm.lead.new", "billing.invoice.paid", "crm.lead.lost", "crm.leads.x"):
        assert run_cli("signals", "emit", type_).exit_code == 0
    listed = _json("signals", "list", "--type", "crm.lead.*")["signals"]
    assert [s["sequence"] for s in listed] == [1, 3]
    assert [s["sequence"] for s in _json("signals", "list", "--since", "2")["signals"]] == [3, 4]
    assert [s["sequence"] for s in _json("signals", "list", "--limit", "1")["signals"]] == [1]
    # LIKE wildcards in a pattern are matched literally.
    assert run_cli("signals", "emit", "crm_x.a").exit_code == 0
    assert _json("signals", "list", "--type", "crm_x.*")["signals"][0]["type"] == "crm_x.a"
    assert [s["type"] for s in _json("signals", "list", "--type", "crmxx.*")["signals"]] == []
    text = run_cli("signals", "list", "--type", "billing.invoice.paid")
    assert "billing.invoice.paid" in text.stdout and "crm" not in text.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("crm.lead", "--data", "{not json"), "--data: not valid JSON"),
        (("crm.lead", "--data", "[" * 100 + "]" * 100), "--data: JSON nested deeper"),
        (("crm.lead", "--data", "NaN"), "--data: not valid JSON"),
        (("fleetprompt.package.installed",), "reserved 'fleetprompt.' namespace"),
        (("Crm.Lead",), "invalid signal type 'Crm.Lead'"),
        (("crm",), "invalid signal type 'crm'"),
        (("crm.lead.*",), "invalid signal type"),
        (("crm.lead", "--subject", "x" * 501), "--subject must be 1 to 500"),
    ],
)
def test_bad_emits_are_refused_with_one_line_and_store_nothing(args, message):
    result = run_cli("signals", "emit", *args)
    assert result.exit_code == 8, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert _json("signals")["signals"] == []


def test_a_bad_type_pattern_is_refused():
    result = run_cli("signals", "list", "--type", "crm.*.x")
    assert result.exit_code == 8 and "invalid signal type pattern" in result.stderr


def test_control_characters_in_a_subject_are_shown_inert():
    assert run_cli("signals", "emit", "crm.lead", "--subject", "\x1b[31mred\x07").exit_code == 0
    shown = run_cli("signals").stdout
    assert "\x1b" not in shown and "\x07" not in shown and "red" in shown
    assert _json("signals")["signals"][0]["subject"] == "\x1b[31mred\x07"


def test_emit_into_another_tenant_only():
    assert run_cli("tenant", "create", "acme").exit_code == 0
    assert run_cli("signals", "emit", "crm.lead", "-t", "acme").exit_code == 0
    assert _json("signals")["signals"] == []
    assert [s["tenant"] for s in _json("signals", "list", "-t", "acme")["signals"]] == ["acme"]
    unknown = run_cli("signals", "emit", "crm.lead", "-t", "nope")
    assert unknown.exit_code == 3
