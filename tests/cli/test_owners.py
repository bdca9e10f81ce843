"""Owners of a package in an index: the first publisher owns it; only owners change it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fleetprompt_cli.errors import ExitCode
from tests.helpers import git, git_index, run_cli, write_package


def _tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".git" not in p.parts
    }


def _as(actor: str) -> dict[str, str]:
    return {"FLEETPROMPT_ACTOR": actor}


@pytest.fixture
def index(tmp_path: Path, monkeypatch) -> Path:
    """A git index where alice published solo 1.0.0."""
    monkeypatch.setenv("FLEETPROMPT_ACTOR", "alice")
    root = git_index(tmp_path / "index")
    folder = write_package(tmp_path / "src", "solo", "1.0.0")
    result = run_cli("publish", str(folder), "--index", str(root))
    assert result.exit_code == 0, result.stderr
    assert "alice now owns solo" in result.stderr
    return root


def test_the_first_publisher_owns_the_slug(index: Path):
    data = json.loads((index / "owners" / "solo").read_text())
    assert data == {"owners": ["alice"], "schema": 1, "slug": "solo"}
    result = run_cli("owner", "list", "solo", "--index", str(index), "--json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["kind"] == "owners" and doc["owners"] == ["alice"]
    assert run_cli("owner", "list", "solo", "--index", str(index)).stdout == "alice\n"


def test_a_non_owner_cannot_publish_yank_or_change_owners(index: Path, tmp_path: Path):
    before = _tree(index)
    head = git("rev-parse", "HEAD", cwd=index)
    folder = write_package(tmp_path / "more", "solo", "1.1.0")
    attempts = [
        ("publish", str(folder), "--index", str(index)),
        ("yank", "solo@1.0.0", "--index", str(index)),
        ("owner", "add", "solo", "mallory", "--index", str(index)),
        ("owner", "remove", "solo", "alice", "--index", str(index)),
    ]
    for args in attempts:
        result = run_cli(*args, env=_as("mallory"))
        assert result.exit_code == ExitCode.DENIED, (args, result.stderr)
        assert "mallory may not" in result.stderr and "only its owners may (alice)" in result.stderr
        assert "Traceback" not in result.stderr
        assert _tree(index) == before
    assert git("rev-parse", "HEAD", cwd=index) == head
    result = run_cli("publish", str(folder), "--index", str(index), "--json", env=_as("mallory"))
    assert json.loads(result.stdout)["error"]["kind"] == "owner"


def test_an_added_owner_may_publish_and_the_last_owner_stays(index: Path, tmp_path: Path):
    assert run_cli("owner", "add", "solo", "bob", "--index", str(index)).exit_code == 0
    assert "Add owner bob of solo" in git("log", "-1", "--format=%B", cwd=index)
    folder = write_package(tmp_path / "more", "solo", "1.1.0")
    result = run_cli("publish", str(folder), "--index", str(index), env=_as("bob"))
    assert result.exit_code == 0, result.stderr
    assert "Publisher: bob" in git("log", "-1", "--format=%B", cwd=index)
    result = run_cli("owner", "add", "solo", "bob", "--index", str(index))
    assert result.exit_code == ExitCode.EXISTS and "bob already owns solo" in result.stderr
    result = run_cli("owner", "remove", "solo", "carol", "--index", str(index))
    assert result.exit_code == ExitCode.NOT_FOUND and "carol is not an owner" in result.stderr
    # bob removes alice; then bob, the last owner, cannot remove himself.
    result = run_cli("owner", "remove", "solo", "alice", "--index", str(index), env=_as("bob"))
    assert result.exit_code == 0, result.stderr
    assert json.loads((index / "owners" / "solo").read_text())["owners"] == ["bob"]
    result = run_cli("owner", "remove", "solo", "bob", "--index", str(index), env=_as("bob"))
    assert result.exit_code == ExitCode.USAGE and "last owner of solo" in result.stderr
    result = run_cli("publish", str(folder), "--index", str(index))
    assert result.exit_code == ExitCode.EXISTS  # the version exists: checked first
    newer = write_package(tmp_path / "newer", "solo", "1.2.0")
    result = run_cli("publish", str(newer), "--index", str(index))
    assert result.exit_code == ExitCode.DENIED and "alice may not publish solo" in result.stderr


def test_unknown_packages_and_bad_identities(index: Path):
    result = run_cli("owner", "list", "nope", "--index", str(index))
    assert result.exit_code == ExitCode.NOT_FOUND and "nope is not in the index" in result.stderr
    result = run_cli("owner", "add", "solo", "bad name\x1b[31m", "--index", str(index))
    assert result.exit_code == ExitCode.INVALID
    assert "IDENTITY" in result.stderr and "\x1b" not in result.stderr
    result = run_cli("owner", "add", "Bad/Slug", "bob", "--index", str(index))
    assert result.exit_code == ExitCode.USAGE


def test_a_publisher_identity_that_is_not_one_is_refused(tmp_path: Path):
    folder = write_package(tmp_path / "src", "solo", "1.0.0")
    result = run_cli(
        "publish", str(folder), "--index", str(tmp_path / "i"), env=_as("eve\nPublisher: x")
    )
    assert result.exit_code == ExitCode.INVALID
    assert "FLEETPROMPT_ACTOR" in result.stderr
    assert not (tmp_path / "i").exists()


@pytest.mark.parametrize(
    "content",
    [
        "not json",
        '{"schema": 1, "slug": "solo", "owners": []}',
        '{"schema": 1, "slug": "other", "owners": ["mallory"]}',
        '{"schema": 1, "slug": "solo", "owners": ["ok", "bad name"]}',
        '{"schema": 2, "slug": "solo", "owners": ["alice"]}',
        '["alice"]',
    ],
)
def test_a_hostile_owners_file_refuses_every_write(index: Path, tmp_path: Path, content: str):
    (index / "owners" / "solo").write_text(content)
    before = _tree(index)
    folder = write_package(tmp_path / "more", "solo", "1.1.0")
    for args in (
        ("publish", str(folder), "--index", str(index)),
        ("yank", "solo@1.0.0", "--index", str(index)),
        ("owner", "add", "solo", "bob", "--index", str(index)),
    ):
        result = run_cli(*args)
        assert result.exit_code == ExitCode.INVALID, (args, result.stderr)
        assert "owners/solo" in result.stderr and "fix the index by hand" in result.stderr
        assert _tree(index) == before


def test_an_owners_file_symlinked_elsewhere_is_refused(index: Path, tmp_path: Path):
    outside = tmp_path / "outside.json"
    outside.write_text('{"schema": 1, "slug": "solo", "owners": ["mallory"]}')
    (index / "owners" / "solo").unlink()
    (index / "owners" / "solo").symlink_to(outside)
    result = run_cli("owner", "add", "solo", "bob", "--index", str(index), env=_as("mallory"))
    assert result.exit_code == ExitCode.INVALID and "not a regular file" in result.stderr


def test_a_slug_published_before_owners_existed_is_claimed_by_its_next_publisher(
    index: Path, tmp_path: Path
):
    (index / "owners" / "solo").unlink()
    git("commit", "--quiet", "-am", "drop owners", cwd=index)
    result = run_cli("owner", "list", "solo", "--index", str(index), "--json")
    assert json.loads(result.stdout)["owners"] == []
    folder = write_package(tmp_path / "more", "solo", "1.1.0")
    result = run_cli("publish", str(folder), "--index", str(index), env=_as("bob"))
    assert result.exit_code == 0, result.stderr
    assert json.loads((index / "owners" / "solo").read_text())["owners"] == ["bob"]
    committed = git("show", "--name-only", "--format=", "HEAD", cwd=index).split()
    assert "owners/solo" in committed
