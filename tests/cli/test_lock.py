"""fleetprompt lock, add and remove: the project file, the lock, end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fleetprompt_cli.errors import ExitCode
from tests.helpers import git, git_index, publish_all, run_cli, write_package

CONFIG_SCHEMA = {
    "region": {"type": "string", "required": True, "choices": ["us", "eu"]},
    "limit": {"type": "integer", "default": 5},
}


@pytest.fixture
def index(tmp_path: Path, monkeypatch) -> Path:
    """A folder index: base 1.0/1.5/2.0, app 1.0 (base >=1,<2), other 1.0, conf 1.0."""
    src = tmp_path / "src"
    folders = [
        write_package(src, "base", "1.0.0", skills=["s"]),
        write_package(src, "base", "1.5.0", skills=["s"]),
        write_package(src, "base", "2.0.0", skills=["s"]),
        write_package(src, "app", "1.0.0", deps={"base": ">=1.0,<2"}),
        write_package(src, "other", "1.0.0", deps={"base": ">=2"}),
        write_package(src, "conf", "1.0.0", config=CONFIG_SCHEMA),
    ]
    root = tmp_path / "index"
    publish_all(root, *folders)
    monkeypatch.setenv("FLEETPROMPT_INDEX", str(root))
    return root


@pytest.fixture
def project(tmp_path: Path, monkeypatch) -> Path:
    folder = tmp_path / "proj"
    folder.mkdir()
    monkeypatch.chdir(folder)
    return folder


def _publish(index: Path, tmp_path: Path, slug: str, version: str, **kwargs) -> None:
    publish_all(index, write_package(tmp_path / "more", slug, version, **kwargs))


def _locked(project: Path) -> dict[str, str]:
    text = (project / "fleetprompt.lock").read_text()
    import tomllib

    return {p["slug"]: p["version"] for p in tomllib.loads(text).get("package", [])}


def _files(project: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(project.iterdir())}


def test_add_creates_the_project_and_a_byte_stable_lock(index, project):
    result = run_cli("add", "app")
    assert result.exit_code == 0, result.stderr
    assert "Wrote fleetprompt.lock (2 packages)" in result.stderr
    assert 'app = ""' in (project / "fleetprompt.project.toml").read_text()
    assert _locked(project) == {"app": "1.0.0", "base": "1.5.0"}
    lock = (project / "fleetprompt.lock").read_text()
    assert f'url = "{index}"' in lock
    assert 'dependencies = [\n    "base",\n]' in lock
    # The same inputs give the same bytes; a second lock writes nothing.
    (project / "fleetprompt.lock").unlink()
    assert run_cli("lock").exit_code == 0
    assert (project / "fleetprompt.lock").read_text() == lock
    again = run_cli("lock")
    assert again.exit_code == 0
    assert "up to date (2 packages); nothing to write" in again.stderr
    assert run_cli("lock", "--check").exit_code == 0


def test_new_versions_do_not_change_a_lock_until_asked(index, project, tmp_path):
    assert run_cli("add", "app", "conf", "--config", "conf:region=eu").exit_code == 0
    before = (project / "fleetprompt.lock").read_bytes()
    _publish(index, tmp_path, "base", "1.9.0", skills=["s"])
    _publish(index, tmp_path, "conf", "1.1.0", config=CONFIG_SCHEMA)
    assert run_cli("lock", "--check").exit_code == 0
    assert run_cli("lock").exit_code == 0
    assert (project / "fleetprompt.lock").read_bytes() == before
    result = run_cli("lock", "--upgrade-package", "base")
    assert result.exit_code == 0, result.stderr
    assert "1.5.0 → 1.9.0" in result.stdout
    assert _locked(project) == {"app": "1.0.0", "base": "1.9.0", "conf": "1.0.0"}
    assert run_cli("lock", "-U").exit_code == 0
    assert _locked(project)["conf"] == "1.1.0"


def test_check_exits_7_when_the_project_changed_or_there_is_no_lock(index, project):
    assert run_cli("lock", "--check").exit_code == ExitCode.NOT_FOUND  # no project file
    assert run_cli("add", "app").exit_code == 0
    path = project / "fleetprompt.project.toml"
    path.write_text(path.read_text().replace('app = ""', 'app = ">=1"'))
    result = run_cli("lock", "--check")
    assert result.exit_code == ExitCode.LOCK_OUTDATED
    assert "out of date" in result.stderr and "run 'fleetprompt lock'" in result.stderr
    (project / "fleetprompt.lock").unlink()
    result = run_cli("lock", "--check", "--json")
    assert result.exit_code == ExitCode.LOCK_OUTDATED
    assert json.loads(result.stdout)["error"]["kind"] == "lock_outdated"
    assert not (project / "fleetprompt.lock").exists()


def test_reformatting_the_project_keeps_the_lock_current(index, project):
    assert run_cli("add", "app", "conf", "--config", "conf:region=us").exit_code == 0
    path = project / "fleetprompt.project.toml"
    path.write_text(
        "# our tenant's packages\nschema_version = 1\n\n[config.conf]\nregion = 'us'  # US only\n"
        "\n[requires]\nconf = ''\napp = ''\n"
    )
    assert run_cli("lock", "--check").exit_code == 0


def test_a_request_that_does_not_resolve_changes_nothing(index, project):
    assert run_cli("add", "app").exit_code == 0
    before = _files(project)
    result = run_cli("add", "other")
    assert result.exit_code == ExitCode.CONFLICT
    assert "unsatisfiable" in result.stderr
    assert _files(project) == before
    result = run_cli("add", "nosuch")
    assert result.exit_code == ExitCode.NOT_FOUND
    assert _files(project) == before


def test_add_keeps_comments_and_layout(index, project):
    path = project / "fleetprompt.project.toml"
    original = (
        "# Packages for the support team.\n"
        "schema_version = 1\n\n"
        "[project]\n"
        'tenant = "acme"   # production tenant\n\n'
        "[requires]\n"
        '# the agent\napp = ""\n'
    )
    path.write_text(original)
    assert (
        run_cli("add", "conf>=1", "--config", "conf:region=eu", "-c", "conf:limit=9").exit_code == 0
    )
    text = path.read_text()
    assert text.startswith(original)
    assert 'conf = ">=1"' in text
    assert '[config.conf]\nregion = "eu"\nlimit = 9\n' in text
    # Changing a requirement edits it in place.
    assert run_cli("add", "app==1.0.0").exit_code == 0
    assert '# the agent\napp = "==1.0.0"\n' in path.read_text()


def test_remove_drops_the_package_its_config_and_what_only_it_needed(index, project):
    assert run_cli("add", "app", "conf", "--config", "conf:region=us").exit_code == 0
    result = run_cli("remove", "app", "--json")
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["kind"] == "lock"
    actions = {p["slug"]: p["action"] for p in document["packages"]}
    assert actions == {"app": "remove", "base": "remove", "conf": "keep"}
    assert _locked(project) == {"conf": "1.0.0"}
    text = (project / "fleetprompt.project.toml").read_text()
    result = run_cli("remove", "app")
    assert result.exit_code == ExitCode.NOT_FOUND
    assert "not required by" in result.stderr
    assert (project / "fleetprompt.project.toml").read_text() == text


def test_remove_takes_its_config_table(index, project):
    assert run_cli("add", "app", "conf", "--config", "conf:region=us").exit_code == 0
    assert run_cli("remove", "conf").exit_code == 0
    text = (project / "fleetprompt.project.toml").read_text()
    assert "conf" not in text
    assert _locked(project) == {"app": "1.0.0", "base": "1.5.0"}


@pytest.mark.parametrize(
    ("config", "fragment"),
    [
        ([], "conf needs a value for region"),
        (["conf:region=mars"], "'mars' is not one of us, eu"),
        (["conf:region=eu", "conf:limit=many"], "'many' is not a integer"),
        (["conf:region=eu", "conf:colour=red"], "not a config key of conf"),
        (["conf:region=eu", "app:x=1"], "config.app: app is not in the plan"),
        (["region=eu"], "expected SLUG:KEY=VALUE"),
    ],
)
def test_config_is_checked_against_the_schema_before_anything_is_written(
    index, project, config, fragment
):
    args = ["add", "conf"]
    for assignment in config:
        args += ["--config", assignment]
    result = run_cli(*args)
    assert result.exit_code in (ExitCode.INVALID, ExitCode.USAGE), result.stderr
    assert fragment in " ".join(result.stderr.split()), result.stderr
    assert list(project.iterdir()) == []


@pytest.mark.parametrize(
    ("text", "code", "fragment"),
    [
        ("schema_version = 1\n[requires\n", ExitCode.INVALID, "line 2"),
        ("schema_version = 7\n", ExitCode.INVALID, "upgrade fleetprompt"),
        ('schema_version = 1\nrequire = {app = ""}\n', ExitCode.INVALID, "require: unknown key"),
        ('schema_version = 1\n[requires]\nnosuch = ""\n', ExitCode.NOT_FOUND, "nosuch"),
        ("schema_version = 1\n", ExitCode.USAGE, "the project requires nothing"),
    ],
)
def test_bad_project_files_are_reported(index, project, text, code, fragment):
    (project / "fleetprompt.project.toml").write_text(text)
    result = run_cli("lock")
    assert result.exit_code == code, result.stderr
    assert fragment in result.stderr
    assert "Traceback" not in result.stderr
    assert not (project / "fleetprompt.lock").exists()


def test_hand_edited_and_newer_locks(index, project):
    assert run_cli("add", "app").exit_code == 0
    lock = project / "fleetprompt.lock"
    text = lock.read_text()
    lock.write_text(text.replace('requires-hash = "sha256:', 'requires-hash = "sha256:0', 1)[:-1])
    result = run_cli("lock", "--check")
    assert result.exit_code == ExitCode.INVALID  # no longer 64 hex digits
    assert "requires-hash" in result.stderr
    digits = text.split('requires-hash = "sha256:')[1][:64]
    lock.write_text(text.replace(digits, "0" * 64))
    assert run_cli("lock", "--check").exit_code == ExitCode.LOCK_OUTDATED
    lock.write_text(text.replace("version = 1\n", "version = 2\n", 1))
    result = run_cli("lock")
    assert result.exit_code == ExitCode.INVALID
    assert "upgrade fleetprompt" in result.stderr
    assert "delete fleetprompt.lock" in result.stderr


def test_dry_run_writes_nothing(index, project):
    result = run_cli("add", "app", "--dry-run")
    assert result.exit_code == 0, result.stderr
    assert "--dry-run changed nothing" in result.stderr
    assert list(project.iterdir()) == []


def test_project_option_names_another_place(index, project, tmp_path):
    other = tmp_path / "elsewhere"
    other.mkdir()
    assert run_cli("add", "app", "--project", str(other)).exit_code == 0
    assert (other / "fleetprompt.lock").exists()
    assert list(project.iterdir()) == []


def test_a_git_index_is_locked_with_its_commit(tmp_path, project, monkeypatch):
    repo = git_index(tmp_path / "remote")
    publish_all(repo, write_package(tmp_path / "src", "base", "1.0.0"))
    head = git("rev-parse", "HEAD", cwd=repo).strip()
    url = f"file://{repo}"
    monkeypatch.setenv("FLEETPROMPT_INDEX", url)
    assert run_cli("add", "base").exit_code == 0
    text = (project / "fleetprompt.lock").read_text()
    assert f'url = "{url}"' in text
    assert f'commit = "{head}"' in text


def test_upgrade_package_names_a_slug(index, project):
    assert run_cli("add", "app").exit_code == 0
    result = run_cli("lock", "--upgrade-package", "bad slug!")
    assert result.exit_code == ExitCode.USAGE
    assert "--upgrade-package 'bad slug!': not a package slug" in result.stderr
    result = run_cli("lock", "-P", "other")
    assert result.exit_code == 0, result.stderr
    assert "other is not in the lock: nothing to upgrade" in result.stderr


def test_add_into_a_missing_folder_says_so(index, tmp_path):
    missing = tmp_path / "nowhere" / "fleetprompt.project.toml"
    result = run_cli("add", "app", "--project", str(missing))
    assert result.exit_code == ExitCode.NOT_FOUND
    assert f"no folder {missing.parent} to hold fleetprompt.project.toml" in result.stderr
    assert not missing.parent.exists()


def test_add_of_a_package_the_projects_tenant_lacks_the_tier_for_changes_nothing(
    index, project, tmp_path
):
    _publish(index, tmp_path, "gold", "1.0.0", package={"min_tier": "pro"})
    assert run_cli("tenant", "create", "acme").exit_code == 0
    (project / "fleetprompt.project.toml").write_text(
        'schema_version = 1\n[project]\ntenant = "acme"\n[requires]\n'
    )
    before = _files(project)
    result = run_cli("add", "gold")
    assert result.exit_code == ExitCode.DENIED, result.stderr
    assert "tenant 'acme' is on the free tier, which cannot install gold (needs pro)" in (
        result.stderr
    )
    assert _files(project) == before
    assert run_cli("tenant", "set-tier", "acme", "pro").exit_code == 0
    assert run_cli("add", "gold").exit_code == 0
    assert _locked(project)["gold"] == "1.0.0"
