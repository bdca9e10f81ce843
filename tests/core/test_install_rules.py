"""The pure install rules: tiers, config, DEP:SKILL, resources, migrations."""

from __future__ import annotations

import pytest

from fleetprompt_cli.core.install_rules import (
    check_dep_skills,
    check_tier,
    config_diff,
    migrate_config,
    parse_config_assignments,
    resolve_config,
    resources_of,
)
from fleetprompt_cli.errors import ConfigError, ExitCode, InvalidInput, TierDenied

SCHEMA = {
    "limit": {"type": "integer", "default": 8},
    "ratio": {"type": "number"},
    "on": {"type": "boolean", "default": False},
    "tags": {"type": "list", "default": []},
    "region": {"type": "string", "required": True, "choices": ["us", "eu"]},
}


def test_tier_gate_names_every_package_and_tier():
    check_tier("acme", "pro", [("a", "free"), ("b", "pro")])
    with pytest.raises(TierDenied) as caught:
        check_tier("acme", "free", [("a", "free"), ("b", "pro"), ("c", "enterprise")])
    assert caught.value.exit_code == ExitCode.DENIED
    assert "b (needs pro)" in str(caught.value) and "c (needs enterprise)" in str(caught.value)
    assert "a (" not in str(caught.value)


@pytest.mark.parametrize("tier", ["platinum", "PRO", "Enterprise ", "", None, 1])
def test_an_unknown_tier_denies_every_tenant(tier):
    with pytest.raises(TierDenied, match="unknown tier"):
        check_tier("acme", "enterprise", [("a", tier)])


def test_config_assignments_are_typed():
    values = parse_config_assignments(
        ["limit=3", "ratio=0.5", "on=yes", "tags=a, b", "region=eu"], SCHEMA, "pkg"
    )
    assert values == {"limit": 3, "ratio": 0.5, "on": True, "tags": ["a", "b"], "region": "eu"}
    assert parse_config_assignments(['tags=["x"]'], SCHEMA, "pkg") == {"tags": ["x"]}


@pytest.mark.parametrize(
    "bad, message",
    [
        ("limit=many", "'many' is not a valid integer"),
        ("on=maybe", "not a valid boolean"),
        ("nokey", "expected KEY=VALUE"),
        ("colour=red", "has no config key 'colour'"),
        ("ratio=nan", "'nan' is not a valid number"),
        ("ratio=inf", "'inf' is not a valid number"),
        ("tags=[NaN]", "not a valid list"),
    ],
)
def test_bad_config_assignments(bad: str, message: str):
    with pytest.raises(ConfigError, match=message):
        parse_config_assignments([bad], SCHEMA, "pkg")


def test_resolve_config_merges_and_reports_missing_required():
    config, missing = resolve_config("pkg", SCHEMA, {"limit": 2})
    assert config == {"limit": 2, "on": False, "tags": []}
    assert missing == ["region"]
    config, missing = resolve_config("pkg", SCHEMA, {}, current={"region": "us", "gone": 1})
    assert config["region"] == "us" and "gone" not in config and missing == []
    with pytest.raises(ConfigError, match="'asia' is not one of us, eu"):
        resolve_config("pkg", SCHEMA, {"region": "asia"})


def test_dep_skills_must_exist_in_the_chosen_version():
    app = {"agents": [{"name": "A", "skills": ["core:geo", "own"]}]}
    check_dep_skills({"app": ("1.0", app), "core": ("1.2", {"skills": [{"name": "geo"}]})})
    with pytest.raises(InvalidInput, match=r"core 2\.0 has no such skill"):
        check_dep_skills({"app": ("1.0", app), "core": ("2.0", {"skills": [{"name": "x"}]})})


def test_migrations_apply_by_old_version():
    migrations = [
        {
            "from": "<2.0",
            "rename": {"max_jobs": "limit"},
            "set_default": {"mode": "a"},
            "remove": ["legacy"],
        },
        {"from": ">=5", "rename": {"limit": "never"}},
    ]
    old = {"max_jobs": 4, "legacy": True}
    assert migrate_config(old, migrations, "1.5.0") == {"limit": 4, "mode": "a"}
    assert migrate_config(old, migrations, "2.0.0") == old
    assert config_diff(old, {"limit": 4}) == {
        "legacy": [True, None],
        "limit": [None, 4],
        "max_jobs": [4, None],
    }


def test_resources_carry_prompt_and_skill_text():
    manifest = {
        "agents": [
            {"name": "A", "prompt_file": "prompts/a.md"},
            {"name": "B", "system_prompt": "inline"},
        ],
        "skills": [{"name": "s", "entrypoint": "skills/s.md"}],
        "workflows": [{"name": "W", "steps": ["A", "B"]}],
        "tools": [{"name": "t"}],
    }
    files = {"prompts/a.md": "prompt A", "skills/s.md": "skill S"}
    resources = {(r.kind, r.name): r for r in resources_of(manifest, files)}
    assert resources[("agent", "A")].content == "prompt A"
    assert resources[("agent", "B")].content == "inline"
    assert resources[("skill", "s")].content == "skill S"
    assert resources[("workflow", "W")].definition["steps"] == ["A", "B"]
    with pytest.raises(InvalidInput, match="not in the package archive"):
        resources_of(manifest, {"prompts/a.md": "x"})
