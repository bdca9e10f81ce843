"""fleetprompt resolve: the resolver end to end over a real index."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fleetprompt_cli.errors import ExitCode
from tests.helpers import publish_all, run_cli, write_package


def _plan(*args: str) -> dict[str, tuple[str, str]]:
    result = run_cli("resolve", *args, "--json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["schema"] == 1 and doc["kind"] == "plan"
    return {step["slug"]: (step["version"], step["action"]) for step in doc["plan"]}


def test_bundled_index_resolves_a_deep_request():
    plan = _plan("incident-response")
    assert plan == {
        "core-skills": ("1.3.0", "install"),
        "comms-skills": ("1.1.0", "install"),
        "data-connectors": ("1.1.0", "install"),
        "knowledge-base": ("2.0.0", "install"),
        "incident-response": ("1.0.0", "install"),
    }


def test_plan_is_in_dependency_order_with_reasons():
    result = run_cli("resolve", "knowledge-base", "--json")
    steps = json.loads(result.stdout)["plan"]
    order = [s["slug"] for s in steps]
    assert (
        order.index("core-skills") < order.index("data-connectors") < order.index("knowledge-base")
    )
    kb = next(s for s in steps if s["slug"] == "knowledge-base")
    assert kb["requested"] and kb["reason"] == "requested"
    core = next(s for s in steps if s["slug"] == "core-skills")
    assert not core["requested"]
    assert {r["slug"] for r in core["required_by"]} >= {"knowledge-base"}


@pytest.mark.parametrize("spec", ["core-skills==1.2.0", "core-skills@1.2", "core-skills>=1.2,<1.3"])
def test_requirement_forms(spec: str):
    assert _plan(spec) == {"core-skills": ("1.2.0", "install")}


def test_yanked_and_future_platform_versions_are_skipped():
    assert _plan("code-review")["code-review"][0] == "1.0.0"  # 1.1.0 is yanked
    assert _plan("fleet-telematics")["fleet-telematics"][0] == "1.0.0"  # 1.1.0 needs 3.x
    assert _plan("code-review==1.1.0")["code-review"][0] == "1.1.0"  # pinned: allowed


def test_pre_releases_need_asking():
    assert _plan("analytics-reports")["analytics-reports"][0] == "2.1.0"
    assert _plan("analytics-reports", "--pre")["analytics-reports"][0] == "3.0.0b1"
    assert _plan("analytics-reports>=3.0.0b1")["analytics-reports"][0] == "3.0.0b1"


def test_conflict_is_explained_with_its_own_exit_code():
    result = run_cli("resolve", "seo-content==2.0.0", "knowledge-base==1.0.0")
    assert result.exit_code == ExitCode.CONFLICT
    message = result.stderr
    assert "seo-content" in message and "knowledge-base" in message and "core-skills" in message
    assert "Traceback" not in message
    result = run_cli("resolve", "seo-content==2.0.0", "knowledge-base==1.0.0", "--json")
    error = json.loads(result.stdout)["error"]
    assert error["kind"] == "conflict"
    assert set(error["packages"]) == {"seo-content", "knowledge-base", "core-skills"}
    assert error["derivation"]


def test_platform_is_named_when_it_is_why_resolution_fails(monkeypatch):
    monkeypatch.setenv("FLEETPROMPT_PLATFORM_VERSION", "1.0")
    result = run_cli("resolve", "customer-support")
    assert result.exit_code == ExitCode.CONFLICT
    assert "platform" in result.stderr


def test_unknown_package_and_bad_spec():
    result = run_cli("resolve", "custmer-support")
    assert result.exit_code == ExitCode.NOT_FOUND
    assert "did you mean customer-support" in result.stderr
    result = run_cli("resolve", "customer-support>>2")
    assert result.exit_code == ExitCode.USAGE
    assert "invalid requirement" in result.stderr


def test_only_reachable_packages_are_loaded(tmp_path: Path, monkeypatch):
    from fleetprompt_cli.actions.planning import plan_request
    from fleetprompt_cli.settings import load_settings

    src = tmp_path / "src"
    folders = [
        write_package(src, "leaf", "1.0.0"),
        write_package(src, "app", "1.0.0", deps={"leaf": ">=1"}),
        write_package(src, "unrelated", "1.0.0"),
    ]
    publish_all(tmp_path / "index", *folders)
    monkeypatch.setenv("FLEETPROMPT_INDEX", str(tmp_path / "index"))
    plan = plan_request(load_settings(), ["app"])
    assert sorted(plan.loaded) == ["app", "leaf"]


def test_a_solution_failing_the_self_check_is_a_bug_report(monkeypatch):
    from fleetprompt_cli.core.resolver import solver as solver_module

    solve = solver_module._Solver.solve

    def forgetful(self):
        decided = solve(self)
        decided.pop("core-skills")
        return decided

    monkeypatch.setattr(solver_module._Solver, "solve", forgetful)
    # As a user runs it: without the suite's FLEETPROMPT_DEBUG.
    monkeypatch.delenv("FLEETPROMPT_DEBUG")
    result = run_cli("resolve", "knowledge-base")
    assert result.exit_code == ExitCode.FAILURE
    assert "leaves out" in result.stderr and "core-skills" in result.stderr
    assert "please report" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_explanations_show_constraints_as_written(tmp_path: Path, monkeypatch):
    src = tmp_path / "src"
    folders = [
        write_package(src, "base", "1.0.0"),
        write_package(src, "base", "1.5.0"),
        write_package(src, "base", "2.0.0"),
        write_package(src, "app", "1.0.0", deps={"base": ">=1.2,<2"}),
    ]
    publish_all(tmp_path / "index", *folders)
    monkeypatch.setenv("FLEETPROMPT_INDEX", str(tmp_path / "index"))
    result = run_cli("resolve", "app", "base>=2,!=2.1")
    assert result.exit_code == ExitCode.CONFLICT
    text = " ".join(result.stderr.split())
    assert "base >=1.2,<2" in text
    assert "base >=2,!=2.1" in text
    assert "<2,>=1.2" not in text and "!=2.1,>=2" not in text
    doc = json.loads(run_cli("resolve", "app", "base>=2,!=2.1", "--json").stdout)["error"]
    specifiers = {
        step["cause"]["specifier"]
        for step in doc["derivation"]
        if step["cause"]["kind"] in ("request", "dependency")
    }
    assert {">=1.2,<2", ">=2,!=2.1"} <= specifiers
