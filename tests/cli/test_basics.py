"""The entry points, validate, and what the fast paths must not import."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from fleetprompt_cli import PLATFORM_VERSION, __version__
from fleetprompt_cli.errors import ExitCode
from tests.helpers import run_cli

CASES = Path(__file__).parent.parent / "core" / "manifests"


def _python(*args: str, home: Path) -> subprocess.CompletedProcess:
    # As a user runs it: without the suite's FLEETPROMPT_DEBUG.
    env = {k: v for k, v in os.environ.items() if k != "FLEETPROMPT_DEBUG"}
    env["FLEETPROMPT_HOME"] = str(home)
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, env=env, timeout=120
    )


def test_version_via_module_and_console_script(tmp_path: Path):
    result = _python("-m", "fleetprompt_cli", "--version", home=tmp_path)
    assert result.returncode == 0
    assert result.stdout.strip() == f"fleetprompt {__version__} (platform {PLATFORM_VERSION})"
    assert run_cli("--version").stdout.strip() == result.stdout.strip()


def test_fast_paths_do_not_import_the_store_or_the_queue(tmp_path: Path):
    probe = (
        "import sys, runpy; sys.argv = ['fleetprompt'] + sys.argv[1:];\n"
        "try:\n    runpy.run_module('fleetprompt_cli', run_name='__main__')\n"
        "except SystemExit:\n    pass\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('sqlmodel', 'sqlalchemy', 'huey', 'alembic', 'psycopg', 'redis'))\n"
        "print('HEAVY', heavy, file=sys.stderr)\n"
        "print('RICH', 'rich' in sys.modules, file=sys.stderr)\n"
        "print('SPECIFIERS', 'packaging.specifiers' in sys.modules, file=sys.stderr)\n"
    )
    for args in (
        ["--help"],
        ["search", "support"],
        ["show", "field-service"],
        ["featured"],
        ["resolve", "customer-support"],
    ):
        result = _python("-c", probe, *args, home=tmp_path)
        assert "HEAVY []" in result.stderr, (args, result.stderr[-500:])
        if args == ["--help"]:
            assert "RICH False" in result.stderr  # --help must not pay for rich
        if args[0] in ("--help", "search", "show", "featured"):
            # Reading the catalog needs no specifier grammar (~10 ms to compile).
            assert "SPECIFIERS False" in result.stderr, (args, result.stderr[-500:])


def test_validate_reports_problems_with_exit_code(tmp_path: Path):
    result = run_cli("validate", str(CASES / "valid"))
    assert result.exit_code == 0, result.stderr
    assert "field-service 1.0 is valid" in result.stderr
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "fleetprompt.toml").write_text((CASES / "invalid" / "unknown_skill.toml").read_text())
    result = run_cli("validate", str(bad), str(CASES / "valid"), "--json")
    assert result.exit_code == ExitCode.INVALID
    doc = json.loads(result.stdout)
    assert doc["valid"] is False
    assert [r["valid"] for r in doc["results"]] == [False, True]
    fields = {p["field"] for p in doc["results"][0]["problems"]}
    assert {"agents[0].skills[0]", "agents[0].skills[1]"} <= fields


def test_every_example_manifest_is_valid():
    folders = sorted(
        str(p.parent) for p in (Path(__file__).parents[2] / "manifests").rglob("fleetprompt.toml")
    )
    assert len(folders) >= 15
    result = run_cli("validate", *folders)
    assert result.exit_code == 0, result.stderr


def test_unknown_command_is_a_usage_error():
    result = run_cli("frobnicate")
    assert result.exit_code == ExitCode.USAGE


def test_usage_errors_exit_2_without_a_traceback(tmp_path: Path):
    for args in (["frobnicate"], ["search", "--no-such-option"], ["show"]):
        result = _python("-m", "fleetprompt_cli", *args, home=tmp_path)
        assert result.returncode == ExitCode.USAGE, (args, result.stderr)
        assert "internal error" not in result.stderr and "Traceback" not in result.stderr


def test_an_unwritable_home_is_one_clear_line(tmp_path: Path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "cache").write_text("a file where the cache folder should be")
    result = _python("-m", "fleetprompt_cli", "search", "x", home=home)
    assert result.returncode == ExitCode.FAILURE
    assert result.stderr.startswith("error: ")
    assert "internal error" not in result.stderr and "Traceback" not in result.stderr
