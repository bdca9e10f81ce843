"""publish and validate against hostile indexes and manifests."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from fleetprompt_cli.errors import ExitCode
from tests.helpers import git, git_index, publish_all, run_cli, write_package

CASES = Path(__file__).parent.parent / "core" / "manifests"


def tree(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` (not .git) with its bytes."""
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(root).parts
    }


# --- item 1: config.json's archive template --------------------------------------


@pytest.mark.parametrize(
    "template",
    [
        "../victim-{slug}-{version}.tar.gz",
        "ABS/abs-victim/{slug}-{version}.tar.gz",
        "archives/{slug.__class__.__mro__}/{version}.tar.gz",
        "archives/{nope}/{slug}-{version}.tar.gz",
        "archives/{slug}-{version}",
        "archives/{slug}.tar.gz",
        "packages/{slug}/{slug}-{version}.tar.gz",
        "config.json{slug}{version}.tar.gz/../../config.json",
        "archives/{slug}-{version!r}.tar.gz",
        "archives/{slug:>9}-{version}.tar.gz",
        ".git/{slug}-{version}.tar.gz",
        "archives/{slug}-{version}.tar.gz}",
        5,
    ],
)
def test_a_hostile_archive_template_writes_nothing(tmp_path: Path, template):
    index = tmp_path / "index"
    index.mkdir()
    if isinstance(template, str):
        template = template.replace("ABS", str(tmp_path))
    (index / "config.json").write_text(json.dumps({"schema": 1, "archives": template}))
    victim = tmp_path / "victim-x-1.0.0.tar.gz"
    folder = write_package(tmp_path / "src", "x", "1.0.0")
    before = tree(index)
    result = run_cli("publish", str(folder), "--index", str(index), "--json")
    assert result.exit_code == ExitCode.INVALID, result.stderr
    doc = json.loads(result.stdout)
    assert "config.json" in doc["error"]["message"] and "archives" in doc["error"]["message"]
    assert tree(index) == before
    assert not victim.exists() and not (tmp_path / "abs-victim").exists()


def test_an_archive_folder_symlinked_out_of_the_index_is_refused(tmp_path: Path):
    index = tmp_path / "index"
    publish_all(index, write_package(tmp_path / "src", "x", "1.0.0"))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shutil.rmtree(index / "archives")
    (index / "archives").symlink_to(elsewhere)
    before = tree(index)
    result = run_cli(
        "publish", str(write_package(tmp_path / "src", "x", "2.0.0")), "--index", str(index)
    )
    assert result.exit_code == ExitCode.INVALID, result.stderr
    assert "outside the index" in result.stderr
    assert list(elsewhere.iterdir()) == [] and tree(index) == before


def test_archives_may_live_at_the_top_of_the_index(tmp_path: Path):
    index = tmp_path / "index"
    index.mkdir()
    (index / "config.json").write_text(json.dumps({"archives": "{slug}-{version}.tar.gz"}))
    publish_all(index, write_package(tmp_path / "src", "x", "1.0.0"))
    assert (index / "x-1.0.0.tar.gz").is_file()
    (index / "x-2.0.0.tar.gz").symlink_to(index / "config.json")
    result = run_cli(
        "publish", str(write_package(tmp_path / "src", "x", "2.0.0")), "--index", str(index)
    )
    assert result.exit_code == ExitCode.INVALID, result.stderr
    assert json.loads((index / "config.json").read_text())["archives"]


def test_an_archive_symlinked_onto_the_package_file_is_not_written_through(tmp_path: Path):
    index = tmp_path / "index"
    publish_all(index, write_package(tmp_path / "src", "x", "1.0.0"))
    package_file = index / "packages" / "1" / "x"
    (index / "archives" / "x" / "x-2.0.0.tar.gz").symlink_to(package_file)
    result = run_cli(
        "publish", str(write_package(tmp_path / "src", "x", "2.0.0")), "--index", str(index)
    )
    assert result.exit_code == ExitCode.INVALID, result.stderr
    assert len(package_file.read_text().splitlines()) == 1


# --- item 5: publish into a git index stages only what it wrote -------------------


def test_publish_commits_only_the_paths_it_wrote(tmp_path: Path):
    index = git_index(tmp_path / "index")
    (index / ".env.local").write_text("SECRET=hunter2\n")
    (index / "notes.txt").write_text("staged by the user\n")
    git("add", "notes.txt", cwd=index)
    publish_all(index, write_package(tmp_path / "src", "x", "1.0.0"))
    committed = git("show", "--name-only", "--format=", "HEAD", cwd=index).split()
    assert sorted(committed) == [
        "archives/x/x-1.0.0.tar.gz",
        "config.json",
        "owners/x",
        "packages/1/x",
    ]
    status = git("status", "--porcelain", cwd=index)
    assert "?? .env.local" in status and "A  notes.txt" in status
    run_cli("yank", "x", "1.0.0", "--index", str(index))
    # The version line and the yank's record (yanks/<slug>).
    assert sorted(git("show", "--name-only", "--format=", "HEAD", cwd=index).split()) == [
        "packages/1/x",
        "yanks/x",
    ]


