"""fleetprompt yank SLUG@VERSION [--undo] [--reason]: the line's flag and an appended record."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fleetprompt_cli.core.index import LocalIndex
from fleetprompt_cli.errors import ExitCode
from tests.helpers import git, git_index, run_cli, write_package


@pytest.fixture
def index(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.setenv("FLEETPROMPT_ACTOR", "alice")
    root = git_index(tmp_path / "index")
    folders = [write_package(tmp_path / "src", "solo", v) for v in ("1.0.0", "1.1.0")]
    assert run_cli("publish", *map(str, folders), "--index", str(root)).exit_code == 0
    return root


def _yanked(index: Path) -> dict[str, bool]:
    return {e.version: e.yanked for e in LocalIndex(index).versions("solo")}


def test_yank_with_a_reason_and_undo(index: Path):
    result = run_cli("yank", "solo@1.1", "--reason", "breaks the CRM sync", "--index", str(index))
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "yanked solo 1.1.0\n"
    assert _yanked(index) == {"1.0.0": False, "1.1.0": True}
    record = json.loads((index / "yanks" / "solo").read_text())
    assert record["reason"] == "breaks the CRM sync" and record["yanked"] is True
    assert record["by"] == "alice" and record["version"] == "1.1.0"
    message = git("log", "-1", "--format=%B", cwd=index)
    assert message.startswith("Yank solo 1.1.0\n") and "Reason: breaks the CRM sync" in message
    result = run_cli("yank", "solo@1.1.0", "--undo", "--index", str(index), "--json")
    doc = json.loads(result.stdout)
    assert doc["yanked"] is False and doc["changed"] is True
    assert _yanked(index) == {"1.0.0": False, "1.1.0": False}
    lines = (index / "yanks" / "solo").read_text().splitlines()
    assert [json.loads(x)["yanked"] for x in lines] == [True, False]
    assert git("status", "--porcelain", cwd=index) == ""


def test_yanking_twice_changes_nothing(index: Path):
    assert run_cli("yank", "solo@1.0.0", "--index", str(index)).exit_code == 0
    head = git("rev-parse", "HEAD", cwd=index)
    result = run_cli("yank", "solo", "1.0.0", "--index", str(index))  # the old form still works
    assert result.exit_code == 0 and result.stdout == "solo 1.0.0 is already yanked\n"
    assert git("rev-parse", "HEAD", cwd=index) == head
    assert len((index / "yanks" / "solo").read_text().splitlines()) == 1


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("solo",), ExitCode.USAGE, "name a version: solo@VERSION"),
        (("solo@1.0.0", "1.0.0"), ExitCode.USAGE, "give the version once"),
        (("solo@nope",), ExitCode.USAGE, "nope"),
        (("solo@9.9",), ExitCode.NOT_FOUND, "solo 9.9 is not in the index"),
        (("other@1.0",), ExitCode.NOT_FOUND, "other 1.0 is not in the index"),
        (("solo@1.0.0", "--reason", "two\nlines"), ExitCode.USAGE, "--reason must be one line"),
        (("solo@1.0.0", "--reason", "x" * 501), ExitCode.USAGE, "--reason must be one line"),
    ],
)
def test_bad_yanks_write_nothing(index: Path, args: tuple[str, ...], code: int, message: str):
    head = git("rev-parse", "HEAD", cwd=index)
    result = run_cli("yank", *args, "--index", str(index))
    assert result.exit_code == code, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr
    assert git("rev-parse", "HEAD", cwd=index) == head
    assert not (index / "yanks").exists()
