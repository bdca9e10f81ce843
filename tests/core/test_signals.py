"""The signal envelope, the type grammar and subscription patterns (core/signals.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from fleetprompt_cli.core import signals as core
from fleetprompt_cli.errors import InvalidInput


@pytest.mark.parametrize(
    "value", ["crm.lead", "field_service.job.completed", "a1.b_2.c3", "fleetprompt.package.x"]
)
def test_types_that_follow_the_grammar(value):
    assert core.check_type(value) == value


@pytest.mark.parametrize(
    "value",
    [
        "crm",
        "CRM.lead",
        "crm..lead",
        ".crm.lead",
        "crm.lead.",
        "crm.lead.*",
        "crm-x.lead",
        "crm.le ad",
        "crm.lead\n",
        "crm.lé",
        "a." + "b" * 200,
    ],
)
def test_types_that_break_the_grammar_are_refused(value):
    with pytest.raises(InvalidInput, match="invalid signal type"):
        core.check_type(value)


def test_patterns_end_in_a_wildcard_or_are_types():
    assert core.check_pattern("fleetprompt.package.*") == "fleetprompt.package.*"
    assert core.check_pattern("crm.*") == "crm.*"
    assert core.check_pattern("crm.lead") == "crm.lead"
    for bad in ("*", "crm.*.lead", "crm*", "crm.lead.**", "*.lead"):
        with pytest.raises(InvalidInput, match="pattern"):
            core.check_pattern(bad)


@pytest.mark.parametrize(
    ("pattern", "type_", "expected"),
    [
        ("fleetprompt.package.*", "fleetprompt.package.installed", True),
        ("fleetprompt.package.*", "fleetprompt.package.a.b", True),
        ("fleetprompt.package.*", "fleetprompt.package", False),
        ("fleetprompt.package.*", "fleetprompt.packages.installed", False),
        ("crm.lead", "crm.lead", True),
        ("crm.lead", "crm.lead.qualified", False),
        ("crm_x.*", "crmxx.lead", False),
    ],
)
def test_matching(pattern, type_, expected):
    assert core.matches(pattern, type_) is expected


def test_reserved_namespace():
    assert core.is_reserved("fleetprompt.package.installed")
    assert not core.is_reserved("fleetprompt_x.a")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{", "not valid JSON"),
        ("NaN", "not valid JSON"),
        ('{"a": Infinity}', "not valid JSON"),
        ("[" * 40 + "]" * 40, "nested deeper"),
        ("[" * 5000 + "]" * 5000, "nested deeper"),
        ('"' + "x" * core.MAX_DATA_BYTES + '"', "bytes of JSON"),
    ],
)
def test_malformed_data_is_refused_naming_the_option(text, message):
    with pytest.raises(InvalidInput, match=f"--data: .*{message}"):
        core.parse_data(text)


def test_data_is_any_json_value():
    assert core.parse_data('{"a": [1, 2.5, null, "x"]}') == {"a": [1, 2.5, None, "x"]}
    assert core.parse_data("3") == 3


def _envelope(**changes):
    fields = {
        "id": "e-1",
        "source": "fleetprompt/cli",
        "type": "crm.lead.qualified",
        "time": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        "tenant": "acme",
        "sequence": 7,
        "data": {"lead": 1},
        "correlation_id": "d-1",
    }
    return core.SignalEnvelope(**{**fields, **changes})


def test_the_envelope_in_cloudevents_json_form():
    document = _envelope().to_cloudevent()
    assert document == {
        "specversion": "1.0",
        "id": "e-1",
        "source": "fleetprompt/cli",
        "type": "crm.lead.qualified",
        "time": "2026-01-02T03:04:05Z",
        "datacontenttype": "application/json",
        "data": {"lead": 1},
        "tenant": "acme",
        "sequence": 7,
        "correlationid": "d-1",
        "causationid": None,
    }
    # CloudEvents attribute names: lower-case letters and digits only.
    assert all(key.isalnum() and key.islower() for key in document)
    json.dumps(document)


def test_the_envelope_is_checked_and_immutable():
    envelope = _envelope()
    with pytest.raises(ValidationError):
        envelope.type = "x.y"  # type: ignore[misc]
    for changes in (
        {"type": "Bad"},
        {"time": datetime(2026, 1, 1)},
        {"sequence": 0},
        {"id": ""},
        {"specversion": "0.3"},
        {"extra": 1},
    ):
        with pytest.raises(ValidationError):
            _envelope(**changes)
