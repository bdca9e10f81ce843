"""fleetprompt sync: a tenant made to match fleetprompt.lock, end to end.

Real folder indexes built by ``publish``, real archives, a real SQLite store
(and PostgreSQL + Redis for the basic sync, through the ``backend`` fixture).
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from fleetprompt_cli import faults
from fleetprompt_cli.errors import ExitCode
from tests.helpers import publish_all, run_cli, write_package
from tests.queue.support import index_line, snapshot, store_for

CONFIG_SCHEMA = {
    "region": {"type": "string", "required": True, "choices": ["us", "eu"]},
    "limit": {"type": "integer", "default": 5},
}


@pytest.fixture
def index(tmp_path: Path, monkeypatch) -> Path:
    """base 1.0/1.5/2.0, app 1.0 (base >=1,<2), conf 1.0 (config), extra 1.0 (base)."""
    src = tmp_path / "src"
    folders = [
        write_package(src, "base", "1.0.0", skills=["s"]),
        write_package(src, "base", "1.5.0", skills=["s", "t"]),
        write_package(src, "base", "2.0.0", skills=["s"]),
        write_package(
            src, "app", "1.0.0", deps={"base": ">=1.0,<2"}, agents={"Helper": ["base:s"]}
        ),
        write_package(src, "conf", "1.0.0", config=CONFIG_SCHEMA),
        write_package(src, "extra", "1.0.0", deps={"base": ">=1"}),
    ]
    root = tmp_path / "index"
    # The tester publishes everything (and so owns it) and later yanks.
    monkeypatch.setenv("FLEETPROMPT_ACTOR", "tester")
    publish_all(root, *folders)
    monkeypatch.setenv("FLEETPROMPT_INDEX", str(root))
    faults._hits.clear()
    return root


@pytest.fixture
def project(tmp_path: Path, monkeypatch) -> Path:
    folder = tmp_path / "proj"
    folder.mkdir()
    monkeypatch.chdir(folder)
    return folder


def version_line(index: Path, slug: str, version: str) -> dict[str, Any]:
    """The index line of one version of ``slug``."""
    package_file, _ = index_line(index, slug)
    for text in package_file.read_text().splitlines():
        line = json.loads(text)
        if line["version"] == version:
            return line
    raise AssertionError(f"{slug} {version} is not in the index")


def ok(*args: str) -> Any:
    result = run_cli(*args)
    assert result.exit_code == 0, result.stderr
    return result


def installed(tenant: str = "default") -> dict[str, tuple[str | None, str, dict]]:
    """The tenant's live installations: slug -> (version, status, config); {} without a tenant."""
    from fleetprompt_cli.errors import NotFound
    from fleetprompt_cli.store import repository as repo

    store = store_for()
    try:
        with store.session(readonly=True) as s:
            record = repo.get_tenant(s, tenant)
            rows = repo.list_installations(s, record.id)
            return {
                r.slug: (r.version, r.status, dict(r.config))
                for r in rows
                if r.status not in ("uninstalled", "cancelled")
            }
    except NotFound:
        return {}
    finally:
        store.dispose()


def directives(tenant: str = "default") -> list[tuple[str, str]]:
    """The tenant's directives (kind, status), oldest first; [] without a tenant."""
    from fleetprompt_cli.errors import NotFound
    from fleetprompt_cli.store import repository as repo

    store = store_for()
    try:
        with store.session(readonly=True) as s:
            record = repo.get_tenant(s, tenant)
            found = [(d.created_at, d.kind, d.status) for d in repo.list_directives(s, record.id)]
            return [(kind, status) for _, kind, status in sorted(found, key=lambda d: d[0])]
    except NotFound:
        return []
    finally:
        store.dispose()


def plan_of(*args: str) -> dict[str, Any]:
    result = run_cli("sync", "--dry-run", "--json", *args)
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def lock_text(project: Path) -> str:
    return (project / "fleetprompt.lock").read_text()


def edit_lock(project: Path, old: str, new: str) -> None:
    text = lock_text(project)
    assert old in text
    (project / "fleetprompt.lock").write_text(text.replace(old, new, 1))


# -- the basic sync, on every backend ------------------------------------------------


