"""fleetprompt doctor: each finding made real, named with its fix; the fix makes doctor pass.

Every case: break one thing for real (a directive whose process died, a lost
wake-up, a corrupt catalog, a stale index, a stale catalog, a queue that is
down), run doctor (exit UNHEALTHY, the finding and its fix named), run the
fix it names, run doctor again (exit 0).
"""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest

from fleetprompt_cli.errors import ExitCode
from tests.helpers import git_index, publish_all, run_cli, write_package


def _doctor() -> dict:
    result = run_cli("doctor", "--json")
    document = json.loads(result.stdout)  # exactly one JSON document, healthy or not
    assert result.exit_code == (0 if document["healthy"] else ExitCode.UNHEALTHY), result.stderr
    return document


def _findings(document: dict, check: str) -> list[dict]:
    return next(c for c in document["checks"] if c["name"] == check)["findings"]


def _run_fixes(document: dict) -> None:
    assert document["fixes"], document
    for fix in document["fixes"]:
        words = fix.split()
        assert words[0] == "fleetprompt", fix
        result = run_cli(*words[1:])
        assert result.exit_code == 0, (fix, result.stderr)


def _execute(url: str, sql: str) -> None:
    if url.startswith("sqlite"):
        with sqlite3.connect(url.split("///", 1)[1]) as connection:
            connection.execute(sql)
        return
    import psycopg

    with psycopg.connect("postgresql" + url[len("postgresql+psycopg") :]) as connection:
        connection.execute(sql)


def test_healthy_home_exits_0_with_text_and_json():
    assert run_cli("install", "knowledge-base", "--yes").exit_code == 0
    document = _doctor()
    assert document["healthy"] is True
    assert [c["name"] for c in document["checks"]] == [
        "index",
        "catalog",
        "store",
        "queue",
        "directives",
        "installations",
    ]
    assert document["fixes"] == []
    text = run_cli("doctor")
    assert text.exit_code == 0
    assert "All checks passed." in text.stderr
    assert all(len(line) <= 80 for line in text.stdout.splitlines())


def test_fresh_home_is_healthy_and_doctor_creates_nothing(tmp_path):
    home = Path(os.environ["FLEETPROMPT_HOME"])
    document = _doctor()
    assert document["healthy"] is True
    store = next(c for c in document["checks"] if c["name"] == "store")
    assert store["summary"].startswith("not created yet")
    assert not (home / "state.db").exists()
    assert not (home / "queue.db").exists()


def test_lost_wakeup_and_dead_lease_are_named_and_recover_fixes_them(store_url, monkeypatch):
    monkeypatch.setenv("FLEETPROMPT_DATABASE_URL", store_url)
    monkeypatch.setenv("FLEETPROMPT_CLAIM_GRACE_SECONDS", "0")
    assert run_cli("install", "knowledge-base", "--yes", "--no-wait").exit_code == 0
    assert run_cli("tenant", "create", "acme").exit_code == 0
    assert (
        run_cli("install", "core-skills", "--yes", "--no-wait", "--tenant", "acme").exit_code == 0
    )
    # acme's directive: claimed by a process that died long ago (its lease expired).
    _execute(
        store_url,
        "UPDATE directives SET lease_owner = 'dead-host:4242', "
        "lease_expires_at = '2001-01-01 00:00:00', attempts = 1 "
        "WHERE tenant_id = (SELECT id FROM tenants WHERE slug = 'acme')",
    )
    document = _doctor()
    assert document["healthy"] is False
    problems = [f["problem"] for f in _findings(document, "directives")]
    assert len(problems) == 2
    assert any("tenant acme" in p and "lease expired" in p for p in problems), problems
    assert any("tenant default" in p and "nobody claimed it" in p for p in problems), problems
    stuck = _findings(document, "installations")
    assert {f["fix"] for f in stuck} == {"fleetprompt recover"}
    assert any("knowledge-base (tenant default) is queued" in f["problem"] for f in stuck)
    assert any("core-skills (tenant acme) is queued" in f["problem"] for f in stuck)
    assert document["fixes"] == ["fleetprompt recover"]
    text = run_cli("doctor")
    assert text.exit_code == ExitCode.UNHEALTHY
    assert "fix: fleetprompt recover" in text.stdout
    _run_fixes(document)
    after = _doctor()
    assert after["healthy"] is True, after
    assert run_cli("status", "knowledge-base", "--json").exit_code == 0


