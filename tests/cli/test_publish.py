"""fleetprompt publish and yank, end to end through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

from fleetprompt_cli.core.index import LocalIndex
from fleetprompt_cli.errors import ExitCode
from tests.helpers import git, git_index, run_cli, write_package


def _tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".git" not in p.parts
    }


def test_publish_writes_archive_and_entry(tmp_path: Path):
    core = write_package(tmp_path / "src", "core-skills", "1.2.0", skills=["geo-lookup"])
    app = write_package(
        tmp_path / "src",
        "field-service",
        "1.0",
        deps={"core-skills": ">=1.2,<2"},
        agents={"Dispatcher": ["core-skills:geo-lookup"]},
    )
    index = tmp_path / "index"
    result = run_cli("publish", str(app), str(core), "--index", str(index), "--json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["schema"] == 1
    # Dependencies are published first, whatever the order on the command line.
    assert [p["slug"] for p in doc["published"]] == ["core-skills", "field-service"]
    entries = LocalIndex(index).versions("field-service")
    assert [e.version for e in entries] == ["1.0"]
    entry = entries[0]
    assert entry.deps == {"core-skills": ">=1.2,<2"}
    assert entry.data["includes"]["agents"][0]["name"] == "Dispatcher"
    archive = index / entry.data["archive"]
    assert archive.is_file()
    assert entry.sha256 == doc["published"][1]["sha256"]
    assert (index / "packages" / "fi" / "el" / "field-service").is_file()
    assert doc["commit"] is None  # A plain folder is not committed to.


def test_publish_is_reproducible(tmp_path: Path):
    folder = write_package(tmp_path / "src", "solo", "1.0.0", skills=["s"])
    shas = []
    for name in ("a", "b"):
        result = run_cli("publish", str(folder), "--index", str(tmp_path / name), "--json")
        shas.append(json.loads(result.stdout)["published"][0]["sha256"])
        (folder / "prompts").touch()  # A new mtime must not change the archive.
    assert shas[0] == shas[1]


def test_publishing_an_existing_version_is_refused(tmp_path: Path):
    index = tmp_path / "index"
    first = write_package(tmp_path / "one", "solo", "1.0.0")
    assert run_cli("publish", str(first), "--index", str(index)).exit_code == 0
    before = _tree(index)
    # 1.0 and 1.0.0 are the same version.
    again = write_package(tmp_path / "two", "solo", "1.0", package={"description": "changed"})
    result = run_cli("publish", str(again), "--index", str(index))
    assert result.exit_code == ExitCode.EXISTS
    assert "solo 1.0 is already published" in result.stderr
    assert _tree(index) == before


def test_a_bad_package_in_a_batch_writes_nothing(tmp_path: Path):
    index = tmp_path / "index"
    good = write_package(tmp_path / "src", "good", "1.0.0")
    bad = write_package(tmp_path / "src", "bad", "1.0.0", deps={"missing-dep": ">=1"})
    result = run_cli("publish", str(good), str(bad), "--index", str(index))
    assert result.exit_code == ExitCode.INVALID
    assert "dependencies.missing-dep: missing-dep is not in the index" in result.stderr
    assert not (index / "packages").exists()


def test_dep_skill_must_exist_in_every_allowed_dependency_version(tmp_path: Path):
    index = tmp_path / "index"
    old = write_package(tmp_path / "src", "core", "1.0.0", skills=["other"])
    new = write_package(tmp_path / "src", "core", "1.1.0", skills=["geo"])
    app = write_package(
        tmp_path / "src", "app", "1.0.0", deps={"core": ">=1.0"}, agents={"Agent": ["core:geo"]}
    )
    result = run_cli("publish", str(old), str(new), str(app), "--index", str(index))
    assert result.exit_code == ExitCode.INVALID
    assert "core 1.0.0" in result.stderr and "has no skill 'geo'" in result.stderr
    narrowed = write_package(
        tmp_path / "ok", "app", "1.0.0", deps={"core": ">=1.1"}, agents={"Agent": ["core:geo"]}
    )
    result = run_cli("publish", str(old), str(new), str(narrowed), "--index", str(index))
    assert result.exit_code == 0, result.stderr


def test_publish_commits_when_index_is_a_repository_root(tmp_path: Path):
    index = git_index(tmp_path / "index")
    folder = write_package(tmp_path / "src", "solo", "1.0.0")
    result = run_cli("publish", str(folder), "--index", str(index), "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["commit"]
    assert "Publish solo 1.0.0" in git("log", "--oneline", cwd=index)
    assert git("status", "--porcelain", cwd=index) == ""


def test_publish_does_not_commit_in_a_folder_inside_a_repository(tmp_path: Path):
    repo = git_index(tmp_path / "repo")
    folder = write_package(tmp_path / "src", "solo", "1.0.0")
    result = run_cli("publish", str(folder), "--index", str(repo / "registry_index"), "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["commit"] is None
    assert git("log", "--oneline", "--all", cwd=repo) == ""


def test_publish_reports_an_invalid_manifest(tmp_path: Path):
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "fleetprompt.toml").write_text("schema_version = 1\n[package\n")
    result = run_cli("publish", str(folder), "--index", str(tmp_path / "index"))
    assert result.exit_code == ExitCode.INVALID
    assert "invalid TOML" in result.stderr and "line 2" in result.stderr
    assert "Traceback" not in result.stderr


def test_yank_marks_only_that_version(tmp_path: Path):
    index = tmp_path / "index"
    folders = [write_package(tmp_path / "src", "solo", v) for v in ("1.0.0", "1.1.0")]
    run_cli("publish", *map(str, folders), "--index", str(index))
    result = run_cli("yank", "solo", "1.1", "--index", str(index))
    assert result.exit_code == 0, result.stderr
    assert {e.version: e.yanked for e in LocalIndex(index).versions("solo")} == {
        "1.0.0": False,
        "1.1.0": True,
    }
    result = run_cli("yank", "solo", "9.9", "--index", str(index))
    assert result.exit_code == ExitCode.NOT_FOUND
