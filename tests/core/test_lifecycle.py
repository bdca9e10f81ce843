"""The installation state machine: every allowed transition and a sample of refusals."""

from __future__ import annotations

import pytest

from fleetprompt_cli.core import lifecycle
from fleetprompt_cli.core.lifecycle import allowed, is_live, transition
from fleetprompt_cli.errors import ExitCode, StateError

# (from, transition, to) for every edge of the table in docs/state-machine.md.
ALLOWED = [
    ("queued", "start_install", "installing"),
    ("installing", "complete_install", "active"),
    ("installing", "fail_install", "failed"),
    ("queued", "cancel", "cancelled"),
    ("active", "pause", "paused"),
    ("paused", "resume", "active"),
    ("active", "start_upgrade", "upgrading"),
    ("paused", "start_upgrade", "upgrading"),
    ("upgrading", "complete_upgrade", "active"),
    ("failed", "retry", "queued"),
    ("active", "start_uninstall", "uninstalling"),
    ("paused", "start_uninstall", "uninstalling"),
    ("failed", "start_uninstall", "uninstalling"),
    ("uninstalling", "complete_uninstall", "uninstalled"),
]


@pytest.mark.parametrize(("status", "name", "target"), ALLOWED)
def test_allowed_transition(status, name, target):
    assert transition(status, name) == target
    assert name in allowed(status)


@pytest.mark.parametrize("previous", ["active", "paused"])
def test_fail_upgrade_returns_to_the_status_before_the_upgrade(previous):
    assert transition("upgrading", "fail_upgrade", previous=previous) == previous


@pytest.mark.parametrize("previous", ["active", "paused", "failed"])
def test_fail_uninstall_returns_to_the_status_before_the_uninstall(previous):
    # The package's content is still installed: it goes back to what it was.
    assert transition("uninstalling", "fail_uninstall", previous=previous) == previous


@pytest.mark.parametrize("previous", [None, "queued", "upgrading"])
def test_fail_upgrade_without_a_valid_previous_status_is_a_bug(previous):
    with pytest.raises(ValueError, match="status before the upgrade"):
        transition("upgrading", "fail_upgrade", previous=previous)


def test_allowed_lists_exactly_the_table():
    edges = {(s, n) for s, n, _ in ALLOWED} | {
        ("upgrading", "fail_upgrade"),
        ("uninstalling", "fail_uninstall"),
    }
    listed = {(s, n) for s in lifecycle.STATUSES for n in allowed(s)}
    assert listed == edges
    assert allowed("uninstalled") == []
    assert allowed("cancelled") == []
    assert allowed("upgrading") == ["complete_upgrade", "fail_upgrade"]


DISALLOWED = [
    ("queued", "pause"),
    ("installing", "pause"),
    ("paused", "pause"),
    ("active", "resume"),
    ("active", "start_install"),
    ("queued", "complete_install"),
    ("installing", "cancel"),
    ("active", "retry"),
    ("queued", "start_uninstall"),
    ("installing", "start_uninstall"),
    ("upgrading", "start_uninstall"),
    ("uninstalled", "start_install"),
    ("cancelled", "retry"),
    ("failed", "start_upgrade"),
    ("active", "complete_upgrade"),
    ("active", "complete_uninstall"),
]


@pytest.mark.parametrize(("status", "name"), DISALLOWED)
def test_disallowed_transition_raises_state_error(status, name):
    with pytest.raises(StateError) as caught:
        transition(status, name, subject="field-service")
    assert caught.value.exit_code == ExitCode.STATE
    assert caught.value.details["status"] == status
    assert caught.value.details["transition"] == name


def test_message_reads_well():
    with pytest.raises(StateError) as caught:
        transition("queued", "pause", subject="field-service")
    assert str(caught.value) == "cannot pause field-service: it is queued (pause needs active)"
    with pytest.raises(StateError) as caught:
        transition("queued", "start_uninstall", subject="crm")
    assert str(caught.value) == (
        "cannot uninstall crm: it is queued (start_uninstall needs active, paused or failed)"
    )


def test_unknown_names_are_bugs_not_state_errors():
    with pytest.raises(ValueError, match="unknown transition"):
        transition("active", "explode")
    with pytest.raises(ValueError, match="unknown installation status"):
        transition("sleeping", "pause")
    with pytest.raises(ValueError, match="unknown installation status"):
        allowed("sleeping")


def test_live_statuses():
    assert not is_live("uninstalled")
    assert not is_live("cancelled")
    assert all(is_live(s) for s in lifecycle.STATUSES if s not in ("uninstalled", "cancelled"))


def test_lifecycle_imports_only_the_standard_library_and_the_vocabulary():
    import ast
    from pathlib import Path

    tree = ast.parse(Path(lifecycle.__file__).read_text())
    modules = {
        node.module if isinstance(node, ast.ImportFrom) else alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    assert modules <= {
        "__future__",
        "dataclasses",
        "fleetprompt_cli.errors",
        "fleetprompt_cli.core.vocab",
    }


def test_step_moves_live_beside_the_installation_state_machine():
    # A done step can only be undone; a failed one retried; running may follow itself.
    assert lifecycle.step_move_allowed("done", "undone")
    assert not lifecycle.step_move_allowed("done", "pending")
    assert lifecycle.step_move_allowed("running", "running")
    assert not lifecycle.step_move_allowed("unknown", "pending")
    assert set(lifecycle.STEP_REOPENED_FROM) <= set(lifecycle.STEP_MOVES)
    assert not set(lifecycle.DIRECTIVE_OPEN_STATUSES) & set(lifecycle.DIRECTIVE_FINISHED_STATUSES)
