"""Shared fixtures: every test runs against an isolated FLEETPROMPT_HOME."""

from __future__ import annotations

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
    return home
