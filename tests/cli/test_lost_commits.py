"""Commits lost to a power failure are re-run: why ``synchronous=NORMAL`` is safe.

Under WAL with ``synchronous=NORMAL`` SQLite may lose the last commits when
the machine (not the process) dies, but never half a transaction: the store
comes back as it was at an earlier commit.  The store is the queue of
record, so such a store is simply one whose directive is still open, while
the archive cache and the extracted packages on disk may already be ahead of
it.  These tests put a store back to an earlier commit (a copy taken when the
installer died there) after the work went on, and check that ``recover``
then ends exactly as a clean install.
"""

from __future__ import annotations

import json
import shutil
import signal
from pathlib import Path

import pytest

from tests.cli.test_faults import assert_clean, die_at, fx_env, reference  # noqa: F401 (fixtures)
from tests.helpers import run_cli
from tests.queue.support import snapshot


def _store_files() -> list[Path]:
    from fleetprompt_cli.settings import load_settings

    db = load_settings().data_dir / "state.db"
    return [db.with_name(db.name + suffix) for suffix in ("", "-wal", "-shm")]


def _copy(files: list[Path], to: Path) -> None:
    to.mkdir()
    for f in files:
        if f.exists():
            shutil.copy2(f, to / f.name)


def _restore(files: list[Path], saved: Path) -> None:
    for f in files:
        kept = saved / f.name
        if kept.exists():
            shutil.copy2(kept, f)
        else:
            f.unlink(missing_ok=True)


@pytest.mark.parametrize("point", ["step-started:2", "before-commit:3", "after-commit:2"])
def test_commits_lost_after_the_work_went_on_are_re_run(
    point,
    reference,  # noqa: F811 (the fixture imported above)
    isolated_home,
    tmp_path,
):
    died = die_at(point, "fx-top")
    assert died.returncode == -signal.SIGKILL, died.stderr
    files = _store_files()
    _copy(files, tmp_path / "earlier")

    # The work goes on to the end (files extracted, every step committed) ...
    assert run_cli("recover").exit_code == 0
    assert_clean(reference, isolated_home)
    # ... then the machine loses every commit made since the copy.
    _restore(files, tmp_path / "earlier")
    listed = json.loads(run_cli("recover", "--dry-run", "--json").stdout)
    assert [d["status"] for d in listed["directives"]] == ["running"]

    result = run_cli("recover")
    assert result.exit_code == 0, result.stderr
    assert_clean(reference, isolated_home)
    assert json.loads(run_cli("recover", "--json").stdout)["directives"] == []
    assert snapshot() == reference["full"]


def test_the_last_step_commits_the_directive_with_it(reference, isolated_home):  # noqa: F811
    # The last step's transaction also ends the directive: killed right after
    # it, nothing is left open and the tenant is exactly a clean install.
    died = die_at("after-commit:3", "fx-top")
    assert died.returncode == -signal.SIGKILL, died.stderr
    listed = json.loads(run_cli("recover", "--dry-run", "--json").stdout)
    assert listed["directives"] == []
    assert_clean(reference, isolated_home)
