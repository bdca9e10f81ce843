"""``fleetprompt install`` end to end through the CLI, on each backend.

Every test taking ``backend`` runs on SQLite (state store and queue files),
and again on PostgreSQL with the Redis queue when FLEETPROMPT_TEST_DATABASE_URL
and FLEETPROMPT_TEST_REDIS_URL are set (with CI=true a missing server fails
instead of skipping).
"""

from __future__ import annotations

import io
import json
import shutil
import tarfile
from pathlib import Path

import pytest

from tests.helpers import run_cli
from tests.queue.support import (
    FX,
    index_line,
    leftovers,
    replace_archive,
    snapshot,
    store_for,
)


@pytest.fixture
def index(fx_index, tmp_path, monkeypatch) -> Path:
    """A private copy of the index (tests may damage its archives)."""
    copy = tmp_path / "index"
    shutil.copytree(fx_index, copy)
    monkeypatch.setenv("FLEETPROMPT_INDEX", str(copy))
    monkeypatch.setenv("FLEETPROMPT_ACTOR", "tester")
    return copy


@pytest.fixture
def backend(store_url, index, request, monkeypatch) -> str:
    """The state store (and queue) this test runs on: ``sqlite`` or ``postgres``."""
    monkeypatch.setenv("FLEETPROMPT_DATABASE_URL", store_url)
    if not store_url.startswith("postgresql"):
        return "sqlite"
    monkeypatch.setenv("FLEETPROMPT_QUEUE_URL", request.getfixturevalue("redis_url"))
    monkeypatch.setenv("FLEETPROMPT_QUEUE_NAME", request.getfixturevalue("redis_prefix"))
    return "postgres"


def make_tenant(slug: str, tier: str = "free") -> None:
    from fleetprompt_cli.store import repository as repo

    store = store_for()
    try:
        with store.session() as s:
            repo.create_tenant(s, slug, tier=tier)
    finally:
        store.dispose()


def nothing_written(tenant: str = "default") -> None:
    state = snapshot(tenant)
    assert (state["installations"], state["resources"], state["directives"]) == ([], [], [])
    assert state["finished"] == []


def live(tenant: str = "default") -> dict[str, tuple]:
    return {
        slug: (version, status) for slug, version, status, *_ in snapshot(tenant)["installations"]
    }


def test_install_with_preview_and_yes(backend):
    result = run_cli("install", "fx-top", "--yes")
    assert result.exit_code == 0, result.stderr
    assert "Install plan for tenant default (free tier)" in result.stdout
    assert "why: required by fx-mid 1.0.0" in result.stdout
    assert "installed into tenant default (directive " in result.stdout
    state = snapshot()
    assert live() == {slug: ("1.0.0", "active") for slug in FX}
    assert [d[:2] for d in state["directives"]] == [("install", "succeeded")]
    assert len(state["resources"]) == 7
    assert state["installs"] == {slug: 1 for slug in FX}
    assert {slug: requested for slug, _, _, requested, *_ in state["installations"]} == {
        "fx-base": False,
        "fx-mid": False,
        "fx-top": True,
    }


def test_dry_run_changes_nothing(backend):
    result = run_cli("install", "fx-top", "--dry-run")
    assert result.exit_code == 0, result.stderr
    assert "fx-base 1.0.0 install" in result.stdout
    nothing_written()


def test_json_document(backend):
    result = run_cli("install", "fx-top", "--yes", "--json")
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    assert (document["schema"], document["kind"], document["status"]) == (1, "install", "succeeded")
    assert [(p["slug"], p["version"], p["action"]) for p in document["plan"]] == [
        ("fx-base", "1.0.0", "install"),
        ("fx-mid", "1.0.0", "install"),
        ("fx-top", "1.0.0", "install"),
    ]
    assert len(document["directive"]) == 36
    again = json.loads(run_cli("install", "fx-top", "--json").stdout)
    assert (again["status"], again["directive"]) == ("nothing_to_do", None)


def test_already_installed_is_nothing_to_do(backend):
    assert run_cli("install", "fx-base==1.0.0", "--yes").exit_code == 0
    before = snapshot()
    result = run_cli("install", "fx-base==1.0.0", "--yes")
    assert result.exit_code == 0, result.stderr
    assert "Nothing to do" in result.stderr
    assert snapshot() == before


def test_unknown_package(backend):
    result = run_cli("install", "fx-bsae", "--yes")
    assert result.exit_code == 3
    assert "did you mean fx-base?" in result.stderr
    nothing_written()


def test_tier_too_low(backend):
    result = run_cli("install", "pro-pack", "--yes")
    assert result.exit_code == 5
    assert "pro-pack (needs pro)" in result.stderr and "free tier" in result.stderr
    nothing_written()
    make_tenant("acme", "pro")
    assert run_cli("install", "pro-pack", "--yes", "--tenant", "acme").exit_code == 0


def test_conflict(backend):
    result = run_cli("install", "wants-v2", "fx-mid", "--yes")
    assert result.exit_code == 4
    assert "incompatible" in result.stderr
    nothing_written()


def test_missing_required_config_without_tty(backend):
    result = run_cli("install", "needs-config", "--yes")
    assert result.exit_code == 8
    assert "required config region" in result.stderr
    assert "--config region=VALUE" in result.stderr
    nothing_written()


def test_config_is_validated(backend):
    bad = run_cli("install", "needs-config", "--yes", "--config", "region=mars")
    assert bad.exit_code == 8
    assert "region" in bad.stderr
    nothing_written()
    good = run_cli("install", "needs-config", "--yes", "--config", "region=eu")
    assert good.exit_code == 0, good.stderr
    (row,) = snapshot()["installations"]
    assert json.loads(row[4]) == {"region": "eu", "limit": 8}