def test_corrupt_catalog_is_named_and_index_update_rebuilds_it():
    assert run_cli("search", "support").exit_code == 0
    catalog = Path(os.environ["FLEETPROMPT_HOME"]) / "cache" / "catalog.db"
    for suffix in ("-wal", "-shm"):
        Path(f"{catalog}{suffix}").unlink(missing_ok=True)
    catalog.write_bytes(b"\x00garbage, not a catalog\n" * 400)
    document = _doctor()
    assert document["healthy"] is False
    (finding,) = _findings(document, "catalog")
    assert str(catalog) in finding["problem"]
    assert finding["fix"] == "fleetprompt index update"
    _run_fixes(document)
    assert _doctor()["healthy"] is True


def _package(tmp_path: Path, slug: str, version: str) -> Path:
    return write_package(tmp_path / f"{slug}-{version}", slug=slug, version=version)


def test_stale_git_index_is_named_and_index_update_fetches_it(tmp_path, monkeypatch):
    origin = git_index(tmp_path / "origin")
    publish_all(origin, _package(tmp_path, "alpha", "1.0.0"))
    monkeypatch.setenv("FLEETPROMPT_INDEX", origin.resolve().as_uri())
    assert run_cli("search", "alpha").exit_code == 0
    assert _doctor()["healthy"] is True
    # The clone was last fetched two days ago (as if nothing ran since).
    clones = Path(os.environ["FLEETPROMPT_HOME"]) / "cache"
    stamps = [p for p in clones.rglob("*") if p.is_file() and ".git" in p.parts]
    head = max(stamps, key=lambda p: p.stat().st_mtime)
    old = head.stat().st_mtime - 2 * 86400
    for path in stamps:
        os.utime(path, (old, old))
    document = _doctor()
    assert document["healthy"] is False
    (finding,) = _findings(document, "index")
    assert "is stale: fetched" in finding["problem"]
    assert finding["fix"] == "fleetprompt index update"
    _run_fixes(document)
    assert _doctor()["healthy"] is True


def test_unreachable_git_index_is_named(tmp_path, monkeypatch):
    origin = git_index(tmp_path / "origin")
    publish_all(origin, _package(tmp_path, "alpha", "1.0.0"))
    monkeypatch.setenv("FLEETPROMPT_INDEX", origin.resolve().as_uri())
    assert run_cli("search", "alpha").exit_code == 0
    os.rename(origin, tmp_path / "moved")
    document = _doctor()
    assert document["healthy"] is False
    problems = [f["problem"] for f in _findings(document, "index")]
    assert any("is not reachable" in p for p in problems), problems


def test_stale_catalog_of_a_folder_index_and_bad_lines(tmp_path, monkeypatch):
    index = tmp_path / "index"
    publish_all(index, _package(tmp_path, "alpha", "1.0.0"))
    monkeypatch.setenv("FLEETPROMPT_INDEX", str(index))
    assert run_cli("search", "alpha").exit_code == 0
    (package_file,) = [p for p in (index / "packages").rglob("*") if p.is_file()]
    with package_file.open("a") as handle:
        handle.write('{"not": "a version line"}\n')
    document = _doctor()
    assert document["healthy"] is False
    (finding,) = _findings(document, "catalog")
    assert "the catalog is older than index" in finding["problem"]
    assert "1 package files changed" in finding["problem"]
    assert finding["fix"] == "fleetprompt index update"
    _run_fixes(document)
    after = _doctor()
    # The bad line is someone else's to fix: a warning, healthy.
    assert after["healthy"] is True
    (warning,) = _findings(after, "index")
    assert warning["severity"] == "warning"
    assert f"{package_file}:2" in warning["problem"]


def test_unreachable_queue_is_named(monkeypatch):
    assert run_cli("install", "knowledge-base", "--yes").exit_code == 0
    monkeypatch.setenv("FLEETPROMPT_QUEUE_URL", "redis://127.0.0.1:9/0")
    document = _doctor()
    assert document["healthy"] is False
    (finding,) = _findings(document, "queue")
    assert "redis://127.0.0.1:9/0 is not reachable" in finding["problem"]


@pytest.mark.parametrize("revision", ["9999_future"])
def test_store_of_another_release_is_named(store_url, monkeypatch, revision):
    monkeypatch.setenv("FLEETPROMPT_DATABASE_URL", store_url)
    assert run_cli("tenant", "list").exit_code == 0  # creates the store
    _execute(store_url, f"UPDATE fleetprompt_schema_version SET version_num = '{revision}'")
    document = _doctor()
    assert document["healthy"] is False
    (finding,) = _findings(document, "store")
    assert f"schema is at {revision}" in finding["problem"]
    assert [c["name"] for c in document["checks"]][-1] == "queue"  # nothing read from it
