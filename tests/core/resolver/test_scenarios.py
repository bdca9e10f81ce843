"""Data-driven resolver scenarios: one JSON file per case under ``scenarios/``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from packaging.version import Version

from fleetprompt_cli.core.names import parse_requirement
from fleetprompt_cli.core.resolver import ResolutionConflict, resolve

from .support import DictSource

SCENARIOS = sorted((Path(__file__).parent / "scenarios").glob("*.json"))


def run(scenario: dict):
    """Resolve a scenario; return the source and the resolution or the conflict."""
    source = DictSource(scenario["index"])
    options = dict(scenario.get("options", {}))
    if "platform_version" in options:
        options["platform_version"] = Version(options["platform_version"])
    installed = {slug: Version(v) for slug, v in scenario.get("installed", {}).items()}
    if "preferred" in scenario:
        options["preferred"] = {slug: Version(v) for slug, v in scenario["preferred"].items()}
    requirements = [parse_requirement(text) for text in scenario["request"]]
    try:
        return source, resolve(requirements, source, installed=installed, **options)
    except ResolutionConflict as conflict:
        return source, conflict


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_scenario(path: Path) -> None:
    scenario = json.loads(path.read_text())
    expected = scenario["expected"]
    source, result = run(scenario)
    # No package is ever loaded twice.
    assert len(source.calls) == len(set(source.calls))
    if "conflict" in expected:
        assert isinstance(result, ResolutionConflict), f"expected a conflict, got {result}"
        want = expected["conflict"]
        text = result.message
        for fragment in want.get("contains", []):
            assert fragment in text, f"{fragment!r} not in:\n{text}"
        for slug in want.get("mentions", []):
            assert slug in result.packages, f"{slug} not involved:\n{text}"
        for slug in want.get("not_mentions", []):
            assert slug not in result.packages, f"{slug} should not be involved:\n{text}"
        assert text.rstrip().endswith("the request is unsatisfiable.")
        document = result.to_json()
        assert document["kind"] == "conflict"
        assert document["explanation"] == text
        assert document["derivation"][-1]["terms"] == []
        json.dumps(document)
        return
    assert not isinstance(result, ResolutionConflict), result.message
    got = {item.slug: {"version": str(item.version), "action": item.action} for item in result.plan}
    want = {
        slug: {"version": entry["version"], "action": entry.get("action", "install")}
        for slug, entry in expected["plan"].items()
    }
    assert got == want
    if "order" in expected:
        assert [item.slug for item in result.plan] == expected["order"]
    for fragment in expected.get("warnings_contain", []):
        assert any(fragment in warning for warning in result.warnings), result.warnings
    if expected.get("no_warnings"):
        assert result.warnings == []
    for slug, reason in expected.get("reasons", {}).items():
        assert next(item for item in result.plan if item.slug == slug).reason == reason
    if "loaded" in expected:
        assert sorted(source.calls) == sorted(expected["loaded"])
    # Dependencies come before their dependents, except inside a cycle.
    position = {item.slug: n for n, item in enumerate(result.plan)}
    for item in result.plan:
        for dependent, _, _ in item.required_by:
            cyclic = expected.get("cyclic", [])
            if not (item.slug in cyclic and dependent in cyclic):
                assert position[item.slug] < position[dependent]
    json.dumps(result.to_json())
