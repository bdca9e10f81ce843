"""fleetprompt upgrade: newest allowed versions, config migrations, history."""

from __future__ import annotations

import json

from fleetprompt_cli.errors import ExitCode
from tests.helpers import run_cli


def _json(*args: str) -> dict:
    result = run_cli(*args, "--json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def _installed() -> dict[str, tuple[str, str]]:
    rows = _json("list")["installations"]
    return {r["slug"]: (r["version"], r["status"]) for r in rows}


def test_upgrade_migrates_config_and_records_history():
    assert run_cli("install", "knowledge-base==1.0.0", "--yes").exit_code == 0
    assert run_cli("configure", "knowledge-base", "index_refresh_hours=12").exit_code == 0
    doc = _json("upgrade", "knowledge-base", "--yes")
    assert doc["status"] == "succeeded"
    actions = {s["slug"]: s["action"] for s in doc["plan"]}
    assert actions["knowledge-base"] == "upgrade"
    assert actions["data-connectors"] == "install"  # 2.0.0 added this dependency
    installed = _installed()
    assert installed["knowledge-base"] == ("2.0.0", "active")
    detail = _json("status", "knowledge-base")
    config = detail["installation"]["config"]
    # The 2.0.0 migration renamed the key and kept keyword search for upgraders.
    assert config["refresh_interval_hours"] == 12
    assert "index_refresh_hours" not in config
    assert config["search_mode"] == "keyword"
    kinds = {r["kind"] for r in detail["installation"]["resource_list"]}
    assert "workflow" in kinds
    history = _json("history", "knowledge-base")["transitions"]
    upgrades = [r for r in history if r["transition"] == "complete_upgrade"]
    assert [(r["from_version"], r["to_version"]) for r in upgrades] == [("1.0.0", "2.0.0")]


def test_upgrade_with_nothing_newer_changes_nothing():
    assert run_cli("install", "customer-support", "--yes").exit_code == 0
    result = run_cli("upgrade", "--yes")
    assert result.exit_code == 0
    assert "Nothing to do" in result.stderr


def test_upgrade_of_what_is_not_installed():
    result = run_cli("upgrade", "customer-support")
    assert result.exit_code == ExitCode.NOT_FOUND
    assert "not installed" in result.stderr
