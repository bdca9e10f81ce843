"""An index is untrusted input: crafted lines, files and archive paths.

Each test builds a small folder index with ``publish``, then edits it as
someone with write access to the index's repository could.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fleetprompt_cli.errors import ExitCode
from tests.helpers import publish_all, run_cli, write_package

PASSWD = Path("/etc/passwd")


@pytest.fixture
def index(tmp_path: Path, monkeypatch) -> Path:
    src, root = tmp_path / "src", tmp_path / "index"
    publish_all(
        root,
        write_package(src, "alpha", "1.0.0", skills=["a"]),
        write_package(src, "beta", "1.0.0", skills=["b"], package={"keywords": ["widgets"]}),
    )
    monkeypatch.setenv("FLEETPROMPT_INDEX", str(root))
    return root


def package_file(index: Path, slug: str) -> Path:
    return index / "packages" / slug[:2] / slug[2:4] / slug


def first_line(index: Path, slug: str) -> dict:
    return json.loads(package_file(index, slug).read_text().splitlines()[0])


def append_line(index: Path, slug: str, **changes) -> dict:
    line = {**first_line(index, slug), **changes}
    with package_file(index, slug).open("a") as stream:
        stream.write(json.dumps(line) + "\n")
    return line


def set_line(index: Path, slug: str, **changes) -> dict:
    line = {**first_line(index, slug), **changes}
    package_file(index, slug).write_text(json.dumps(line) + "\n")
    return line


def json_of(*args: str, code: int = 0) -> dict:
    result = run_cli(*args, "--json")
    assert result.exit_code == code, (result.stdout, result.stderr)
    return json.loads(result.stdout)


# --- item 2: duplicates and stray files -----------------------------------------


def test_a_duplicate_version_line_is_reported_and_the_first_wins(index: Path):
    original = first_line(index, "alpha")
    append_line(index, "alpha", version="1.0", sha256="f" * 64, archive="archives/evil.tar.gz")
    doc = json_of("show", "alpha")["package"]
    assert doc["sha256"] == original["sha256"]
    assert doc["archive"] == original["archive"]
    assert [v["version"] for v in doc["versions"]] == ["1.0.0"]
    warnings = json_of("search", "")["warnings"]
    assert any(
        "packages/al/ph/alpha:2" in w and "duplicate of alpha 1.0" in w and "line 1" in w
        for w in warnings
    ), warnings
    plan = json_of("resolve", "alpha")
    assert plan["plan"][0]["version"] == "1.0.0"


def test_a_duplicate_of_a_malformed_line_does_not_take_its_place(index: Path):
    set_line(index, "alpha", pricing="free")
    append_line(index, "alpha", version="1.0", pricing={"model": "free"})
    result = run_cli("show", "alpha")
    assert result.exit_code == ExitCode.NOT_FOUND
    warnings = json_of("search", "")["warnings"]
    assert any(
        "alpha:1" in w and "pricing: Input should be a valid dictionary" in w for w in warnings
    )
    assert any("alpha:2" in w and "duplicate" in w for w in warnings), warnings


def test_a_file_outside_the_layout_is_ignored(index: Path):
    stray = index / "packages" / "zz" / "zz" / "alpha"
    stray.parent.mkdir(parents=True)
    stray.write_text(json.dumps({**first_line(index, "alpha"), "version": "9.0.0"}) + "\n")
    doc = json_of("show", "alpha")["package"]
    assert [v["version"] for v in doc["versions"]] == ["1.0.0"]
    warnings = json_of("search", "")["warnings"]
    assert any("packages/zz/zz/alpha" in w and "packages/al/ph/alpha" in w for w in warnings)
    stray.unlink()
    assert not json_of("search", "")["warnings"]


# --- item 3: archive paths ------------------------------------------------------


@pytest.mark.parametrize(
    "archive", ["../../../../../../../../etc/passwd", "/etc/passwd", "file:///etc/passwd"]
)
def test_an_archive_outside_the_index_is_never_read(index: Path, isolated_home: Path, archive):
    passwd_sha = hashlib.sha256(PASSWD.read_bytes()).hexdigest()
    # Even with the right sha256, the file must not be copied into the cache.
    append_line(index, "alpha", version="2.0.0", archive=archive, sha256=passwd_sha)
    result = run_cli("install", "alpha==2.0.0", "--yes")
    assert result.exit_code == ExitCode.CONFLICT, result.stderr
    assert "packages/al/ph/alpha:2" in result.stderr and "archive" in result.stderr
    assert not list((isolated_home / "cache").rglob(f"{passwd_sha}*"))
    # A wrong sha256 does not reveal the local file's hash either.
    set_line(index, "alpha", archive=archive, sha256="0" * 64)
    result = run_cli("install", "alpha", "--yes")
    assert result.exit_code != 0
    assert passwd_sha not in result.stdout + result.stderr


def test_a_symlink_out_of_the_index_is_refused(index: Path, tmp_path: Path, isolated_home: Path):
    secret = tmp_path / "secret.txt"
    secret.write_text("not an archive\n")
    link = index / "archives" / "alpha" / "evil.tar.gz"
    link.symlink_to(secret)
    secret_sha = hashlib.sha256(secret.read_bytes()).hexdigest()
    set_line(index, "alpha", archive="archives/alpha/evil.tar.gz", sha256=secret_sha)
    result = run_cli("install", "alpha", "--yes")
    assert result.exit_code == ExitCode.INTEGRITY, result.stderr
    assert "packages/al/ph/alpha:1" in result.stderr
    assert "outside the index" in result.stderr
    assert not list((isolated_home / "cache").rglob(f"{secret_sha}*"))


def test_a_fifo_archive_is_refused_without_hanging(index: Path, isolated_home: Path):
    fifo = index / "archives" / "alpha" / "fifo.tar.gz"
    os.mkfifo(fifo)
    set_line(index, "alpha", archive="archives/alpha/fifo.tar.gz")
    env = {k: v for k, v in os.environ.items() if k != "FLEETPROMPT_DEBUG"}
    result = subprocess.run(
        [sys.executable, "-m", "fleetprompt_cli", "install", "alpha", "--yes"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == ExitCode.INTEGRITY, result.stderr
    assert "fifo" in result.stderr and "regular file" in result.stderr
    status = run_cli("list", "--json")
    assert "installing" not in status.stdout


def test_an_archive_larger_than_declared_is_not_read_past_it(index: Path):
    line = first_line(index, "alpha")
    archive = index / line["archive"]
    archive.write_bytes(archive.read_bytes() + bytes(1024 * 1024))
    result = run_cli("install", "alpha", "--yes")
    assert result.exit_code == ExitCode.INTEGRITY, result.stderr
    assert f"larger than the {line['size']} bytes the index declares" in result.stderr
    assert "packages/al/ph/alpha:1" in result.stderr


# --- item 7: the tier gate fails closed -----------------------------------------


@pytest.mark.parametrize("tier", ["platinum", "PRO", "Enterprise ", "", None])
def test_an_unknown_min_tier_denies(index: Path, tier):
    set_line(index, "alpha", min_tier=tier)
    result = run_cli("install", "alpha", "--yes")
    assert result.exit_code == ExitCode.DENIED, result.stderr
    assert "unknown tier" in result.stderr
    hits = json_of("search", "", "--tier", "enterprise")["packages"]
    assert "alpha" not in [p["slug"] for p in hits]


# --- item 8: a malformed line is skipped, the rest works ------------------------


@pytest.mark.parametrize(
    "changes",
    [
        {"pricing": "free"},
        {"includes": [1]},
        {"includes": {"skills": [1]}},
        {"keywords": [1]},
        {"description": None},
        {"deps": []},
        {"manifest": {"agents": [1]}},
        {"manifest": {"config": {"k": 1}}},
        {"manifest": {"agents": [{"name": "A", "prompt_file": 5}]}},
        {"yanked": "false"},
        {"size": "12"},
        {"pricing": {"model": "paid", "price": float("nan")}},
    ],
    ids=lambda c: json.dumps(c),
)
def test_a_malformed_line_is_reported_and_skipped(index: Path, changes):
    set_line(index, "alpha", **changes)
    key = next(iter(changes))
    doc = json_of("search", "")
    assert [p["slug"] for p in doc["packages"]] == ["beta"]
    assert any("packages/al/ph/alpha:1" in w and key in w for w in doc["warnings"]), doc
    assert json_of("search", "widgets")["packages"][0]["slug"] == "beta"
    result = run_cli("install", "alpha", "--yes")
    assert result.exit_code == ExitCode.NOT_FOUND, result.stderr
    assert "packages/al/ph/alpha:1" in result.stderr
    assert json_of("show", "beta")["package"]["slug"] == "beta"


def test_yanked_must_be_a_json_boolean(index: Path):
    append_line(index, "alpha", version="2.0.0", yanked="false")
    doc = json_of("show", "alpha")["package"]
    assert doc["versions"] == [
        {"version": "1.0.0", "yanked": False, "published_at": doc["versions"][0]["published_at"]}
    ]


def test_a_malformed_flags_file_is_reported_and_ignored(index: Path):
    (index / "flags.json").write_text("{not json")
    doc = json_of("search", "")
    assert [p["slug"] for p in doc["packages"]] == ["alpha", "beta"]
    assert any("flags.json" in w and "ignored" in w for w in doc["warnings"])
    (index / "flags.json").write_text(json.dumps({"packages": {"alpha": {"verified": "yes"}}}))
    doc = json_of("search", "")
    assert not doc["packages"][0]["verified"]
    assert any("flags.json" in w for w in doc["warnings"])


def test_an_oversized_line_is_skipped_quickly(index: Path):
    append_line(index, "alpha", version="2.0.0", description="x" * (2 * 1024 * 1024))
    append_line(index, "alpha", version="3.0.0", description="y" * 600)
    doc = json_of("show", "alpha")["package"]
    assert [v["version"] for v in doc["versions"]] == ["1.0.0"]
    warnings = json_of("search", "")["warnings"]
    assert any("alpha:2" in w and "limit" in w for w in warnings), warnings
    assert any("alpha:3" in w and "description" in w for w in warnings), warnings


def test_an_invalid_dependency_specifier_is_named(index: Path):
    set_line(index, "beta", deps={"alpha": "not a specifier"})
    result = run_cli("resolve", "beta")
    assert result.exit_code == ExitCode.CONFLICT
    assert "invalid dependency alpha specifier 'not a specifier'" in result.stderr
    assert "packages/be/ta/beta:1" in result.stderr


def test_reading_an_unchanged_catalog_does_not_import_pydantic(index: Path, tmp_path: Path):
    # Lines are validated with pydantic as files are (re)read, not on every search.
    probe = (
        "import sys, runpy; sys.argv = ['fleetprompt', 'search', 'alpha']\n"
        "try:\n    runpy.run_module('fleetprompt_cli', run_name='__main__')\n"
        "except SystemExit:\n    pass\n"
        "print('PYDANTIC', 'pydantic' in sys.modules, file=sys.stderr)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "FLEETPROMPT_DEBUG"}
    runs = [
        subprocess.run(
            [sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=120
        )
        for _ in range(2)
    ]
    assert "PYDANTIC True" in runs[0].stderr and "PYDANTIC False" in runs[1].stderr
