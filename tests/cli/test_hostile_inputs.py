"""Hostile command lines and files: closed stdin, huge integers, corrupt stores,
deep nesting, huge queries; and --json always printing one document."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from fleetprompt_cli.errors import ExitCode
from tests.helpers import run_cli

HUGE = "99999999999999999999999"


def _sh(command: str, home: Path, **env: str) -> subprocess.CompletedProcess:
    """Run ``fleetprompt`` through the shell, as a user would (no FLEETPROMPT_DEBUG)."""
    environ = {k: v for k, v in os.environ.items() if k != "FLEETPROMPT_DEBUG"}
    environ.update(FLEETPROMPT_HOME=str(home), **env)
    fleetprompt = f"{shlex.quote(sys.executable)} -m fleetprompt_cli"
    return subprocess.run(
        ["sh", "-c", command.replace("fleetprompt", fleetprompt, 1)],
        capture_output=True,
        text=True,
        env=environ,
        timeout=120,
    )


def _clean(result: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr, result.stderr


# -- item 10: closed stdin ----------------------------------------------------


def test_closed_stdin_does_not_crash(fx_index, tmp_path: Path):
    home, index = tmp_path / "home", str(fx_index)
    for command, code in (
        ("fleetprompt install fx-base --dry-run <&-", 0),
        ("fleetprompt install fx-base==1.0.0 --yes <&-", 0),
        ("fleetprompt upgrade --yes <&-", 0),
        ("fleetprompt install fx-mid --json <&-", 0),
        ("fleetprompt uninstall fx-mid --yes <&-", 0),
        ("fleetprompt uninstall fx-base --dry-run --json <&-", 0),
    ):
        result = _sh(command, home, FLEETPROMPT_INDEX=index)
        _clean(result)
        assert result.returncode == code, (command, result.stderr)
        if "--json" in command:
            json.loads(result.stdout)


# -- item 12: integers past 64 bits, corrupt stores, deep nesting -------------


@pytest.mark.parametrize(
    "args",
    [
        ("reviews", "helpful", HUGE),
        ("signals", "--after", HUGE),
        ("search", "--limit", HUGE),
        ("history", "--limit", HUGE),
        ("directives", "list", "--limit", HUGE),
        ("reviews", "list", "customer-support", "--limit", HUGE),
        ("signals", "--limit", HUGE),
    ],
)
def test_integers_past_64_bits_are_usage_errors(args):
    result = run_cli(*args)
    assert result.exit_code == ExitCode.USAGE, (args, result.output)
    assert "64" in result.stderr or "range" in result.stderr, result.stderr


@pytest.mark.parametrize(
    ("name", "command"),
    [
        ("state.db", "fleetprompt list"),
        ("state.db", "fleetprompt show customer-support"),
        ("state.db", "fleetprompt install customer-support --yes"),
        ("queue.db", "fleetprompt worker --once"),
    ],
)
def test_a_random_bytes_database_names_the_file(tmp_path: Path, name: str, command: str):
    home = tmp_path / "home"
    home.mkdir()
    (home / name).write_bytes(b"\x00not a database\xff" * 256)
    result = _sh(command, home)
    _clean(result)
    assert result.returncode == ExitCode.UNAVAILABLE, result.stderr
    assert str(home / name) in result.stderr


def test_a_random_bytes_queue_is_named_when_install_queues(tmp_path: Path):
    # The directive is committed to the store; the queue only wakes workers up.
    home = tmp_path / "home"
    home.mkdir()
    (home / "queue.db").write_bytes(b"\x00not a database\xff" * 256)
    result = _sh("fleetprompt install customer-support --yes --no-wait", home)
    _clean(result)
    assert result.returncode == 0, result.stderr
    assert (
        f"could not notify the installer queue: cannot use the installer queue {home / 'queue.db'}"
        in result.stderr
    )


def test_deeply_nested_config_is_one_clear_error():
    deep = "channels=" + "[" * 50_000
    result = run_cli("install", "customer-support", "--dry-run", "-c", deep)
    assert result.exit_code in (ExitCode.USAGE, ExitCode.INVALID), result.output
    assert "nest" in result.stderr, result.stderr


# -- item 13: unbounded resources --------------------------------------------


def test_worker_count_is_capped():
    for count in (HUGE, "65", "0"):
        result = run_cli("worker", "--once", "--workers", count)
        assert result.exit_code == ExitCode.USAGE, (count, result.output)
        assert "--workers" in result.stderr


def test_a_huge_search_query_answers_fast():
    import time

    # Matching words: the old code ran 25 s on this, 50,000 FTS terms.
    words = " ".join(["support", "ticket"] * 25_000)
    started = time.monotonic()
    result = run_cli("search", words, "--json")
    assert time.monotonic() - started < 10
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["packages"][0]["slug"] == "customer-support"
    assert any("query was cut" in w for w in doc["warnings"]), doc["warnings"]
    result = run_cli("search", words)
    assert len(result.stderr) < 1000  # no 350 KB echo of the query


# -- item 14: --json is always one JSON document -----------------------------


@pytest.mark.parametrize(
    "args",
    [
        ("search", "--limit", "abc", "--json"),
        ("show", "--json"),
        ("install", "--json", "--no-such-option", "x"),
        ("reviews", "add", "customer-support", "-r", "9", "--json"),
        ("worker", "--once", "--workers", "0", "--json"),
    ],
)
def test_usage_errors_under_json_print_one_document(args):
    result = run_cli(*args)
    assert result.exit_code == ExitCode.USAGE, result.output
    doc = json.loads(result.stdout)
    assert doc["kind"] == "error" and doc["error"]["kind"] == "usage", doc
    assert doc["error"]["message"]


def test_internal_errors_under_json_print_one_document(monkeypatch):
    # A command with a bug, under the real top-level group, run as a user runs it.
    import typer
    from typer.testing import CliRunner

    from fleetprompt_cli.cli.context import FleetPromptGroup

    app = typer.Typer(cls=FleetPromptGroup, add_completion=False)

    @app.command()
    def broken(json_output: bool = typer.Option(False, "--json")) -> None:
        raise RuntimeError("a bug \x1b[2J")

    @app.command()
    def other() -> None:
        pass

    monkeypatch.delenv("FLEETPROMPT_DEBUG")
    result = CliRunner().invoke(app, ["broken", "--json"])
    assert result.exit_code == ExitCode.FAILURE
    doc = json.loads(result.stdout)
    assert doc["error"] == {"kind": "internal", "message": "RuntimeError: a bug \x1b[2J"}
    assert "internal error: RuntimeError: a bug \\x1b[2J" in result.stderr


def test_upgrade_json_on_an_empty_tenant_prints_a_document(tmp_path: Path):
    result = run_cli("upgrade", "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["status"] == "nothing_to_do" and doc["plan"] == [], doc


def test_json_never_holds_bare_nan():
    from fleetprompt_cli.cli.context import json_document

    text = json_document({"a": float("nan"), "b": [float("inf"), 1.5]})
    assert "NaN" not in text and "Infinity" not in text
    assert json.loads(text) == {"a": None, "b": [None, 1.5]}
