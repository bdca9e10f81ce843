"""The lifecycle commands end to end: list, status, uninstall, pause/resume, configure,
history and directives, through the CLI against the bundled index."""

from __future__ import annotations

import json

import pytest

from fleetprompt_cli.errors import ExitCode
from tests.helpers import run_cli


def ok(*args: str):
    result = run_cli(*args)
    assert result.exit_code == 0, (args, result.stdout, result.stderr)
    return result


def as_json(*args: str, code: int = 0) -> dict:
    result = run_cli(*args, "--json")
    assert result.exit_code == code, (args, result.stdout, result.stderr)
    document = json.loads(result.stdout)
    assert document["schema"] == 1
    return document


def rows(*extra: str) -> dict[str, dict]:
    return {i["slug"]: i for i in as_json("list", *extra)["installations"]}


@pytest.fixture
def kb():
    """knowledge-base (pulls core-skills and data-connectors) in the default tenant."""
    ok("install", "knowledge-base", "--yes")


def test_list_shows_installations_with_resource_counts(kb):
    document = as_json("list")
    assert document["kind"] == "installations"
    assert document["tenant"] == "default"
    found = {i["slug"]: i for i in document["installations"]}
    assert set(found) == {"core-skills", "data-connectors", "knowledge-base"}
    kb_row = found["knowledge-base"]
    assert kb_row["status"] == "active"
    assert kb_row["requested"] is True
    assert found["core-skills"]["requested"] is False
    assert kb_row["installed_at"]
    assert kb_row["resources"] == {"agent": 3, "workflow": 2, "skill": 4}
    text = ok("list").stdout
    assert "knowledge-base" in text and "dependency" in text
    assert max(len(line) for line in text.splitlines()) <= 80


def test_list_on_an_empty_tenant_says_so():
    result = ok("list")
    assert result.stdout == ""
    assert "Nothing installed in tenant default" in result.stderr
    assert as_json("list")["installations"] == []


def test_status_summary_slug_and_directive(kb):
    summary = as_json("status")
    assert summary["kind"] == "tenant_status"
    assert summary["installations"] == {"active": 3}
    assert summary["open_directives"] == []

    detail = as_json("status", "knowledge-base")
    assert detail["kind"] == "installation"
    installation = detail["installation"]
    assert installation["version"] == "2.0.0"
    assert installation["status"] == "active"
    assert installation["config"]["search_mode"] == "hybrid"
    assert installation["error_message"] is None
    assert installation["pending_version"] is None
    assert {"kind": "agent", "name": "Answer Bot"} in installation["resource_list"]
    transitions = [r["transition"] for r in detail["revisions"]]
    assert transitions == ["plan", "start_install", "complete_install"]

    directive_id = as_json("directives", "list")["directives"][0]["id"]
    shown = as_json("status", directive_id[:8])
    assert shown["kind"] == "directive"
    assert shown["directive"]["id"] == directive_id
    assert [s["status"] for s in shown["directive"]["steps"]] == ["done"] * 3
    text = ok("status", directive_id[:6]).stdout
    assert directive_id in text and "data-connectors" in text


def test_status_of_unknown_target_is_not_found():
    result = run_cli("status", "no-such-thing")
    assert result.exit_code == ExitCode.NOT_FOUND
    assert "neither an installation nor a directive" in result.stderr
    # A prefix shorter than six characters is never looked up.
    assert run_cli("directives", "show", "abc").exit_code == ExitCode.NOT_FOUND


def test_pause_and_resume_through_the_state_machine(kb):
    document = as_json("pause", "knowledge-base", "--actor", "alice")
    assert document["kind"] == "pause"
    assert document["installation"]["status"] == "paused"

    again = run_cli("pause", "knowledge-base")
    assert again.exit_code == ExitCode.STATE
    assert "cannot pause knowledge-base: it is paused (pause needs active)" in again.stderr

    assert ok("resume", "knowledge-base").stdout.strip() == (
        "knowledge-base is active in tenant default"
    )
    refused = run_cli("resume", "knowledge-base")
    assert refused.exit_code == ExitCode.STATE
    assert "cannot resume knowledge-base: it is active (resume needs paused)" in refused.stderr

    revisions = as_json("history", "knowledge-base")["transitions"]
    pause_rev = [r for r in revisions if r["transition"] == "pause"]
    assert len(pause_rev) == 1  # The refused pause recorded nothing.
    assert pause_rev[0]["actor"] == "alice"
    assert pause_rev[0]["from_status"] == "active" and pause_rev[0]["to_status"] == "paused"
    # Every change is in the command log, refused ones are not.
    log = as_json("directives", "list")["directives"]
    assert [d["operation"] for d in log[:2]] == ["resume", "pause"]
    assert log[1]["actor"] == "alice"
    assert log[1]["status"] == "succeeded"
    assert pause_rev[0]["directive_id"] == log[1]["id"]


