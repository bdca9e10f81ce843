"""publish, yank and owner against a remote git index (a bare repository by file://).

Races are made deterministic with the action's ``before_push`` hook: it runs
between the commit and the push of an attempt, where a competing publisher
(another home, another cache) pushes first, or where the remote goes away.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from fleetprompt_cli.actions.publish import MAX_ATTEMPTS, publish
from fleetprompt_cli.errors import AlreadyExists, ExitCode, IndexReadError
from fleetprompt_cli.settings import load_settings
from tests.helpers import git, run_cli, write_package


def _bare(tmp_path: Path, name: str = "index.git") -> tuple[Path, str]:
    path = tmp_path / name
    path.mkdir()
    git("init", "--quiet", "--bare", "--initial-branch=main", cwd=path)
    return path, path.as_uri()


def _show(bare: Path, spec: str) -> str:
    return git("show", f"main:{spec}", cwd=bare)


def _log(bare: Path) -> list[str]:
    result = subprocess.run(
        ["git", "log", "--format=%s", "main"], cwd=bare, capture_output=True, text=True
    )
    return result.stdout.split("\n")[:-1] if result.returncode == 0 else []


def _as(home: Path, actor: str = "alice") -> dict[str, str]:
    return {"FLEETPROMPT_HOME": str(home), "FLEETPROMPT_ACTOR": actor}


def _clones(home: Path) -> list[Path]:
    folder = home / "cache" / "publish"
    return [p for p in folder.iterdir() if p.is_dir() and not p.name.endswith(".tmp")]


def _assert_clean_clone(home: Path) -> None:
    """The writer's clone holds exactly what the remote had at the last fetch."""
    for clone in _clones(home):
        assert git("status", "--porcelain", "--ignored", cwd=clone) == ""
        assert git("rev-parse", "HEAD", cwd=clone) == git("rev-parse", "origin/main", cwd=clone)


@pytest.fixture
def alice(monkeypatch, tmp_path):
    monkeypatch.setenv("FLEETPROMPT_ACTOR", "alice")
    return tmp_path