def test_fresh_sync_then_a_second_sync_is_a_no_op(backend, index, project):
    ok("add", "app", "conf", "--config", "conf:region=eu")
    result = ok("sync", "--yes")
    assert "Sync plan for tenant default" in result.stdout
    assert "synced tenant default" in result.stdout
    assert installed() == {
        "app": ("1.0.0", "active", {}),
        "base": ("1.5.0", "active", {}),
        "conf": ("1.0.0", "active", {"region": "eu", "limit": 5}),
    }
    assert directives() == [("sync", "succeeded")]
    again = ok("sync")
    assert "default already matches fleetprompt.lock: 3 packages" in again.stderr
    assert again.stdout == ""
    assert directives() == [("sync", "succeeded")]  # nothing submitted
    data = json.loads(ok("sync", "--json").stdout)
    assert (data["kind"], data["status"], data["directive"]) == ("sync", "nothing_to_do", None)


# -- versions, config, extras ---------------------------------------------------------


def test_upgrade_and_downgrade_to_the_locked_version(index, project):
    ok("add", "base==1.5.0")
    ok("install", "base==1.0.0", "--yes")
    (row,) = plan_of()["packages"]
    assert (row["slug"], row["from"], row["to"], row["action"]) == (
        "base",
        "1.0.0",
        "1.5.0",
        "upgrade",
    )
    ok("sync", "--yes")
    assert installed()["base"][:2] == ("1.5.0", "active")
    ok("install", "base==2.0.0", "--yes")
    (row,) = plan_of()["packages"]
    assert (row["from"], row["to"], row["action"]) == ("2.0.0", "1.5.0", "downgrade")
    ok("sync", "--yes")
    assert installed()["base"][:2] == ("1.5.0", "active")
    assert "matches" in ok("sync").stderr


def test_a_config_change_alone_is_applied(index, project):
    ok("add", "conf", "--config", "conf:region=eu")
    ok("sync", "--yes")
    path = project / "fleetprompt.project.toml"
    path.write_text(path.read_text().replace('region = "eu"', 'region = "us"'))
    # Default mode locks again first (the requires-hash changed), then syncs.
    result = ok("sync", "--yes")
    assert "Wrote fleetprompt.lock (1 package) before syncing" in result.stderr
    assert "reconfigure" in result.stdout
    assert installed()["conf"] == ("1.0.0", "active", {"region": "us", "limit": 5})
    assert 'config = { region = "us" }' in lock_text(project)
    assert "matches" in ok("sync").stderr
    assert [kind for kind, _ in directives()] == ["sync", "sync"]


def test_extras_are_removed_unless_inexact(index, project):
    ok("add", "conf", "--config", "conf:region=us")
    ok("install", "extra", "--yes")  # extra and base: not in the lock
    data = plan_of("--inexact")
    assert [p["slug"] for p in data["packages"]] == ["conf"]
    ok("sync", "--inexact", "--yes")
    assert set(installed()) == {"conf", "extra", "base"}
    assert "matches" in ok("sync", "--inexact").stderr
    # Without --inexact: extra goes before base (dependents first), as uninstall orders them.
    data = plan_of()
    assert [(p["slug"], p["action"], p["to"]) for p in data["packages"]] == [
        ("extra", "uninstall", None),
        ("base", "uninstall", None),
    ]
    ok("sync", "--yes")
    assert set(installed()) == {"conf"}


def test_the_same_lock_syncs_into_two_tenants(index, project):
    ok("tenant", "create", "acme")
    ok("tenant", "create", "beta")
    ok("add", "app")
    path = project / "fleetprompt.project.toml"
    path.write_text(path.read_text() + '\n[project]\ntenant = "acme"\n')
    assert ok("lock", "--check")  # the tenant is not part of the requires-hash
    ok("sync", "--yes")  # the project's tenant
    ok("sync", "--tenant", "beta", "--yes")
    expected = {"app": ("1.0.0", "active", {}), "base": ("1.5.0", "active", {})}
    assert installed("acme") == expected
    assert installed("beta") == expected
    again = ok("sync", "--tenant", "beta")
    assert "beta already matches fleetprompt.lock: 2 packages" in again.stderr


# -- --locked ---------------------------------------------------------------------------


def test_locked_fails_when_the_project_changed_but_not_for_newer_versions(index, project, tmp_path):
    ok("add", "app")
    publish_all(index, write_package(tmp_path / "more", "base", "1.9.0", skills=["s", "t"]))
    ok("sync", "--locked", "--yes")  # a newer version is no reason to fail
    assert installed()["base"][0] == "1.5.0"
    path = project / "fleetprompt.project.toml"
    path.write_text(path.read_text().replace('app = ""', 'app = ">=1"\nconf = ""'))
    before = lock_text(project)
    result = run_cli("sync", "--locked", "--yes")
    assert result.exit_code == ExitCode.LOCK_OUTDATED, result.stderr
    assert "requires-hash differs" in result.stderr
    assert lock_text(project) == before
    assert directives() == [("sync", "succeeded")]