def test_pause_unknown_package_is_not_found(kb):
    result = run_cli("pause", "code-review")
    assert result.exit_code == ExitCode.NOT_FOUND
    assert "code-review is not installed in tenant 'default'" in result.stderr


def test_configure_validates_and_records_the_diff(kb):
    document = as_json("configure", "knowledge-base", "max_articles=50", "public=yes")
    assert document["kind"] == "configure"
    assert document["changes"] == {"max_articles": [2000, 50], "public": [False, True]}
    assert document["config"]["max_articles"] == 50
    directive = document["directive"]

    last = as_json("history", "knowledge-base", "--limit", "1")["transitions"]
    assert len(last) == 1
    assert last[0]["transition"] == "configure"
    assert last[0]["directive_id"] == directive
    assert last[0]["config_diff"]["changed"] == {
        "max_articles": [2000, 50],
        "public": [False, True],
    }
    shown = as_json("directives", "show", directive[:10])["directive"]
    assert shown["operation"] == "configure"
    assert shown["arguments"]["config"] == ["max_articles=50", "public=yes"]


def test_config_values_are_shown_as_written_in_toml_not_python(kb):
    changed = ok("configure", "knowledge-base", "max_articles=50", "public=yes").stdout
    assert "knowledge-base: max_articles 2000 → 50" in changed
    assert "knowledge-base: public false → true" in changed
    status = ok("status", "knowledge-base").stdout
    assert "  public = true" in status
    assert "  max_articles = 50" in status
    history = ok("history", "knowledge-base", "--transitions").stdout
    assert "config: max_articles: 2000 → 50, public: false → true" in history
    # A plan shows the new status and version; a transition, the statuses and
    # the version it records (never "-→-" for what it does not).
    assert "    queued  2.0.0  by " in history
    assert "    queued → installing  by " in history
    assert "    installing → active  2.0.0  by " in history
    for text in (changed, status, history):
        assert "True" not in text and "False" not in text and "'" not in text


@pytest.mark.parametrize(
    ("assignment", "message"),
    [
        ("nope=1", "has no config key 'nope'"),
        ("max_articles=many", "'many' is not a valid integer"),
        ("search_mode=bogus", "'bogus' is not one of keyword, semantic, hybrid"),
        ("novalue", "expected KEY=VALUE"),
    ],
)
def test_configure_refuses_bad_values_and_writes_nothing(kb, assignment, message):
    before = as_json("status", "knowledge-base")["installation"]["config"]
    log_before = len(as_json("directives", "list")["directives"])
    result = run_cli("configure", "knowledge-base", "max_articles=10", assignment)
    assert result.exit_code == ExitCode.INVALID, result.stderr
    assert message in result.stderr
    assert as_json("status", "knowledge-base")["installation"]["config"] == before
    assert len(as_json("directives", "list")["directives"]) == log_before


def test_configure_with_the_same_value_changes_nothing(kb):
    document = as_json("configure", "knowledge-base", "search_mode=hybrid")
    assert document["changes"] == {} and document["directive"] is None


def test_uninstall_refuses_while_a_dependent_is_installed(kb):
    result = run_cli("uninstall", "core-skills", "--yes")
    assert result.exit_code == ExitCode.STATE
    assert "core-skills is needed by data-connectors, knowledge-base" in result.stderr
    assert "--force" in result.stderr
    assert rows()["core-skills"]["status"] == "active"
    assert as_json("uninstall", "core-skills", "--yes", code=ExitCode.STATE)["error"][
        "dependents"
    ] == {"core-skills": ["data-connectors", "knowledge-base"]}


def test_uninstall_force_removes_only_what_was_named(kb):
    document = as_json("uninstall", "core-skills", "--force", "--yes")
    assert document["status"] == "succeeded"
    assert [p["slug"] for p in document["plan"]] == ["core-skills"]
    assert set(rows()) == {"data-connectors", "knowledge-base"}


