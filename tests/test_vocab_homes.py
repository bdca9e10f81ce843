"""One home for every vocabulary and shared helper.

Where a module still keeps its own copy (modules another change
restructures), the copy must say exactly what the home says; once it is
replaced by an import, its check here passes trivially (or is skipped when
the name is gone).
"""

from __future__ import annotations

import importlib
from typing import get_args

import pytest

from fleetprompt_cli import errors, settings
from fleetprompt_cli.cli import formats
from fleetprompt_cli.core import configs, manifest, vocab
from fleetprompt_cli.errors import ExitCode, NotFound


@pytest.mark.parametrize(
    ("module", "name", "home"),
    [
        ("fleetprompt_cli.store.models", "TIERS", vocab.TIERS),
        ("fleetprompt_cli.store.models", "RESOURCE_KINDS", vocab.RESOURCE_KINDS),
        ("fleetprompt_cli.store.models", "DIRECTIVE_KINDS", vocab.DIRECTIVE_KINDS),
        ("fleetprompt_cli.store.models", "DIRECTIVE_STATUSES", vocab.DIRECTIVE_STATUSES),
        ("fleetprompt_cli.store.models", "STEP_ACTIONS", vocab.STEP_ACTIONS),
        ("fleetprompt_cli.store.models", "STEP_STATUSES", vocab.STEP_STATUSES),
        ("fleetprompt_cli.store.models", "_INSTALLATION_STATUSES", vocab.INSTALLATION_STATUSES),
        ("fleetprompt_cli.core.lifecycle", "STATUSES", vocab.INSTALLATION_STATUSES),
        (
            "fleetprompt_cli.core.lifecycle",
            "DIRECTIVE_OPEN_STATUSES",
            vocab.OPEN_DIRECTIVE_STATUSES,
        ),
        (
            "fleetprompt_cli.core.lifecycle",
            "DIRECTIVE_FINISHED_STATUSES",
            vocab.FINISHED_DIRECTIVE_STATUSES,
        ),
        ("fleetprompt_cli.actions.inspecting", "_OPEN", vocab.OPEN_DIRECTIVE_STATUSES),
        (
            "fleetprompt_cli.store.repository",
            "DEFAULT_CLAIM_GRACE",
            settings.DEFAULT_CLAIM_GRACE_SECONDS,
        ),
        (
            "fleetprompt_cli.actions.directive_runner",
            "DEFAULT_LEASE_SECONDS",
            settings.DEFAULT_LEASE_SECONDS,
        ),
        ("fleetprompt_cli.actions.worker", "DEFAULT_SWEEP_SECONDS", settings.DEFAULT_SWEEP_SECONDS),
        ("fleetprompt_cli.queue.tasks", "DEFAULT_QUEUE_NAME", settings.DEFAULT_QUEUE_NAME),
        ("fleetprompt_cli.core.install_rules", "config_diff", configs.config_diff),
        ("fleetprompt_cli.store.repository", "config_diff", configs.config_changes),
    ],
)
def test_other_names_are_the_home_itself(module, name, home):
    # Old names kept for their importers are the home's own object, not a copy.
    assert getattr(importlib.import_module(module), name) is home


def test_words_are_spelled_once():
    assert vocab.TIERS == ("free", "pro", "enterprise")
    assert get_args(vocab.Tier) == vocab.TIERS
    assert get_args(vocab.Category) == vocab.CATEGORIES
    assert sorted(vocab.OPEN_DIRECTIVE_STATUSES + vocab.FINISHED_DIRECTIVE_STATUSES) == sorted(
        vocab.DIRECTIVE_STATUSES
    )
    # The manifest model checks against the same words (no Literal of its own).
    assert manifest.Tier is vocab.Tier and manifest.Category is vocab.Category
    assert manifest.PricingModel is vocab.PricingModel


def test_every_status_has_one_style():
    statuses = (
        *vocab.INSTALLATION_STATUSES,
        *vocab.DIRECTIVE_STATUSES,
        *vocab.STEP_STATUSES,
        *vocab.RELEASE_STATUSES,
    )
    assert set(statuses) <= set(formats.STATUS_STYLES)
    assert set(formats.STATUS_STYLES) <= set(statuses)
    assert formats.PROGRESS_STYLES["uninstalled"] == "green"


def test_timestamps_have_two_precisions():
    from datetime import UTC, datetime

    moment = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
    assert formats.when(moment) == "2026-03-04 05:06:07"
    assert formats.when(moment, short=True) == "2026-03-04 05:06"
    assert formats.when(None) == ""


CONFIGS = [
    ({}, {}),
    ({"a": 1}, {"a": 1}),
    ({"a": 1}, {"a": 2}),
    ({}, {"region": "us", "tags": ["x"]}),
    ({"region": "us", "old": True}, {"region": "eu", "new": 3}),
    ({"a": None}, {}),
]


def test_config_changes_groups_added_removed_changed():
    assert configs.config_changes({"a": 1}, {"a": 1}) is None
    assert configs.config_changes({"a": 1, "b": 2}, {"b": 3, "c": 4}) == {
        "added": {"c": 4},
        "removed": {"a": 1},
        "changed": {"b": [2, 3]},
    }
    assert configs.config_diff({"a": 1, "b": 2}, {"b": 3, "c": 4}) == {
        "a": [1, None],
        "b": [2, 3],
        "c": [None, 4],
    }


def test_not_installed_error():
    error = errors.not_installed("code-review", "default")
    assert isinstance(error, NotFound) and error.exit_code == ExitCode.NOT_FOUND
    assert str(error) == "code-review is not installed in tenant 'default'"
    assert error.to_json() == {
        "kind": "not_found",
        "message": "code-review is not installed in tenant 'default'",
        "slug": "code-review",
        "tenant": "default",
    }
