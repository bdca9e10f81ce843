"""Shared fixtures: every test runs against an isolated FLEETPROMPT_HOME."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytest_plugins = ["tests.fixtures_backends"]


@pytest.fixture(autouse=True)
def isolated_home(tmp_path_factory, monkeypatch):
    """Point FLEETPROMPT_HOME at a fresh folder and fix the terminal."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("FLEETPROMPT_HOME", str(home))
    for name in (
        "FLEETPROMPT_INDEX",
        "FLEETPROMPT_DATABASE_URL",
        "FLEETPROMPT_QUEUE_URL",
        "FLEETPROMPT_TENANT",
        "FLEETPROMPT_ACTOR",
        "FLEETPROMPT_PLATFORM_VERSION",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("FLEETPROMPT_DEBUG", "1")
    monkeypatch.setenv("COLUMNS", "80")
    # Each test starts as a new process would: no archive texts remembered.
    runner = sys.modules.get("fleetprompt_cli.actions.directive_runner")
    if runner is not None:
        runner.forget_files()
    return home


@pytest.fixture(scope="module")
def fx_index(tmp_path_factory) -> Path:
    """A published folder index of small fixture packages (tests/queue/support.py)."""
    from tests.queue.support import build_index

    root = tmp_path_factory.mktemp("fx")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FLEETPROMPT_HOME", str(root / "publisher-home"))
        return build_index(root)


@pytest.fixture
def backend(request, store_url, monkeypatch):
    """The state store (and queue) of the CLI, once per backend: SQLite, or PostgreSQL+Redis.

    Sets FLEETPROMPT_DATABASE_URL (and, on PostgreSQL, FLEETPROMPT_QUEUE_URL
    and a queue name unique to the test), so in-process and child CLIs use it.
    """
    monkeypatch.setenv("FLEETPROMPT_DATABASE_URL", store_url)
    if store_url.startswith("postgresql"):
        monkeypatch.setenv("FLEETPROMPT_QUEUE_URL", request.getfixturevalue("redis_url"))
        monkeypatch.setenv("FLEETPROMPT_QUEUE_NAME", request.getfixturevalue("redis_prefix"))
    return store_url
