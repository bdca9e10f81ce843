"""Git-hosted and folder indexes: add, update, list, remove, flag."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fleetprompt_cli.errors import ExitCode
from tests.helpers import git_index, publish_all, run_cli, write_package


def _slugs(*args: str) -> list[str]:
    result = run_cli("search", *args, "--json")
    assert result.exit_code == 0, result.stderr
    return [p["slug"] for p in json.loads(result.stdout)["packages"]]


@pytest.fixture
def remote(tmp_path: Path) -> Path:
    """A git repository holding an index, reached by file:// URL."""
    repo = git_index(tmp_path / "remote")
    publish_all(
        repo,
        write_package(
            tmp_path / "src", "remote-tool", "1.0.0", package={"description": "From the remote"}
        ),
    )
    return repo


def test_git_index_via_environment_is_cloned_and_updated(remote: Path, tmp_path, monkeypatch):
    monkeypatch.setenv("FLEETPROMPT_INDEX", remote.as_uri())
    assert _slugs("remote") == ["remote-tool"]
    publish_all(
        remote,
        write_package(
            tmp_path / "src2", "remote-extra", "1.0.0", package={"description": "Also remote"}
        ),
    )
    # Fetched at most once per FLEETPROMPT_INDEX_MAX_AGE: not yet seen...
    assert _slugs("remote") == ["remote-tool"]
    # ...until an explicit update, which re-reads only the changed file.
    result = run_cli("index", "update", "--json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["files_read"] == 1
    assert sorted(_slugs("remote")) == ["remote-extra", "remote-tool"]


def test_git_index_is_fetched_again_when_older_than_max_age(remote, tmp_path, monkeypatch):
    monkeypatch.setenv("FLEETPROMPT_INDEX", remote.as_uri())
    assert _slugs("remote") == ["remote-tool"]
    publish_all(
        remote,
        write_package(
            tmp_path / "src2", "remote-extra", "1.0.0", package={"description": "Also remote"}
        ),
    )
    monkeypatch.setenv("FLEETPROMPT_INDEX_MAX_AGE", "0")
    assert sorted(_slugs("remote")) == ["remote-extra", "remote-tool"]


def test_index_add_list_remove(remote: Path):
    result = run_cli("index", "add", "team", remote.as_uri())
    assert result.exit_code == 0, result.stderr
    listing = json.loads(run_cli("index", "list", "--json").stdout)["indexes"]
    assert [i["name"] for i in listing] == ["default", "team"]
    assert listing[1]["kind"] == "git" and listing[1]["packages"] == 1
    # The bundled index and the added one are both searched.
    assert "remote-tool" in _slugs("remote")
    assert "customer-support" in _slugs("support")
    assert run_cli("index", "add", "team", remote.as_uri()).exit_code == ExitCode.EXISTS
    assert run_cli("index", "remove", "team").exit_code == 0
    assert "remote-tool" not in _slugs("remote")
    assert run_cli("index", "remove", "team").exit_code == ExitCode.NOT_FOUND


def test_first_index_that_has_a_slug_wins(tmp_path: Path, monkeypatch):
    # An added index cannot shadow a package of the default index (dependency
    # confusion): its customer-support is ignored.
    other = tmp_path / "other"
    publish_all(other, write_package(tmp_path / "src", "customer-support", "99.0.0"))
    assert run_cli("index", "add", "other", str(other)).exit_code == 0
    result = run_cli("show", "customer-support", "--json")
    package = json.loads(result.stdout)["package"]
    assert package["version"] == "2.1.0"
    assert package["index"] == "default"


def test_index_url_that_is_not_a_repository(tmp_path: Path, monkeypatch):
    empty = tmp_path / "not-a-repo"
    empty.mkdir()
    # A file:// URL to a plain folder is a folder index: the real problem is
    # that it holds no index, not that git cannot clone it.
    result = run_cli("index", "add", "bad", empty.as_uri())
    assert result.exit_code == ExitCode.FAILURE
    assert "not a fleetprompt index" in result.stderr and "not-a-repo" in result.stderr
    assert "Traceback" not in result.stderr
    listing = json.loads(run_cli("index", "list", "--json").stdout)["indexes"]
    assert [i["name"] for i in listing] == ["default"]
    monkeypatch.setenv("FLEETPROMPT_INDEX", empty.as_uri())
    result = run_cli("search", "x")
    assert result.exit_code == ExitCode.FAILURE
    assert "(from FLEETPROMPT_INDEX)" in result.stderr
    assert "not a fleetprompt index" in result.stderr
    # A repository that is not reachable says so, without a wrong guess.
    monkeypatch.setenv("FLEETPROMPT_INDEX", (tmp_path / "gone.git").as_uri())
    result = run_cli("search", "x")
    assert result.exit_code == ExitCode.FAILURE
    assert "cannot fetch" in result.stderr and "gone.git" in result.stderr
    assert "(from FLEETPROMPT_INDEX)" in result.stderr


def test_folder_that_is_not_an_index(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("FLEETPROMPT_INDEX", str(tmp_path))
    result = run_cli("search", "x")
    assert result.exit_code == ExitCode.FAILURE
    assert "is not a fleetprompt index" in result.stderr


def test_flags_are_kept_in_the_index(tmp_path: Path, monkeypatch):
    index = tmp_path / "index"
    publish_all(index, write_package(tmp_path / "src", "solo", "1.0.0"))
    result = run_cli("index", "flag", "solo", "--featured", "--index", str(index))
    assert result.exit_code == 0, result.stderr
    monkeypatch.setenv("FLEETPROMPT_INDEX", str(index))
    assert _slugs("--limit", "5") == ["solo"]
    featured = json.loads(run_cli("featured", "--json").stdout)["packages"]
    assert [(p["slug"], p["featured"], p["verified"]) for p in featured] == [("solo", True, False)]
    assert (
        run_cli("index", "flag", "nope", "--verified", "--index", str(index)).exit_code
        == ExitCode.NOT_FOUND
    )


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"indexes = [\n", "cannot read config file: "),
        (b"\xff\xfe not utf-8", "cannot read config file: "),
    ],
)
def test_unreadable_config_file_is_one_clear_error(content, expected):
    import os

    config = Path(os.environ["FLEETPROMPT_HOME"]) / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_bytes(content)
    result = run_cli("search", "support")
    assert result.exit_code == ExitCode.INVALID
    assert result.stderr.startswith(f"error: {config}: {expected}")
    assert "Traceback" not in result.stderr
    assert config.read_bytes() == content  # Left as it was.