def test_locked_fails_when_a_locked_version_left_the_index(index, project):
    ok("add", "base==1.5.0")
    package_file, _ = index_line(index, "base")
    lines = package_file.read_text().splitlines()
    kept = [line for line in lines if json.loads(line)["version"] != "1.5.0"]
    assert len(kept) == 2
    package_file.write_text("\n".join(kept) + "\n")
    result = run_cli("sync", "--locked", "--yes")
    assert result.exit_code == ExitCode.LOCK_OUTDATED, result.stderr
    assert "base 1.5.0 is no longer in the index" in result.stderr
    assert installed() == {}
    frozen = run_cli("sync", "--frozen", "--yes")
    assert frozen.exit_code == ExitCode.LOCK_OUTDATED, frozen.stderr


def test_locked_fails_when_the_archive_left_the_index(index, project):
    ok("add", "conf", "--config", "conf:region=us")
    _, line = index_line(index, "conf")
    (index / line["archive"]).unlink()
    result = run_cli("sync", "--locked", "--yes")
    assert result.exit_code == ExitCode.LOCK_OUTDATED, result.stderr
    assert f"its archive {line['archive']} is no longer in the index" in result.stderr
    assert installed() == {}


def test_a_lock_whose_requires_hash_was_edited(index, project):
    ok("add", "app")
    current = tomllib.loads(lock_text(project))["requires-hash"]
    edit_lock(project, current, "sha256:" + "0" * 64)
    result = run_cli("sync", "--locked", "--yes")
    assert result.exit_code == ExitCode.LOCK_OUTDATED, result.stderr
    assert installed() == {}
    # Default mode locks again (writing the right hash back), then syncs.
    ok("sync", "--yes")
    assert current in lock_text(project)
    assert set(installed()) == {"app", "base"}


# -- --frozen ---------------------------------------------------------------------------


def test_frozen_never_reads_the_project_file(index, project):
    ok("add", "app", "conf", "--config", "conf:region=eu")
    before = lock_text(project)
    # A project file that could not even be parsed, and one asking for more:
    (project / "fleetprompt.project.toml").write_text("this is [not toml\n")
    result = ok("sync", "--frozen", "--yes")
    assert "synced tenant default" in result.stdout
    assert installed()["conf"][2] == {"region": "eu", "limit": 5}  # config from the lock
    assert lock_text(project) == before
    (project / "fleetprompt.project.toml").unlink()
    assert "matches" in ok("sync", "--frozen").stderr
    (project / "sub").mkdir()
    missing = run_cli("sync", "--frozen", "--project", str(project / "sub"))
    assert missing.exit_code == ExitCode.LOCK_OUTDATED
    assert "does not exist" in missing.stderr


# -- integrity ---------------------------------------------------------------------------


def test_archive_bytes_changed_after_locking(index, project):
    ok("add", "app")
    line = version_line(index, "base", "1.5.0")
    archive = index / line["archive"]
    tampered = archive.read_bytes() + b"\0"
    archive.write_bytes(tampered)
    actual = hashlib.sha256(tampered).hexdigest()
    result = run_cli("sync", "--yes")
    assert result.exit_code == ExitCode.INTEGRITY, result.stderr
    assert "base 1.5.0" in result.stderr
    assert actual in result.stderr
    assert line["sha256"] in result.stderr
    assert "nothing was changed" in result.stderr
    assert installed() == {}
    assert directives() == []
    data = json.loads(run_cli("sync", "--yes", "--json").stdout)
    assert data["error"]["kind"] == "integrity"
    assert (data["error"]["expected"], data["error"]["actual"]) == (line["sha256"], actual)


def test_a_lock_whose_sha256_was_edited(index, project):
    ok("add", "app")
    line = version_line(index, "base", "1.5.0")
    edit_lock(project, line["sha256"], "0" * 64)
    for args in ((), ("--locked",), ("--frozen",)):
        result = run_cli("sync", "--yes", *args)
        assert result.exit_code == ExitCode.INTEGRITY, (args, result.stderr)
        assert "base 1.5.0" in result.stderr and "0" * 64 in result.stderr
    assert installed() == {}
    assert directives() == []


