"""search, featured and show over the bundled index and over built ones."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fleetprompt_cli.errors import ExitCode
from tests.helpers import publish_all, run_cli, write_package


def _json(*args: str) -> dict:
    result = run_cli(*args, "--json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_bundled_index_has_the_spec_packages():
    doc = _json("show", "field-service")
    package = doc["package"]
    assert doc["schema"] == 1
    assert package["name"] == "Field Service Management"
    assert package["version"] == "1.0.0"
    assert package["pricing_text"] == "Free tier available"
    assert package["min_tier"] == "pro"
    assert package["verified"] and package["featured"]
    assert [a["name"] for a in package["includes"]["agents"]] == [
        "Dispatcher",
        "Customer Service",
        "QA Inspector",
        "Inventory Manager",
    ]
    assert [w["name"] for w in package["includes"]["workflows"]] == ["Service Request"]
    support = _json("show", "customer-support")["package"]
    assert (support["version"], support["pricing_text"], support["min_tier"]) == (
        "2.1.0",
        "$149/mo",
        "free",
    )
    sales = _json("show", "sales-automation")["package"]
    assert (sales["version"], sales["pricing_text"], sales["license"], sales["author"]) == (
        "1.5.0",
        "15% revenue share",
        "Proprietary",
        "SalesAI Inc",
    )
    assert not sales["verified"] and not sales["featured"]


def test_show_lists_versions_with_yanked_marks():
    doc = _json("show", "core-skills")["package"]
    versions = {v["version"]: v["yanked"] for v in doc["versions"]}
    assert versions["1.1.0"] is True and versions["1.2.0"] is False
    # The newest non-yanked final release is shown by default.
    assert doc["version"] == "2.0.0"
    assert _json("show", "core-skills@1.2")["package"]["version"] == "1.2.0"


def test_show_renders_the_detail_page():
    result = run_cli("show", "customer-support")
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    for text in ("Customer Support Hub", "$149/mo", "Ticket Manager", "Versions", "sha256:"):
        assert text in out
    assert max(len(line) for line in out.splitlines()) <= 80


def test_unknown_package_suggests_and_exits_not_found():
    result = run_cli("show", "custmer-support")
    assert result.exit_code == ExitCode.NOT_FOUND
    assert "did you mean customer-support" in result.stderr
    result = run_cli("show", "custmer-support", "--json")
    doc = json.loads(result.stdout)
    assert doc["error"]["kind"] == "not_found"
    assert doc["error"]["suggestions"][0] == "customer-support"


def test_unknown_version_lists_the_available_ones():
    result = run_cli("show", "customer-support@9.0")
    assert result.exit_code == ExitCode.NOT_FOUND
    assert "available: 2.1.0" in result.stderr


def test_search_finds_by_words_and_filters():
    slugs = [p["slug"] for p in _json("search", "support")["packages"]]
    assert slugs[0] == "customer-support"
    hr = _json("search", "--category", "hr")["packages"]
    assert hr and all(p["category"] == "hr" for p in hr)
    free_only = _json("search", "--tier", "free")["packages"]
    assert free_only and all(p["min_tier"] == "free" for p in free_only)
    paid = _json("search", "--pricing", "paid")["packages"]
    assert "customer-support" in {p["slug"] for p in paid}
    # Agent and skill names are searchable too.
    assert "field-service" in {p["slug"] for p in _json("search", "dispatcher")["packages"]}


def test_search_table_fits_80_columns():
    result = run_cli("search")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].startswith("Package")
    assert max(len(line) for line in lines) <= 80


def test_search_rejects_unknown_filter_values():
    result = run_cli("search", "--category", "gardening")
    assert result.exit_code == ExitCode.USAGE
    assert "unknown category 'gardening'" in result.stderr


def test_featured_lists_flagged_packages():
    slugs = {p["slug"] for p in _json("featured")["packages"]}
    assert slugs == {"field-service", "customer-support"}


@pytest.fixture
def ranked_index(tmp_path: Path, monkeypatch) -> Path:
    src = tmp_path / "src"
    folders = [
        write_package(src, "mailer", "1.0.0", package={"description": "Sends things"}),
        write_package(
            src,
            "helpdesk",
            "1.0.0",
            package={"description": "Answers mail", "keywords": ["mailer"]},
        ),
        write_package(
            src, "crm", "1.0.0", package={"name": "Mailer CRM", "description": "Contacts"}
        ),
        write_package(
            src, "crm", "2.0.0b1", package={"name": "Mailer CRM", "description": "Contacts beta"}
        ),
    ]
    index = tmp_path / "index"
    publish_all(index, *folders)
    monkeypatch.setenv("FLEETPROMPT_INDEX", str(index))
    return index


def test_search_ranks_slug_and_name_above_keywords(ranked_index: Path):
    slugs = [p["slug"] for p in _json("search", "mailer")["packages"]]
    assert slugs.index("helpdesk") > slugs.index("mailer")
    assert slugs.index("helpdesk") > slugs.index("crm")
    # The listing shows the newest final release, not the pre-release.
    crm = next(p for p in _json("search", "crm")["packages"])
    assert crm["version"] == "1.0.0"


def test_index_changes_are_seen_without_a_manual_update(ranked_index: Path, tmp_path: Path):
    assert _json("search", "zebra")["packages"] == []
    publish_all(ranked_index, write_package(tmp_path / "more", "zebra", "1.0.0"))
    assert [p["slug"] for p in _json("search", "zebra")["packages"]] == ["zebra"]


def test_corrupt_index_line_is_reported_and_the_rest_works(ranked_index: Path):
    package_file = next((ranked_index / "packages").rglob("crm"))
    with package_file.open("a") as stream:
        stream.write("{not json\n")
    result = run_cli("search", "crm")
    assert result.exit_code == 0
    assert f"{package_file}:3: not valid JSON" in result.stderr
    assert "crm" in result.stdout
    assert "mailer" in _json("search", "mailer")["packages"][0]["slug"]


def test_a_removed_package_file_leaves_the_catalog(ranked_index: Path):
    assert "mailer" in [p["slug"] for p in _json("search", "mailer")["packages"]]
    next((ranked_index / "packages").rglob("mailer")).unlink()
    assert "mailer" not in [p["slug"] for p in _json("search", "mailer")["packages"]]
    assert run_cli("show", "mailer").exit_code == ExitCode.NOT_FOUND


def test_a_corrupt_catalog_is_rebuilt(isolated_home: Path):
    assert run_cli("search", "support").exit_code == 0
    catalog = isolated_home / "cache" / "catalog.db"
    catalog.write_bytes(b"this is not a database" * 100)
    for suffix in ("-wal", "-shm"):
        Path(f"{catalog}{suffix}").unlink(missing_ok=True)
    assert "customer-support" in [p["slug"] for p in _json("search", "support")["packages"]]


def test_show_says_whether_the_tenant_has_it():
    assert _json("show", "customer-support")["package"]["installed"] is None
    assert run_cli("install", "customer-support", "--yes").exit_code == 0
    installed = _json("show", "customer-support")["package"]["installed"]
    assert installed == {"tenant": "default", "version": "2.1.0", "status": "active"}
    assert run_cli("tenant", "create", "other").exit_code == 0
    assert _json("show", "customer-support", "--tenant", "other")["package"]["installed"] is None
    assert "2.1.0 (active) in tenant default" in run_cli("show", "customer-support").stdout