def test_publish_to_an_empty_remote_creates_the_index_and_pushes(alice: Path, isolated_home):
    bare, url = _bare(alice)
    folder = write_package(alice / "src", "solo", "1.0.0")
    result = run_cli("publish", str(folder), "--index", url, "--json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["pushed"] is True and doc["attempts"] == 1 and doc["index"] == url
    assert doc["owners_claimed"] == ["solo"] and doc["publisher"] == "alice"
    assert git("rev-parse", "main", cwd=bare).strip() == doc["commit"]
    message = git("log", "-1", "--format=%B", "main", cwd=bare)
    assert message.startswith("Publish solo 1.0.0\n") and "Publisher: alice" in message
    line = json.loads(_show(bare, "packages/so/lo/solo"))
    assert line["version"] == "1.0.0" and line["archive"] == "archives/solo/solo-1.0.0.tar.gz"
    assert json.loads(_show(bare, "owners/solo"))["owners"] == ["alice"]
    assert "archives/solo/solo-1.0.0.tar.gz" in git(
        "ls-tree", "-r", "--name-only", "main", cwd=bare
    )
    _assert_clean_clone(isolated_home)


def test_a_second_publisher_builds_on_the_first(alice: Path, isolated_home):
    bare, url = _bare(alice)
    first = write_package(alice / "a", "solo", "1.0.0")
    second = write_package(alice / "b", "solo", "1.1.0")
    assert run_cli("publish", str(first), "--index", url).exit_code == 0
    # Another machine (its own home and cache), the same publisher.
    other = run_cli("publish", str(second), "--index", url, env=_as(alice / "home2"))
    assert other.exit_code == 0, other.stderr
    # Back on the first machine: its cached clone is fetched, not stale.
    third = write_package(alice / "c", "solo", "1.2.0")
    assert run_cli("publish", str(third), "--index", url).exit_code == 0
    versions = [json.loads(x)["version"] for x in _show(bare, "packages/so/lo/solo").splitlines()]
    assert versions == ["1.0.0", "1.1.0", "1.2.0"]
    assert _log(bare) == ["Publish solo 1.2.0", "Publish solo 1.1.0", "Publish solo 1.0.0"]


def test_racing_publishers_of_different_versions_both_land(alice: Path, isolated_home):
    bare, url = _bare(alice)
    base = write_package(alice / "base", "solo", "1.0.0")
    assert run_cli("publish", str(base), "--index", url).exit_code == 0
    mine = write_package(alice / "mine", "solo", "2.0.0")
    theirs = write_package(alice / "theirs", "solo", "3.0.0")
    attempts = []

    def competitor(attempt: int) -> None:
        attempts.append(attempt)
        if attempt == 1:  # They push between our commit and our push.
            result = run_cli("publish", str(theirs), "--index", url, env=_as(alice / "h2"))
            assert result.exit_code == 0, result.stderr

    result = publish(load_settings(), [mine], index_dir=url, before_push=competitor)
    assert result.pushed and result.attempts == 2 and attempts == [1, 2]
    versions = [json.loads(x)["version"] for x in _show(bare, "packages/so/lo/solo").splitlines()]
    assert versions == ["1.0.0", "3.0.0", "2.0.0"]
    # Linear history: ours was re-applied on top of theirs, nothing lost.
    assert _log(bare) == ["Publish solo 2.0.0", "Publish solo 3.0.0", "Publish solo 1.0.0"]
    tree = git("ls-tree", "-r", "--name-only", "main", cwd=bare)
    assert "archives/solo/solo-2.0.0.tar.gz" in tree and "archives/solo/solo-3.0.0.tar.gz" in tree
    _assert_clean_clone(isolated_home)


def test_racing_publishers_of_the_same_version_one_wins_one_is_refused(alice: Path, isolated_home):
    bare, url = _bare(alice)
    mine = write_package(alice / "mine", "solo", "1.0.0", package={"description": "mine"})
    theirs = write_package(alice / "theirs", "solo", "1.0", package={"description": "theirs"})

    def competitor(attempt: int) -> None:
        result = run_cli("publish", str(theirs), "--index", url, env=_as(alice / "h2"))
        assert result.exit_code == 0, result.stderr

    with pytest.raises(AlreadyExists, match="solo 1.0.0 is already published in " + url):
        publish(load_settings(), [mine], index_dir=url, before_push=competitor)
    lines = _show(bare, "packages/so/lo/solo").splitlines()
    assert [json.loads(x)["description"] for x in lines] == ["theirs"]
    assert _log(bare) == ["Publish solo 1.0"]
    _assert_clean_clone(isolated_home)


def test_a_racing_publisher_who_claimed_a_new_slug_locks_the_other_out(alice: Path, isolated_home):
    bare, url = _bare(alice)
    mine = write_package(alice / "mine", "solo", "1.0.0")
    theirs = write_package(alice / "theirs", "solo", "2.0.0")

    def competitor(attempt: int) -> None:
        result = run_cli("publish", str(theirs), "--index", url, env=_as(alice / "h2", "bob"))
        assert result.exit_code == 0, result.stderr

    result = run_cli_with_hook(mine, url, competitor)
    assert result == ExitCode.DENIED
    assert json.loads(_show(bare, "owners/solo"))["owners"] == ["bob"]
    assert _log(bare) == ["Publish solo 2.0.0"]


def run_cli_with_hook(folder: Path, url: str, hook: Callable[[int], None]) -> int:
    """The exit code publish would give, with a hook between commit and push."""
    from fleetprompt_cli.errors import FleetPromptError

    try:
        publish(load_settings(), [folder], index_dir=url, before_push=hook)
    except FleetPromptError as error:
        return error.exit_code
    return 0


def test_a_remote_that_keeps_moving_is_given_up_after_bounded_attempts(alice: Path, isolated_home):
    bare, url = _bare(alice)
    seed = write_package(alice / "seed", "seed", "1.0.0")
    assert run_cli("publish", str(seed), "--index", url).exit_code == 0
    writer = alice / "writer"
    git("clone", "--quiet", url, str(writer), cwd=alice)
    seen = []

    def busy(attempt: int) -> None:
        seen.append(attempt)
        (writer / "flags.json").write_text(json.dumps({"schema": 1, "n": attempt}))
        git("add", "flags.json", cwd=writer)
        git("commit", "--quiet", "-m", f"busy {attempt}", cwd=writer)
        git("push", "--quiet", "origin", "HEAD:main", cwd=writer)

    folder = write_package(alice / "src", "solo", "1.0.0")
    with pytest.raises(IndexReadError, match=f"every one of {MAX_ATTEMPTS} attempts"):
        publish(load_settings(), [folder], index_dir=url, before_push=busy)
    assert seen == list(range(1, MAX_ATTEMPTS + 1))
    assert "solo" not in git("ls-tree", "-r", "--name-only", "main", cwd=bare)
    _assert_clean_clone(isolated_home)


def test_a_remote_unreachable_mid_push_fails_clearly_and_leaves_the_cache_clean(
    alice: Path, isolated_home
):
    bare, url = _bare(alice)
    base = write_package(alice / "base", "solo", "1.0.0")
    assert run_cli("publish", str(base), "--index", url).exit_code == 0
    before = git("rev-parse", "main", cwd=bare)
    moved = alice / "elsewhere.git"
    folder = write_package(alice / "src", "solo", "1.1.0")

    def vanish(attempt: int) -> None:
        bare.rename(moved)

    with pytest.raises(IndexReadError, match=f"cannot push to {url}: .*nothing was published"):
        publish(load_settings(), [folder], index_dir=url, before_push=vanish)
    _assert_clean_clone(isolated_home)
    moved.rename(bare)
    assert git("rev-parse", "main", cwd=bare) == before
    # A later publish works, and the failed one left nothing behind in it.
    result = run_cli("publish", str(folder), "--index", url)
    assert result.exit_code == 0, result.stderr
    assert _log(bare) == ["Publish solo 1.1.0", "Publish solo 1.0.0"]


def test_a_fault_between_commit_and_push_through_the_cli(alice: Path, isolated_home, monkeypatch):
    bare, url = _bare(alice)
    folder = write_package(alice / "src", "solo", "1.0.0")
    monkeypatch.setenv("FLEETPROMPT_FAULT", "publish-before-push=raise")
    result = run_cli("publish", str(folder), "--index", url)
    assert result.exit_code == ExitCode.FAILURE
    assert "injected fault at publish-before-push" in result.stderr
    assert "Traceback" not in result.stderr
    assert _log(bare) == []
    # An empty remote: the clone of a failed first publish is dropped.
    assert _clones(isolated_home) == []
    monkeypatch.delenv("FLEETPROMPT_FAULT")
    assert run_cli("publish", str(folder), "--index", url).exit_code == 0
    assert _log(bare) == ["Publish solo 1.0.0"]


def test_an_unreachable_remote_is_a_clear_error(alice: Path):
    folder = write_package(alice / "src", "solo", "1.0.0")
    url = (alice / "missing.git").as_uri()
    result = run_cli("publish", str(folder), "--index", url)
    assert result.exit_code == ExitCode.FAILURE
    assert result.stderr.startswith(f"error: cannot fetch {url}: ")
    assert "Traceback" not in result.stderr


def test_an_invalid_manifest_fetches_and_pushes_nothing(alice: Path, isolated_home):
    bare, url = _bare(alice)
    folder = alice / "broken"
    folder.mkdir()
    (folder / "fleetprompt.toml").write_text("schema_version = 1\n[package]\nslug = 'x'\n")
    result = run_cli("publish", str(folder), "--index", url)
    assert result.exit_code == ExitCode.INVALID
    assert "fleetprompt.toml" in result.stderr and "package.version" in result.stderr
    assert _log(bare) == []
    assert not (isolated_home / "cache" / "publish").exists()


def test_archives_go_where_the_remote_config_says(alice: Path):
    bare, url = _bare(alice)
    seed = alice / "seed"
    git("clone", "--quiet", url, str(seed), cwd=alice)
    config = {"schema": 1, "archives": "files/{slug}/{version}/{slug}.tar.gz"}
    (seed / "config.json").write_text(json.dumps(config))
    git("add", "config.json", cwd=seed)
    git("commit", "--quiet", "-m", "index", cwd=seed)
    git("push", "--quiet", "origin", "HEAD:main", cwd=seed)
    folder = write_package(alice / "src", "solo", "1.0.0")
    assert run_cli("publish", str(folder), "--index", url).exit_code == 0
    assert "files/solo/1.0.0/solo.tar.gz" in git("ls-tree", "-r", "--name-only", "main", cwd=bare)
    line = json.loads(_show(bare, "packages/so/lo/solo"))
    assert line["archive"] == "files/solo/1.0.0/solo.tar.gz"


def test_a_repository_that_is_not_an_index_is_refused(alice: Path):
    bare, url = _bare(alice)
    seed = alice / "seed"
    git("clone", "--quiet", url, str(seed), cwd=alice)
    (seed / "README").write_text("not an index\n")
    git("add", "README", cwd=seed)
    git("commit", "--quiet", "-m", "readme", cwd=seed)
    git("push", "--quiet", "origin", "HEAD:main", cwd=seed)
    folder = write_package(alice / "src", "solo", "1.0.0")
    result = run_cli("publish", str(folder), "--index", url)
    assert result.exit_code == ExitCode.FAILURE
    assert "holds no fleetprompt index (no config.json" in result.stderr
    assert _log(bare) == ["readme"]


def test_yank_and_undo_on_a_remote_record_the_reason(alice: Path, isolated_home):
    bare, url = _bare(alice)
    folder = write_package(alice / "src", "solo", "1.0.0")
    assert run_cli("publish", str(folder), "--index", url).exit_code == 0
    result = run_cli("yank", "solo@1.0", "--reason", "leaks a token", "--index", url, "--json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["yanked"] is True and doc["pushed"] is True and doc["reason"] == "leaks a token"
    assert json.loads(_show(bare, "packages/so/lo/solo"))["yanked"] is True
    record = json.loads(_show(bare, "yanks/solo"))
    assert record["reason"] == "leaks a token" and record["by"] == "alice"
    assert "Reason: leaks a token" in git("log", "-1", "--format=%B", "main", cwd=bare)
    assert run_cli("yank", "solo@1.0.0", "--undo", "--index", url).exit_code == 0
    assert json.loads(_show(bare, "packages/so/lo/solo"))["yanked"] is False
    records = [json.loads(x) for x in _show(bare, "yanks/solo").splitlines()]
    assert [r["yanked"] for r in records] == [True, False]
    assert _log(bare)[:2] == ["Unyank solo 1.0.0", "Yank solo 1.0.0"]
    # A non-owner cannot yank it, and nothing is pushed.
    result = run_cli("yank", "solo@1.0.0", "--index", url, env=_as(alice / "h2", "mallory"))
    assert result.exit_code == ExitCode.DENIED
    assert "mallory may not yank solo" in result.stderr
    assert len(_log(bare)) == 3


def test_a_non_owner_publish_to_a_remote_is_refused_before_anything_is_pushed(alice: Path):
    bare, url = _bare(alice)
    first = write_package(alice / "a", "solo", "1.0.0")
    assert run_cli("publish", str(first), "--index", url).exit_code == 0
    folder = write_package(alice / "b", "solo", "1.1.0")
    result = run_cli("publish", str(folder), "--index", url, env=_as(alice / "h2", "mallory"))
    assert result.exit_code == ExitCode.DENIED
    assert "mallory may not publish solo: only its owners may (alice)" in result.stderr
    assert _log(bare) == ["Publish solo 1.0.0"]
    # Once added as an owner (on the remote), the same publish goes through.
    assert run_cli("owner", "add", "solo", "mallory", "--index", url).exit_code == 0
    result = run_cli("publish", str(folder), "--index", url, env=_as(alice / "h2", "mallory"))
    assert result.exit_code == 0, result.stderr
    assert _log(bare)[:2] == ["Publish solo 1.1.0", "Add owner mallory of solo"]


def test_a_publisher_killed_before_its_push_leaves_nothing_the_next_one_pushes(
    alice: Path, isolated_home
):
    import os
    import sys

    bare, url = _bare(alice)
    base = write_package(alice / "base", "solo", "1.0.0")
    assert run_cli("publish", str(base), "--index", url).exit_code == 0
    killed = write_package(alice / "killed", "solo", "1.1.0")
    env = {**os.environ, "FLEETPROMPT_FAULT": "publish-before-push"}
    process = subprocess.run(
        [sys.executable, "-m", "fleetprompt_cli", "publish", str(killed), "--index", url],
        env=env,
        capture_output=True,
        text=True,
    )
    assert process.returncode == -9  # SIGKILL between the commit and the push
    (clone,) = _clones(isolated_home)
    assert "Publish solo 1.1.0" in git("log", "-1", "--format=%s", cwd=clone)
    # The next publish starts from the remote's state, not the dead one's commit.
    other = write_package(alice / "other", "solo", "1.2.0")
    assert run_cli("publish", str(other), "--index", url).exit_code == 0
    assert _log(bare) == ["Publish solo 1.2.0", "Publish solo 1.0.0"]
    tree = git("ls-tree", "-r", "--name-only", "main", cwd=bare)
    assert "archives/solo/solo-1.1.0.tar.gz" not in tree
    _assert_clean_clone(isolated_home)


def test_a_password_in_the_url_is_never_shown(alice: Path):
    folder = write_package(alice / "src", "solo", "1.0.0")
    url = "https://bob:s3cret@127.0.0.1:9/index.git"  # nothing listens on port 9
    result = run_cli("publish", str(folder), "--index", url)
    assert result.exit_code == ExitCode.FAILURE
    assert "https://bob:***@127.0.0.1:9/index.git" in result.stderr
    assert "s3cret" not in result.stderr + result.stdout