def test_a_lock_of_a_newer_format(index, project):
    ok("add", "app")
    edit_lock(project, "version = 1\n", "version = 2\n")
    for args in ((), ("--frozen",), ("--locked",)):
        result = run_cli("sync", "--yes", *args)
        assert result.exit_code == ExitCode.INVALID, result.stderr
        assert "lock format 2 is newer than this fleetprompt understands" in result.stderr
    assert installed() == {}


def test_a_lock_whose_config_was_edited(index, project):
    ok("add", "conf", "--config", "conf:region=eu")
    edit_lock(project, 'config = { region = "eu" }', 'config = { region = "us" }')
    result = run_cli("sync", "--locked", "--yes")
    assert result.exit_code == ExitCode.LOCK_OUTDATED, result.stderr
    assert "its config of conf is not the project file's" in result.stderr
    assert installed() == {}
    ok("sync", "--yes")  # default mode locks again: the project's config wins
    assert installed()["conf"][2] == {"region": "eu", "limit": 5}


def test_hostile_config_in_the_lock(index, project):
    ok("add", "conf", "--config", "conf:region=eu")
    edit_lock(project, 'config = { region = "eu" }', "config = { region = { a = 1 } }")
    result = run_cli("sync", "--frozen", "--yes")
    assert result.exit_code == ExitCode.INVALID, result.stderr
    assert "package 'conf'.config.region" in result.stderr
    edit_lock(project, "config = { region = { a = 1 } }", 'config = { region = "mars" }')
    result = run_cli("sync", "--frozen", "--yes")
    assert result.exit_code == ExitCode.INVALID, result.stderr
    assert "'mars' is not one of us, eu" in result.stderr
    assert installed() == {}


def test_the_lock_config_round_trips_byte_stable(index, project):
    ok("add", "conf", "--config", 'conf:region="eu"', "--config", "conf:limit=7")
    text = lock_text(project)
    assert 'config = { limit = 7, region = "eu" }' in text
    (project / "fleetprompt.lock").unlink()
    ok("lock")
    assert lock_text(project) == text
    from fleetprompt_cli.core.lockfile import dump_lock, parse_lock

    assert dump_lock(parse_lock(text)) == text


# -- yanked, busy, flags ---------------------------------------------------------------


def test_a_version_yanked_since_locking_still_installs_with_a_warning(index, project):
    ok("add", "app")
    ok("yank", "base", "1.5.0", "--index", str(index))
    result = ok("sync", "--yes")
    assert "base 1.5.0 was yanked from the index after it was locked" in result.stderr
    assert installed()["base"][0] == "1.5.0"


def test_syncing_while_another_directive_holds_a_package(index, project):
    ok("add", "app", "conf", "--config", "conf:region=eu")
    ok("install", "conf", "--config", "region=us", "--yes", "--no-wait")  # queued, no worker
    result = run_cli("sync", "--yes")
    assert result.exit_code == ExitCode.STATE, result.stderr
    assert "another directive is changing conf" in result.stderr
    assert [kind for kind, _ in directives()] == ["install"]
    assert set(installed()) == {"conf"}


def test_locked_and_frozen_exclude_each_other(index, project):
    ok("add", "app")
    result = run_cli("sync", "--locked", "--frozen")
    assert result.exit_code == ExitCode.USAGE
    assert "exclude each other" in result.stderr


def test_dry_run_json_is_the_full_plan_and_changes_nothing(index, project):
    ok("add", "app", "conf", "--config", "conf:region=eu")
    result = run_cli("sync", "--dry-run", "--json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert (data["schema"], data["kind"], data["status"], data["directive"]) == (
        1,
        "sync",
        "dry_run",
        None,
    )
    assert data["tenant"] == "default" and data["mode"] == "default"
    lock = tomllib.loads(lock_text(project))
    by_slug = {p["slug"]: p for p in lock["package"]}
    # Dependencies first (ties by slug).
    assert [p["slug"] for p in data["packages"]] == ["base", "conf", "app"]
    for row in data["packages"]:
        assert set(row) == {"slug", "from", "to", "action", "reason", "sha256", "archive", "config"}
        locked = by_slug[row["slug"]]
        assert (row["to"], row["sha256"], row["archive"]) == (
            locked["version"],
            locked["sha256"],
            locked["archive"],
        )
        assert (row["from"], row["action"], row["reason"]) == (None, "install", "not installed")
    assert data["packages"][1]["config"] == {"limit": 5, "region": "eu"}
    assert installed() == {} and directives() == []
    # lock --dry-run --json: the same fields for each package.
    (project / "fleetprompt.lock").unlink()
    locked_plan = json.loads(ok("lock", "--dry-run", "--json").stdout)
    assert locked_plan["kind"] == "lock" and locked_plan["written"] is False
    row = {p["slug"]: p for p in locked_plan["packages"]}["base"]
    assert (row["from"], row["to"], row["action"]) == (None, "1.5.0", "add")
    assert row["archive"] == by_slug["base"]["archive"]
    assert row["sha256"] == by_slug["base"]["sha256"]
    assert not (project / "fleetprompt.lock").exists()


