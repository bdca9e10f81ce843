"""Every FLEETPROMPT_* variable is read by settings, with one validation style:
a value that cannot be used is exit 8 naming the variable, never the default."""

from __future__ import annotations

import pytest

from fleetprompt_cli import settings
from fleetprompt_cli.errors import ExitCode, InvalidInput
from tests.helpers import run_cli

SECONDS = [
    ("FLEETPROMPT_LEASE_SECONDS", "lease_seconds", settings.DEFAULT_LEASE_SECONDS),
    ("FLEETPROMPT_SWEEP_SECONDS", "sweep_seconds", settings.DEFAULT_SWEEP_SECONDS),
    (
        "FLEETPROMPT_CLAIM_GRACE_SECONDS",
        "claim_grace_seconds",
        settings.DEFAULT_CLAIM_GRACE_SECONDS,
    ),
]


@pytest.mark.parametrize(("variable", "field", "default"), SECONDS)
def test_seconds_default_and_value(monkeypatch, variable, field, default):
    monkeypatch.delenv(variable, raising=False)
    assert getattr(settings.load_settings(), field) == default
    monkeypatch.setenv(variable, "0.25")
    assert getattr(settings.load_settings(), field) == 0.25
    assert getattr(settings, field)() == 0.25
    monkeypatch.setenv(variable, "0")  # a lease already expired: the tests' crash drills
    assert getattr(settings.load_settings(), field) == 0


@pytest.mark.parametrize(("variable", "field", "default"), SECONDS)
@pytest.mark.parametrize("bad", ["soon", "-1", "inf", "nan", "1e999"])
def test_seconds_bad_value_names_the_variable(monkeypatch, variable, field, default, bad):
    monkeypatch.setenv(variable, bad)
    with pytest.raises(InvalidInput, match=variable):
        getattr(settings, field)()
    with pytest.raises(InvalidInput, match=variable):
        settings.load_settings()


@pytest.mark.parametrize("variable", [name for name, _, _ in SECONDS])
def test_bad_value_exits_8_from_any_command(monkeypatch, variable):
    monkeypatch.setenv(variable, "soon")
    result = run_cli("search", "support")
    assert result.exit_code == ExitCode.INVALID
    assert variable in result.stderr and "'soon'" in result.stderr
    assert "Traceback" not in result.stderr


def test_queue_name_and_debug(monkeypatch):
    monkeypatch.delenv("FLEETPROMPT_QUEUE_NAME", raising=False)
    monkeypatch.delenv("FLEETPROMPT_DEBUG", raising=False)
    loaded = settings.load_settings()
    assert loaded.queue_name == settings.DEFAULT_QUEUE_NAME and loaded.debug is False
    monkeypatch.setenv("FLEETPROMPT_QUEUE_NAME", "team-a")
    monkeypatch.setenv("FLEETPROMPT_DEBUG", "1")
    loaded = settings.load_settings()
    assert loaded.queue_name == "team-a" and loaded.debug is True


def test_fault_hooks(monkeypatch):
    monkeypatch.delenv("FLEETPROMPT_FAULT", raising=False)
    monkeypatch.delenv("FLEETPROMPT_FAULT_CLOCK_OFFSET", raising=False)
    assert settings.fault_spec() == "" and settings.fault_clock_offset() == 0.0
    monkeypatch.setenv("FLEETPROMPT_FAULT", "step.after_apply=raise")
    monkeypatch.setenv("FLEETPROMPT_FAULT_CLOCK_OFFSET", "-90")
    assert settings.fault_spec() == "step.after_apply=raise"
    assert settings.fault_clock_offset() == -90.0
    monkeypatch.setenv("FLEETPROMPT_FAULT_CLOCK_OFFSET", "later")
    with pytest.raises(InvalidInput, match="FLEETPROMPT_FAULT_CLOCK_OFFSET"):
        settings.fault_clock_offset()


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (
            "postgresql+psycopg://app:s3cret@db:5432/fleet",
            "postgresql+psycopg://app:***@db:5432/fleet",
        ),
        ("redis://:s3cret@cache:6379/0", "redis://:***@cache:6379/0"),
        ("redis://cache:6379/0", "redis://cache:6379/0"),
        ("sqlite:////var/lib/fleetprompt/state.db", "sqlite:////var/lib/fleetprompt/state.db"),
        ("postgresql://app@db/fleet", "postgresql://app@db/fleet"),
    ],
)
def test_safe_url_hides_passwords(url, shown):
    assert settings.safe_url(url) == shown
