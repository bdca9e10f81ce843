"""Tenant policy: policy show/set/edit, approve, and the gate at install, upgrade and sync.

Real folder indexes built by ``publish``, real archives, a real SQLite store.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fleetprompt_cli.errors import ExitCode
from tests.helpers import publish_all, run_cli, write_package


@pytest.fixture
def index(tmp_path: Path, monkeypatch) -> Path:
    """lib 1.0 (category data), app 1.0 (no deps) and 2.0 (needs lib), tooly 1.0 (a tool),
    pricey 1.0 (paid)."""
    src = tmp_path / "src"
    folders = [
        write_package(src, "lib", "1.0.0", skills=["s"], package={"category": "data"}),
        write_package(src, "app", "1.0.0"),
        write_package(src, "app", "2.0.0", deps={"lib": ">=1"}),
        write_package(src, "tooly", "1.0.0", tools=[{"name": "runner"}]),
        write_package(src, "pricey", "1.0.0", package={"pricing": {"model": "paid", "price": 10}}),
    ]
    root = tmp_path / "index"
    monkeypatch.setenv("FLEETPROMPT_ACTOR", "tester")
    publish_all(root, *folders)
    monkeypatch.setenv("FLEETPROMPT_INDEX", str(root))
    return root


def ok(*args: str) -> Any:
    result = run_cli(*args)
    assert result.exit_code == 0, result.stderr
    return result


def installed() -> list[str]:
    doc = json.loads(ok("list", "--json").stdout)
    return sorted(i["slug"] for i in doc["installations"])


def global_policy(home: Path, text: str) -> None:
    (home / "config.toml").write_text(f"[policy]\n{text}\n")


def policy_doc(*args: str) -> dict[str, Any]:
    return json.loads(ok("policy", "show", "--json", *args).stdout)


# -- policy show / set / edit ------------------------------------------------------


def test_set_is_versioned_and_audited_as_directives(index):
    assert policy_doc()["version"] == 0
    ok("policy", "set", 'deny_slugs=["bad-*"]')
    ok("policy", "set", "require_approval=true")
    doc = policy_doc()
    assert doc["version"] == 2
    assert doc["policy"] == {"deny_slugs": ["bad-*"], "require_approval": True}
    assert doc["actor"] == "tester"
    # Setting the same rules again writes no version.
    ok("policy", "set", "require_approval=true")
    assert policy_doc()["version"] == 2
    ok("policy", "set", "--unset", "deny_slugs")
    assert policy_doc()["policy"] == {"require_approval": True}
    directives = json.loads(ok("directives", "list", "--json").stdout)["directives"]
    policy = [d for d in directives if d["kind"] == "policy"]
    assert len(policy) == 3 and {d["status"] for d in policy} == {"succeeded"}


def test_policy_file_with_an_unknown_key_is_refused(index, tmp_path):
    path = tmp_path / "policy.toml"
    path.write_text('deny_slugs = ["x"]\ndeny_colours = ["red"]\n')
    result = run_cli("policy", "set", "--file", str(path))
    assert result.exit_code == ExitCode.INVALID
    assert "unknown policy rule 'deny_colours'" in result.stderr
    assert str(path) in result.stderr
    assert policy_doc()["version"] == 0


def test_policy_file_with_a_wrong_type_is_refused(index, tmp_path):
    path = tmp_path / "policy.toml"
    path.write_text('[policy]\nrequire_signed = "yes"\n')
    result = run_cli("policy", "set", "--file", str(path))
    assert result.exit_code == ExitCode.INVALID
    assert "require_signed: expected true or false" in result.stderr


def test_a_rule_that_loosens_the_global_policy_is_refused(index, isolated_home, tmp_path):
    global_policy(
        isolated_home,
        'require_signed = true\nallow_categories = ["data", "op*"]\nallow_pricing = ["free"]',
    )
    cases = {
        "require_signed = false": "require_signed",
        'allow_categories = ["sales"]': "allow_categories",
        'allow_pricing = ["free", "paid"]': "allow_pricing",
        'hidden_unicode = "allow"': "hidden_unicode",
    }
    for text, rule in cases.items():
        path = tmp_path / "p.toml"
        path.write_text(text + "\n")
        result = run_cli("policy", "set", "--file", str(path))
        assert result.exit_code == ExitCode.INVALID, text
        assert f"policy rule {rule} loosens the global policy" in result.stderr
    assert policy_doc()["version"] == 0
    # Tightening is fine: a narrower allow list, within the global globs.
    ok("policy", "set", 'allow_categories=["operations"]')
    assert policy_doc()["effective"]["allow_categories"] == ["operations"]


def test_global_deny_lists_add_up_with_the_tenants(index, isolated_home):
    global_policy(isolated_home, 'deny_slugs = ["pricey"]')
    ok("policy", "set", 'deny_slugs=["tooly"]')
    assert policy_doc()["effective"]["deny_slugs"] == ["pricey", "tooly"]
    result = run_cli("install", "pricey", "--yes")
    assert result.exit_code == ExitCode.DENIED
    assert "pricey 1.0.0: deny_slugs: slug 'pricey' is denied" in result.stderr


def test_a_bad_global_policy_names_the_config_file(index, isolated_home):
    global_policy(isolated_home, "allow_everything = true")
    result = run_cli("install", "app", "--yes")
    assert result.exit_code == ExitCode.INVALID
    assert "config.toml: [policy]: unknown policy rule 'allow_everything'" in result.stderr


def test_set_needs_something_to_set(index):
    assert run_cli("policy", "set").exit_code == ExitCode.USAGE
    result = run_cli("policy", "set", "deny_slugs=[unquoted]")
    assert result.exit_code == ExitCode.USAGE
    assert "is not a TOML value" in result.stderr


def test_edit_saves_a_new_version(index, monkeypatch, tmp_path):
    script = tmp_path / "editor.sh"
    script.write_text('#!/bin/sh\nprintf \'deny_slugs = ["lib"]\\n\' > "$1"\n')
    script.chmod(0o755)
    monkeypatch.setenv("EDITOR", str(script))
    monkeypatch.setenv("VISUAL", str(script))
    ok("policy", "edit")
    assert policy_doc()["policy"] == {"deny_slugs": ["lib"]}


# -- the gate ------------------------------------------------------------------------


def test_a_denied_category_is_refused_directly_and_as_a_dependency(index):
    ok("policy", "set", 'deny_categories=["data"]')
    direct = run_cli("install", "lib", "--yes")
    assert direct.exit_code == ExitCode.DENIED
    assert "lib 1.0.0: deny_categories: category 'data' is denied" in direct.stderr
    assert "nothing was changed" in direct.stderr
    dependency = run_cli("install", "app==2.0.0", "--yes")
    assert dependency.exit_code == ExitCode.DENIED
    assert "lib 1.0.0 (a dependency): deny_categories" in dependency.stderr
    assert installed() == []


def test_dry_run_json_carries_the_verdict_per_package(index):
    allowed = json.loads(ok("install", "app==2.0.0", "--dry-run", "--json").stdout)
    assert {v["slug"]: v["allowed"] for v in allowed["policy"]} == {"app": True, "lib": True}
    ok("policy", "set", 'deny_categories=["data"]')
    refused = run_cli("install", "app==2.0.0", "--dry-run", "--json")
    assert refused.exit_code == ExitCode.DENIED
    error = json.loads(refused.stdout)["error"]
    assert error["kind"] == "policy"
    verdicts = {v["slug"]: v for v in error["verdicts"]}
    assert verdicts["app"]["allowed"] is True
    assert verdicts["lib"]["allowed"] is False and verdicts["lib"]["requested"] is False
    assert verdicts["lib"]["refusals"] == [
        {"rule": "deny_categories", "message": "category 'data' is denied"}
    ]


def test_an_upgrade_bringing_a_denied_package_is_refused(index):
    ok("install", "app==1.0.0", "--yes")
    ok("policy", "set", 'deny_slugs=["l?b"]')
    result = run_cli("upgrade", "app", "--yes")
    assert result.exit_code == ExitCode.DENIED
    assert "lib 1.0.0 (a dependency): deny_slugs: slug 'lib' is denied" in result.stderr
    assert installed() == ["app"]
    doc = json.loads(ok("list", "--json").stdout)
    assert doc["installations"][0]["version"] == "1.0.0"


def test_a_lock_that_violates_the_policy_is_refused_at_sync(index, tmp_path, monkeypatch):
    project = tmp_path / "proj"
    project.mkdir()
    monkeypatch.chdir(project)
    ok("add", "app==2.0.0")
    ok("policy", "set", 'deny_categories=["data"]')
    result = run_cli("sync", "--yes")
    assert result.exit_code == ExitCode.DENIED
    assert "lib 1.0.0 (a dependency): deny_categories" in result.stderr
    assert installed() == []


def test_tools_need_approval(index):
    ok("policy", "set", "require_approval=true")
    result = run_cli("install", "tooly", "--yes")
    assert result.exit_code == ExitCode.DENIED
    assert "run 'fleetprompt approve tooly'" in result.stderr
    ok("install", "app==1.0.0", "--yes")  # no tools: no approval needed
    assert "approved" in ok("approve", "tooly").stdout
    assert "already approved" in ok("approve", "tooly").stdout
    listed = json.loads(ok("approve", "--list", "--json").stdout)
    assert [a["slug"] for a in listed["approvals"]] == ["tooly"]
    ok("install", "tooly", "--yes")
    assert installed() == ["app", "tooly"]


def test_approving_a_package_that_is_not_installed_or_published(index):
    result = run_cli("approve", "ghost")
    assert result.exit_code == ExitCode.NOT_FOUND
    assert "ghost is not installed in tenant 'default'" in result.stderr
    assert json.loads(ok("approve", "--list", "--json").stdout)["approvals"] == []
    assert run_cli("approve").exit_code == ExitCode.USAGE


def test_pricing_cap_and_signed_releases(index):
    ok("policy", "set", 'allow_pricing=["free", "freemium"]')
    result = run_cli("install", "pricey", "--yes")
    assert result.exit_code == ExitCode.DENIED
    assert "allow_pricing: pricing model 'paid' is not allowed" in result.stderr
    ok("policy", "set", "require_signed=true")
    unsigned = run_cli("install", "app==1.0.0", "--yes")
    assert unsigned.exit_code == ExitCode.DENIED
    assert "app 1.0.0: require_signed: the release is not signed" in unsigned.stderr


def test_policies_are_per_tenant(index):
    ok("tenant", "create", "acme")
    ok("policy", "set", "--tenant", "acme", 'deny_slugs=["app"]')
    assert run_cli("install", "app==1.0.0", "--yes", "--tenant", "acme").exit_code == 5
    ok("install", "app==1.0.0", "--yes")
    assert policy_doc()["version"] == 0


def test_a_policy_file_that_is_missing_or_not_toml(index, tmp_path):
    missing = run_cli("policy", "set", "--file", str(tmp_path / "nope.toml"))
    assert missing.exit_code == ExitCode.NOT_FOUND
    binary = tmp_path / "bin.toml"
    binary.write_bytes(b"\xff\xfe\x00deny")
    result = run_cli("policy", "set", "--file", str(binary))
    assert result.exit_code == ExitCode.INVALID
    assert str(binary) in result.stderr
    hostile = tmp_path / "p.toml"
    hostile.write_text('deny_slugs = ["\\u001b[31mred"]\n')
    result = run_cli("policy", "set", "--file", str(hostile))
    assert result.exit_code == ExitCode.INVALID
    assert "is not a pattern" in result.stderr
    assert "\x1b" not in result.stderr


def test_publishers_are_the_author_and_the_index_owners(index):
    # write_package's author is "Test Author"; the index records "tester" as owner.
    ok("policy", "set", 'deny_publishers=["tester"]')
    result = run_cli("install", "app==1.0.0", "--yes")
    assert result.exit_code == ExitCode.DENIED
    assert "deny_publishers: publisher 'tester' is denied" in result.stderr
    ok("policy", "set", "--unset", "deny_publishers", 'allow_publishers=["test author"]')
    ok("install", "app==1.0.0", "--yes")
    ok("policy", "set", 'allow_publishers=["someone-else"]')
    refused = run_cli("install", "tooly", "--yes")
    assert refused.exit_code == ExitCode.DENIED
    assert (
        "allow_publishers: none of the publishers 'Test Author', 'tester' is allowed"
        in refused.stderr
    )