# -- crash and recover ----------------------------------------------------------------


def test_sigkill_during_sync_then_recover_ends_as_a_clean_sync(
    index, project, tmp_path, monkeypatch
):
    ok("add", "app", "conf", "--config", "conf:region=eu")
    home = os.environ["FLEETPROMPT_HOME"]
    monkeypatch.setenv("FLEETPROMPT_HOME", str(tmp_path / "clean-home"))
    ok("sync", "--yes")
    clean = snapshot(history=False)
    monkeypatch.setenv("FLEETPROMPT_HOME", home)
    env = {**os.environ, "FLEETPROMPT_FAULT": "before-commit:2", "FLEETPROMPT_LEASE_SECONDS": "0"}
    died = subprocess.run(
        [sys.executable, "-m", "fleetprompt_cli", "sync", "--yes"],
        env=env,
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert died.returncode == -signal.SIGKILL, died.stderr
    assert installed()["base"][:2] == ("1.5.0", "active")
    assert installed()["app"][1] != "active"
    recovered = ok("recover")
    assert "succeeded" in recovered.stdout
    assert snapshot(history=False) == clean
    assert directives() == [("sync", "succeeded")]
    assert "matches" in ok("sync").stderr


def test_default_mode_locks_again_when_a_locked_version_left_the_index(index, project):
    ok("add", "app")
    package_file, _ = index_line(index, "base")
    lines = package_file.read_text().splitlines()
    package_file.write_text(
        "\n".join(line for line in lines if json.loads(line)["version"] != "1.5.0") + "\n"
    )
    result = ok("sync", "--yes")
    assert "Wrote fleetprompt.lock (2 packages) before syncing" in result.stderr
    assert 'version = "1.0.0"' in lock_text(project)
    assert installed()["base"][:2] == ("1.0.0", "active")


def test_a_tier_the_tenant_lacks_is_refused_before_anything_changes(index, project, tmp_path):
    publish_all(
        index, write_package(tmp_path / "more", "gold", "1.0.0", package={"min_tier": "pro"})
    )
    ok("tenant", "create", "acme")
    ok("add", "gold")
    result = run_cli("sync", "--tenant", "acme", "--yes")
    assert result.exit_code == ExitCode.DENIED, result.stderr
    assert "gold (needs pro)" in result.stderr
    assert installed("acme") == {} and directives("acme") == []
    ok("tenant", "set-tier", "acme", "pro")
    ok("sync", "--tenant", "acme", "--yes")
    assert installed("acme")["gold"][:2] == ("1.0.0", "active")


NO_OP_PROBE = """
import sys
sys.argv = ["fleetprompt", "sync"]
from fleetprompt_cli.cli import run
try:
    run()
except SystemExit as exit:
    assert not exit.code, exit.code
heavy = ("fleetprompt_cli.core.resolver", "fleetprompt_cli.indexio.catalog",
         "fleetprompt_cli.actions.planning", "fleetprompt_cli.actions.preview",
         "fleetprompt_cli.actions.indexes", "fleetprompt_cli.queue",
         "sqlmodel", "sqlalchemy", "alembic")
print(",".join(name for name in heavy if name in sys.modules))
"""


def test_the_no_op_path_neither_resolves_nor_reads_the_catalog_nor_imports_the_orm(index, project):
    ok("add", "app")
    ok("sync", "--yes")
    probe = subprocess.run(
        [sys.executable, "-c", NO_OP_PROBE],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert probe.returncode == 0, probe.stderr
    assert "default already matches fleetprompt.lock: 2 packages" in probe.stderr
    assert probe.stdout.strip() == ""
