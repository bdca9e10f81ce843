"""fleetprompt outdated: the upgrade an installed package could take, and yanked versions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import publish_all, run_cli, write_package


@pytest.fixture
def index(tmp_path: Path, monkeypatch) -> Path:
    src = tmp_path / "src"
    root = tmp_path / "index"
    publish_all(
        root,
        write_package(src, "base", "1.0.0"),
        write_package(src, "base", "1.5.0"),
        write_package(src, "app", "1.0.0", deps={"base": ">=1.0,<2"}),
    )
    monkeypatch.setenv("FLEETPROMPT_INDEX", str(root))
    return root


def _report(*args: str) -> dict[str, dict]:
    result = run_cli("outdated", "--json", *args)
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["kind"] == "outdated"
    return {p["slug"]: p for p in document["packages"]}


def test_wanted_follows_dependents_latest_does_not(index, tmp_path):
    assert run_cli("install", "base==1.0.0", "--yes").exit_code == 0
    assert run_cli("install", "app", "--yes").exit_code == 0
    publish_all(index, write_package(tmp_path / "more", "base", "2.0.0"))
    publish_all(index, write_package(tmp_path / "more", "base", "3.0.0b1"))
    report = _report()
    assert report["base"] == {
        "slug": "base",
        "version": "1.0.0",
        "wanted": "1.5.0",  # app needs base <2
        "latest": "2.0.0",  # never the pre-release
        "yanked": False,
        "outdated": True,
        "note": "",
    }
    assert report["app"]["wanted"] == "1.0.0" and not report["app"]["outdated"]
    text = run_cli("outdated")
    assert text.exit_code == 0
    assert "base" in text.stdout and "1.5.0" in text.stdout and "2.0.0" in text.stdout
    assert "app" not in text.stdout  # up to date: not listed


def test_yanked_installed_versions_are_flagged(index):
    assert run_cli("install", "base==1.0.0", "--yes").exit_code == 0
    assert run_cli("yank", "base", "1.0.0", "--index", str(index)).exit_code == 0
    report = _report()
    assert report["base"]["yanked"] is True
    assert report["base"]["latest"] == "1.5.0"
    assert "(yanked)" in run_cli("outdated").stdout


def test_an_up_to_date_tenant_says_so(index):
    assert run_cli("install", "app", "--yes").exit_code == 0
    result = run_cli("outdated")
    assert result.exit_code == 0
    assert "All 2 packages of tenant default are up to date." in result.stderr
    assert _report() == {
        "app": {
            "slug": "app",
            "version": "1.0.0",
            "wanted": "1.0.0",
            "latest": "1.0.0",
            "yanked": False,
            "outdated": False,
            "note": "",
        },
        "base": {
            "slug": "base",
            "version": "1.5.0",
            "wanted": "1.5.0",
            "latest": "1.5.0",
            "yanked": False,
            "outdated": False,
            "note": "",
        },
    }


def test_unknown_tenant_is_not_found(index):
    result = run_cli("outdated", "--tenant", "nosuch")
    assert result.exit_code == 3


def test_list_flags_a_yanked_installed_version_that_keeps_working(index):
    assert run_cli("install", "base==1.0.0", "--yes").exit_code == 0
    result = run_cli("yank", "base@1.0.0", "--reason", "bad prompt", "--index", str(index))
    assert result.exit_code == 0, result.stderr
    document = json.loads(run_cli("list", "--json").stdout)
    (row,) = document["installations"]
    assert row["slug"] == "base" and row["yanked"] is True and row["status"] == "active"
    assert "1.0.0 (yanked)" in run_cli("list").stdout
    # Still installed and usable: pausing and resuming it works as before.
    assert run_cli("pause", "base").exit_code == 0
    assert run_cli("resume", "base").exit_code == 0
    assert run_cli("yank", "base@1.0.0", "--undo", "--index", str(index)).exit_code == 0
    assert json.loads(run_cli("list", "--json").stdout)["installations"][0]["yanked"] is False
    assert "(yanked)" not in run_cli("list").stdout