# --- item 15: a batch is atomic; validate reports what publish refuses ------------


def test_a_batch_that_fails_while_archiving_writes_nothing(tmp_path: Path):
    index = tmp_path / "index"
    publish_all(index, write_package(tmp_path / "src", "base", "1.0.0"))
    good = write_package(tmp_path / "src", "aaa", "1.0.0")
    bad = write_package(tmp_path / "src", "zzz", "1.0.0")
    (bad / "prompts" / "link.md").symlink_to(
        tmp_path / "src" / "aaa" / "1.0.0" / "fleetprompt.toml"
    )
    before = tree(index)
    result = run_cli("publish", str(good), str(bad), "--index", str(index))
    assert result.exit_code == ExitCode.INVALID, result.stderr
    assert "symbolic link" in result.stderr
    assert tree(index) == before
    assert not (index / "archives" / "aaa").exists() or not list(
        (index / "archives" / "aaa").iterdir()
    )


def test_validate_reports_what_publish_refuses(tmp_path: Path):
    folder = write_package(tmp_path / "src", "x", "1.0.0")
    (folder / "prompts" / "link.md").symlink_to(folder / "fleetprompt.toml")
    os.mkfifo(folder / "pipe")
    long = write_package(tmp_path / "src", "a" * 65, "1.0.0")
    result = run_cli("validate", str(folder), str(long), "--json")
    assert result.exit_code == ExitCode.INVALID, result.stderr
    doc = json.loads(result.stdout)
    first, second = doc["results"]
    assert any(
        p["field"] == "(files)" and ("symbolic link" in p["message"] or "fifo" in p["message"])
        for p in first["problems"]
    ), first
    assert any(p["field"] == "package.slug" and "64" in p["message"] for p in second["problems"])


# --- items 11 and 16: validate never crashes; manifest strictness ----------------


def _manifest(tmp_path: Path, text: str, name: str = "pkg") -> Path:
    package = tmp_path / name
    shutil.copytree(CASES / "valid", package)
    (package / "fleetprompt.toml").write_text(text)
    return package


def test_validate_survives_hostile_manifests(tmp_path: Path):
    valid = (CASES / "valid" / "fleetprompt.toml").read_text()
    nested = _manifest(
        tmp_path,
        valid + '\n[config.deep]\ntype = "list"\ndefault = ' + "[" * 2000 + "]" * 2000 + "\n",
        "nested",
    )
    rename = _manifest(
        tmp_path, valid + '\n[[migrations]]\nfrom = "<1"\nrename = { old = ["k"] }\n', "rename"
    )
    nul = _manifest(
        tmp_path,
        valid + '\n[[tools]]\nname = "nul"\nentrypoint = "tools/a\\u0000b.py"\n',
        "nul",
    )
    result = run_cli("validate", str(nested), str(rename), str(nul), "--json")
    assert result.exit_code == ExitCode.INVALID, result.stderr
    doc = json.loads(result.stdout)
    assert [r["valid"] for r in doc["results"]] == [False, False, False]
    messages = [" ".join(p["message"] for p in r["problems"]) for r in doc["results"]]
    assert "nested too deeply" in messages[0]
    assert "valid string" in messages[1]
    assert "NUL" in messages[2]


def test_a_byte_order_mark_is_accepted(tmp_path: Path):
    valid = (CASES / "valid" / "fleetprompt.toml").read_text()
    package = _manifest(tmp_path, "")
    (package / "fleetprompt.toml").write_bytes(b"\xef\xbb\xbf" + valid.encode())
    result = run_cli("validate", str(package))
    assert result.exit_code == 0, result.stderr


def test_a_local_version_cannot_be_published(tmp_path: Path):
    index = tmp_path / "index"
    folder = write_package(tmp_path / "src", "x", "1.0.0+local")
    result = run_cli("publish", str(folder), "--index", str(index))
    assert result.exit_code == ExitCode.INVALID
    assert "local version" in result.stderr
    assert not (index / "packages").exists()


def test_nan_and_infinity_are_refused_at_publish(tmp_path: Path):
    index = tmp_path / "index"
    folder = write_package(
        tmp_path / "src",
        "x",
        "1.0.0",
        package={"pricing": {"model": "paid", "price": float("inf")}},
        config={"ratio": {"type": "number", "default": float("nan")}},
    )
    result = run_cli("publish", str(folder), "--index", str(index), "--json")
    assert result.exit_code == ExitCode.INVALID

    def bare(constant: str) -> None:
        raise AssertionError(f"bare {constant} in --json output")

    doc = json.loads(result.stdout, parse_constant=bare)
    fields = {p["field"] for p in doc["error"]["problems"]}
    assert {"package.pricing.price", "config.ratio"} <= fields
