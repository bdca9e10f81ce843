"""fleetprompt tenant create/list/set-tier and db status/upgrade."""

from __future__ import annotations

import json

from fleetprompt_cli.errors import ExitCode
from tests.helpers import run_cli


def as_json(*args: str) -> dict:
    result = run_cli(*args, "--json")
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["schema"] == 1
    return document


def test_create_list_and_set_tier():
    created = as_json("tenant", "create", "acme", "--tier", "pro")
    assert created["kind"] == "tenant"
    assert created["tenant"]["slug"] == "acme"
    assert created["tenant"]["tier"] == "pro"
    result = run_cli("tenant", "create", "beta")
    assert result.exit_code == 0
    assert "created tenant beta (free tier)" in result.stdout

    listed = as_json("tenant", "list")
    assert listed["kind"] == "tenants"
    assert [(t["slug"], t["tier"], t["installations"]) for t in listed["tenants"]] == [
        ("acme", "pro", 0),
        ("beta", "free", 0),
    ]
    assert all(t["created_at"] for t in listed["tenants"])

    changed = as_json("tenant", "set-tier", "beta", "enterprise")
    assert changed["tenant"]["tier"] == "enterprise"
    text = run_cli("tenant", "list").stdout
    assert "beta" in text and "enterprise" in text


def test_list_counts_installations_and_default_is_created_on_first_use():
    assert run_cli("install", "customer-support", "--yes").exit_code == 0
    tenants = {t["slug"]: t for t in as_json("tenant", "list")["tenants"]}
    assert tenants["default"]["tier"] == "free"
    assert tenants["default"]["installations"] >= 1


def test_bad_tier_is_a_usage_error():
    result = run_cli("tenant", "create", "acme", "--tier", "gold")
    assert result.exit_code == ExitCode.USAGE
    assert "gold" in result.stderr
    assert run_cli("tenant", "create", "acme").exit_code == 0
    assert run_cli("tenant", "set-tier", "acme", "platinum").exit_code == ExitCode.USAGE


def test_duplicate_tenant_exits_9():
    assert run_cli("tenant", "create", "acme").exit_code == 0
    result = run_cli("tenant", "create", "acme", "--tier", "pro")
    assert result.exit_code == ExitCode.EXISTS
    assert "tenant 'acme' already exists" in result.stderr


def test_bad_tenant_name_is_invalid():
    result = run_cli("tenant", "create", "Not Valid")
    assert result.exit_code == ExitCode.INVALID
    assert "invalid tenant name" in result.stderr


def test_set_tier_of_unknown_tenant_is_not_found():
    assert run_cli("tenant", "set-tier", "ghost", "pro").exit_code == ExitCode.NOT_FOUND


def test_tier_gate_follows_set_tier():
    assert run_cli("tenant", "create", "acme").exit_code == 0
    # field-service needs the pro tier.
    denied = run_cli("install", "field-service", "--yes", "--dry-run", "-t", "acme")
    assert denied.exit_code == ExitCode.DENIED
    assert run_cli("tenant", "set-tier", "acme", "pro").exit_code == 0
    allowed = run_cli("install", "field-service", "--dry-run", "-t", "acme", "--json")
    assert allowed.exit_code == 0, allowed.stderr


def test_db_status_and_upgrade_on_sqlite():
    status = as_json("db", "status")
    assert status["kind"] == "db_status"
    assert status["backend"] == "sqlite"
    assert status["state"] == "empty"  # Nothing has opened the store yet.
    upgraded = as_json("db", "upgrade")
    assert upgraded["kind"] == "db_upgrade"
    assert upgraded["state"] == "current"
    assert upgraded["current"] == upgraded["expected"]
    again = as_json("db", "upgrade")
    assert again["upgraded"] is False
    text = run_cli("db", "status")
    assert text.exit_code == 0
    assert "current: up to date" in text.stdout


def test_db_upgrade_creates_an_empty_store_on_each_backend(empty_store_url, monkeypatch):
    monkeypatch.setenv("FLEETPROMPT_DATABASE_URL", empty_store_url)
    assert as_json("db", "status")["state"] == "empty"
    upgraded = as_json("db", "upgrade")
    assert upgraded["upgraded"] is True
    assert upgraded["state"] == "current"
    assert as_json("db", "status")["current"] == upgraded["expected"]
    assert upgraded["backend"] in ("sqlite", "postgresql")