def _installed_nothing(home: Path, slug: str, index: Path) -> None:
    state = snapshot()
    assert state["resources"] == []
    assert [(s, st) for s, _, st, *_ in state["installations"]] == [(slug, "failed")]
    assert [d[:2] for d in state["directives"]] == [("install", "failed")]
    _, line = index_line(index, slug)
    assert not (home / "packages" / line["sha256"]).exists()
    assert leftovers(home) == []


def test_checksum_mismatch(backend, index, isolated_home):
    _, line = index_line(index, "fx-base")
    archive = index / line["archive"]
    data = archive.read_bytes()
    archive.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
    result = run_cli("install", "fx-base==1.0.0", "--yes")
    assert result.exit_code == 6, result.stderr
    assert "checksum mismatch" in result.stderr
    _installed_nothing(isolated_home, "fx-base", index)
    (step,) = snapshot()["directives"][0][4]
    assert step == ("fx-base", "install", "failed")


def _hostile(kind: str) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:

        def add(info: tarfile.TarInfo, data: bytes = b"") -> None:
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))

        add(tarfile.TarInfo("fleetprompt.toml"), b"schema_version = 1\n")
        if kind == "traversal":
            add(tarfile.TarInfo("../../escaped.txt"), b"owned\n")
        elif kind == "symlink":
            link = tarfile.TarInfo("prompts")
            link.type, link.linkname = tarfile.SYMTYPE, "../../../../etc"
            tar.addfile(link)
        else:  # A decompression bomb: 17 MiB of zeros, a few KiB compressed.
            add(tarfile.TarInfo("bomb.bin"), bytes(17 * 1024 * 1024))
    return buffer.getvalue()


@pytest.mark.parametrize("kind", ["traversal", "symlink", "bomb"])
def test_hostile_archive(kind, backend, index, isolated_home, tmp_path):
    # The index line's sha256 matches the hostile bytes: only extraction can catch it.
    replace_archive(index, "fx-base", _hostile(kind), update_sha=True)
    result = run_cli("install", "fx-base==1.0.0", "--yes")
    assert result.exit_code == 6, result.stderr
    assert "refused" in result.stderr
    _installed_nothing(isolated_home, "fx-base", index)
    assert not list(tmp_path.rglob("escaped.txt"))
    assert not list(isolated_home.parent.rglob("escaped.txt"))


def test_no_wait_then_worker_once(backend):
    result = run_cli("install", "fx-top", "--yes", "--no-wait", "--json")
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["status"] == "queued"
    assert live() == {slug: (None, "queued") for slug in FX}
    worker = run_cli("worker", "--once", "--json")
    assert worker.exit_code == 0, worker.stderr
    assert json.loads(worker.stdout)["outcomes"] == {"succeeded": 1}
    assert live() == {slug: ("1.0.0", "active") for slug in FX}
    state = snapshot()
    assert [d[:2] for d in state["directives"]] == [("install", "succeeded")]
    # A second worker run finds nothing to do.
    again = json.loads(run_cli("worker", "--once", "--json").stdout)
    assert again["wakeups"] == 0


def test_tenant_isolation(backend):
    make_tenant("tenant-a")
    make_tenant("tenant-b")
    assert run_cli("install", "fx-top", "--yes", "--tenant", "tenant-a").exit_code == 0
    a_before = snapshot("tenant-a")
    assert len(a_before["installations"]) == 3
    b_state = snapshot("tenant-b")
    assert b_state["installations"] == b_state["resources"] == b_state["directives"] == []
    assert b_state["sequences"] == []
    # B installs one of the same packages: a new installation of its own.
    result = run_cli("install", "fx-base==1.0.0", "--yes", "--tenant", "tenant-b")
    assert result.exit_code == 0, result.stderr
    assert "Nothing to do" not in result.stderr
    assert live("tenant-b") == {"fx-base": ("1.0.0", "active")}
    a_after = snapshot("tenant-a")
    a_after["installs"] = a_before["installs"]  # Install counts are global by design.
    a_after["active"] = a_before["active"]
    assert a_after == a_before
    assert snapshot("tenant-b")["installs"] == {"fx-base": 2}


def test_uninstall_directive(backend):
    """The installer's uninstall steps, through the actions (the command lives elsewhere)."""
    from fleetprompt_cli.actions.directive_runner import run_directive
    from fleetprompt_cli.actions.preview import preview_uninstall, submit
    from fleetprompt_cli.settings import load_settings

    assert run_cli("install", "fx-top", "--yes").exit_code == 0
    settings = load_settings()
    store = store_for(settings)
    try:
        preview = preview_uninstall(store, "default", ["fx-top"])
        assert [p["slug"] for p in preview.removed] == ["fx-top", "fx-mid", "fx-base"]
        directive = submit(
            settings, store, preview, actor="tester", command="uninstall fx-top"
        ).directive_id
        outcome = run_directive(settings, store, preview.tenant_id, directive)
        assert outcome.status == "succeeded"
    finally:
        store.dispose()
    state = snapshot()
    assert (state["installations"], state["resources"]) == ([], [])
    assert sorted(state["finished"]) == [(slug, "uninstalled") for slug in FX]
    assert state["active"] == {}  # read_stats of live slugs only: none left
    assert [t for t, *_ in state["revisions"]["fx-top"]][-2:] == [
        "start_uninstall",
        "complete_uninstall",
    ]


def test_store_unreachable(index, monkeypatch):
    monkeypatch.setenv("FLEETPROMPT_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:1/x")
    result = run_cli("install", "fx-base==1.0.0", "--yes")
    assert result.exit_code == 10
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: cannot connect to the state store")
    assert "Traceback" not in result.stderr
