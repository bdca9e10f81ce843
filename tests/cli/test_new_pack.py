"""fleetprompt new (a package that validates as created) and pack (reproducible archives)."""

from __future__ import annotations

import hashlib
import json
import tomllib
from pathlib import Path

import pytest

from fleetprompt_cli.core.manifest import load_manifest
from fleetprompt_cli.errors import ExitCode
from tests.helpers import run_cli, write_package


@pytest.fixture
def cwd(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FLEETPROMPT_ACTOR", "alice")
    return tmp_path


def test_new_creates_a_package_that_validates_and_publishes(cwd: Path):
    result = run_cli("new", "field-helper", "--category", "data", "--json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    folder = cwd / "field-helper"
    assert doc["kind"] == "new" and doc["folder"] == str(folder)
    assert sorted(doc["files"]) == ["README.md", "fleetprompt.toml", "prompts/assistant.md"]
    text = (folder / "fleetprompt.toml").read_text()
    assert text.startswith("# fleetprompt.toml") and all(len(x) <= 80 for x in text.splitlines())
    data = tomllib.loads(text)
    assert data["package"]["category"] == "data" and data["package"]["author"] == "alice"
    manifest, _ = load_manifest(folder)  # the real validator
    assert manifest.slug == "field-helper" and str(manifest.version) == "0.1.0"
    assert [a.name for a in manifest.agents] == ["Assistant"]
    assert run_cli("validate", str(folder)).exit_code == 0
    result = run_cli("publish", str(folder), "--index", str(cwd / "index"))
    assert result.exit_code == 0, result.stderr


def test_new_into_a_given_empty_folder(cwd: Path):
    (cwd / "pkgs" / "mine").mkdir(parents=True)
    result = run_cli("new", "Mine_Pkg", "--path", "pkgs/mine")
    assert result.exit_code == 0, result.stderr
    assert "created mine-pkg 0.1.0" in result.stdout
    assert tomllib.loads((cwd / "pkgs/mine/fleetprompt.toml").read_text())["package"] == {
        **tomllib.loads((cwd / "pkgs/mine/fleetprompt.toml").read_text())["package"],
        "slug": "mine-pkg",
        "category": "operations",
    }


def test_new_refuses_a_folder_that_is_not_empty(cwd: Path):
    (cwd / "taken").mkdir()
    (cwd / "taken" / "notes.txt").write_text("mine\n")
    result = run_cli("new", "taken")
    assert result.exit_code == ExitCode.EXISTS
    assert "is not empty" in result.stderr
    assert [p.name for p in (cwd / "taken").iterdir()] == ["notes.txt"]
    (cwd / "file").write_text("x")
    result = run_cli("new", "other", "--path", "file")
    assert result.exit_code == ExitCode.EXISTS and "is not a folder" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("new", "bad-"), "invalid package name"),
        (("new", "bad slug"), "invalid package name"),
        (("new", "x" * 65), "at most 64 characters"),
        (("new", "ok", "--category", "crypto"), "unknown category 'crypto'"),
        (("new", "ok", "--category", "Data"), "unknown category 'Data'"),
    ],
)
def test_new_refuses_bad_names_and_categories(cwd: Path, args: tuple[str, ...], message: str):
    result = run_cli(*args)
    assert result.exit_code == ExitCode.USAGE, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr
    assert list(cwd.iterdir()) == []


def test_pack_is_reproducible_and_matches_publish(cwd: Path):
    folder = write_package(cwd / "src", "solo", "1.0.0", skills=["s"])
    first = run_cli("pack", str(folder), "--out", "a", "--json")
    assert first.exit_code == 0, first.stderr
    one = json.loads(first.stdout)
    (folder / "prompts").touch()  # a new mtime changes nothing
    two = json.loads(run_cli("pack", str(folder), "--out", "b", "--json").stdout)
    path = Path(one["path"])
    assert path == cwd / "a" / "solo-1.0.0.tar.gz"
    assert path.read_bytes() == Path(two["path"]).read_bytes()
    assert one["sha256"] == two["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    published = run_cli("publish", str(folder), "--index", str(cwd / "index"), "--json")
    assert json.loads(published.stdout)["published"][0]["sha256"] == one["sha256"]
    plain = run_cli("pack", str(folder), "--out", "c")
    assert plain.stdout.splitlines() == [
        str(cwd / "c" / "solo-1.0.0.tar.gz"),
        f"sha256:{one['sha256']}",
    ]


def test_pack_defaults_to_dist_beside_the_package_and_refuses_an_out_inside_it(cwd: Path):
    folder = write_package(cwd / "src", "solo", "1.0.0")
    result = run_cli("pack", str(folder), "--json")
    assert json.loads(result.stdout)["path"] == str(folder.parent / "dist" / "solo-1.0.0.tar.gz")
    result = run_cli("pack", str(folder), "--out", str(folder / "dist"))
    assert result.exit_code == ExitCode.USAGE and "inside the package folder" in result.stderr
    assert not (folder / "dist").exists()


def test_pack_refuses_an_invalid_manifest(cwd: Path):
    folder = cwd / "broken"
    folder.mkdir()
    (folder / "fleetprompt.toml").write_text("schema_version = 1\n[package]\nslug = 'x'\n")
    result = run_cli("pack", str(folder), "--out", "out")
    assert result.exit_code == ExitCode.INVALID and "package.version" in result.stderr
    assert not (cwd / "out").exists()