def test_uninstall_removes_unneeded_dependencies_keeps_history(kb):
    document = as_json("uninstall", "knowledge-base", "--yes")
    assert document["kind"] == "uninstall"
    assert document["status"] == "succeeded"
    plan = {p["slug"]: p["reason"] for p in document["plan"]}
    assert plan == {
        "knowledge-base": "requested",
        "data-connectors": "no longer needed",
        "core-skills": "no longer needed",
    }
    assert rows() == {}
    history_rows = rows("--all")
    assert {r["status"] for r in history_rows.values()} == {"uninstalled"}
    # Resources are deleted; the rows and their revisions stay for history.
    assert all(r["resources"] == {} for r in history_rows.values())
    transitions = [r["transition"] for r in as_json("history", "knowledge-base")["transitions"]]
    assert transitions[-2:] == ["start_uninstall", "complete_uninstall"]
    assert as_json("status", "knowledge-base")["installation"]["status"] == "uninstalled"
    # The state machine refuses what is already uninstalled.
    again = run_cli("uninstall", "knowledge-base", "--yes")
    assert again.exit_code == ExitCode.STATE
    assert "it is uninstalled" in again.stderr


def test_uninstall_keep_deps_and_shared_dependencies(kb):
    ok("install", "code-review", "--yes")
    document = as_json("uninstall", "knowledge-base", "--keep-deps", "--yes")
    assert [p["slug"] for p in document["plan"]] == ["knowledge-base"]
    assert set(rows()) == {"code-review", "core-skills", "data-connectors"}
    # data-connectors is needed by nothing now, but --keep-deps kept it; a
    # later uninstall of code-review takes core-skills only if nothing needs it.
    document = as_json("uninstall", "code-review", "--dry-run")
    assert document["status"] == "dry_run" and document["directive"] is None
    assert [p["slug"] for p in document["plan"]] == ["code-review"]
    assert "code-review" in rows()


def test_uninstall_no_wait_queues_a_directive(kb):
    document = as_json("uninstall", "knowledge-base", "--no-wait", "--yes")
    assert document["status"] == "queued"
    shown = as_json("directives", "show", document["directive"])["directive"]
    assert shown["kind"] == "uninstall"
    assert shown["status"] == "pending"
    assert [s["status"] for s in shown["steps"]] == ["pending"] * 3
    summary = as_json("status")
    assert [d["id"] for d in summary["open_directives"]] == [document["directive"]]
    assert (
        as_json("directives", "list", "--status", "pending")["directives"][0]["id"]
        == (document["directive"])
    )


def test_uninstall_unknown_package_is_not_found():
    result = run_cli("uninstall", "knowledge-base", "--yes")
    assert result.exit_code == ExitCode.NOT_FOUND


def test_history_and_directives_human_output_fits_80_columns(kb):
    ok("configure", "knowledge-base", "sources=articles,tickets,a-very-long-source-name")
    for args in (("history",), ("directives", "list"), ("status", "knowledge-base")):
        text = ok(*args).stdout
        assert text and max(len(line.rstrip()) for line in text.splitlines()) <= 80, args


def test_directives_list_filters_and_limits(kb):
    ok("pause", "knowledge-base")
    assert len(as_json("directives", "list", "--limit", "1")["directives"]) == 1
    assert as_json("directives", "list", "--status", "failed")["directives"] == []
    bad = run_cli("directives", "list", "--status", "weird")
    assert bad.exit_code == ExitCode.USAGE


def test_tenants_are_isolated(kb):
    ok("tenant", "create", "b")
    assert as_json("list", "-t", "b")["installations"] == []
    assert as_json("list", "--all", "-t", "b")["installations"] == []
    assert as_json("status", "-t", "b")["installations"] == {}
    assert as_json("history", "-t", "b")["revisions"] == []
    assert as_json("directives", "list", "-t", "b")["directives"] == []
    directive = as_json("directives", "list")["directives"][0]["id"]
    for args in (
        ("pause", "knowledge-base"),
        ("configure", "knowledge-base", "public=yes"),
        ("uninstall", "knowledge-base", "--yes"),
        ("status", "knowledge-base"),
        ("history", "knowledge-base"),
        ("directives", "show", directive),
        ("status", directive),
    ):
        result = run_cli(*args, "--tenant", "b")
        assert result.exit_code == ExitCode.NOT_FOUND, (args, result.stderr)
    # Nothing done as b touched the default tenant.
    assert {r["status"] for r in rows().values()} == {"active"}


def test_unknown_tenant_is_not_found():
    for args in (("list",), ("status",), ("history",), ("directives", "list")):
        result = run_cli(*args, "--tenant", "ghost")
        assert result.exit_code == ExitCode.NOT_FOUND, args
        assert "unknown tenant 'ghost'" in result.stderr
