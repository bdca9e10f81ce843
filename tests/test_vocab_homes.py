"""One home for every vocabulary and shared helper.

Where a module still keeps its own copy (modules another change
restructures), the copy must say exactly what the home says; once it is
replaced by an import, its check here passes trivially (or is skipped when
the name is gone).
"""

from __future__ import annotations

import importlib
from typing import Any, get_args

import pytest

from fleetprompt_cli import errors, settings
from fleetprompt_cli.cli import formats
from fleetprompt_cli.core import configs, manifest, vocab
from fleetprompt_cli.errors import ExitCode, NotFound


def _copy(module: str, name: str) -> Any:
    try:
        value = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        pytest.skip(f"{module}.{name} is gone (replaced by the home)")
    return value


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
        ("fleetprompt_cli.actions.lifecycle", "_OPEN", vocab.OPEN_DIRECTIVE_STATUSES),
        ("fleetprompt_cli.store.repository", "_OPEN_DIRECTIVE", vocab.OPEN_DIRECTIVE_STATUSES),
        (
            "fleetprompt_cli.store.repository",
            "_FINISHED_DIRECTIVE",
            vocab.FINISHED_DIRECTIVE_STATUSES,
        ),
        (
            "fleetprompt_cli.store.repository",
            "DEFAULT_CLAIM_GRACE",
            settings.DEFAULT_CLAIM_GRACE_SECONDS,
        ),
        (
            "fleetprompt_cli.actions.installer",
            "DEFAULT_LEASE_SECONDS",
            settings.DEFAULT_LEASE_SECONDS,
        ),
        ("fleetprompt_cli.queue.worker", "DEFAULT_SWEEP_SECONDS", settings.DEFAULT_SWEEP_SECONDS),
        ("fleetprompt_cli.queue.tasks", "DEFAULT_QUEUE_NAME", settings.DEFAULT_QUEUE_NAME),
    ],
)
def test_remaining_copies_agree_with_the_home(module, name, home):
    copy = _copy(module, name)
    assert (tuple(copy) if isinstance(home, tuple) else copy) == home


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
    statuses = (*vocab.INSTALLATION_STATUSES, *vocab.DIRECTIVE_STATUSES, *vocab.STEP_STATUSES)
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


@pytest.mark.parametrize(("before", "after"), CONFIGS)
def test_config_diff_views_match_the_copies(before, after):
    pairs = _copy("fleetprompt_cli.core.installing", "config_diff")
    assert configs.config_diff(before, after) == pairs(before, after)
    grouped = _copy("fleetprompt_cli.store.repository", "config_diff")
    assert configs.config_changes(before, after) == grouped(dict(before), dict(after))


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


@pytest.mark.parametrize(
    ("module", "name"),
    [
        ("fleetprompt_cli.actions.lifecycle", "_safe_url"),
        ("fleetprompt_cli.cli.worker", "_safe_url"),
    ],
)
def test_url_masking_copies_agree(module, name):
    copy = _copy(module, name)
    for url in (
        "postgresql+psycopg://app:s3cret@db/fleet",
        "redis://cache:6379/0",
        "sqlite:///x.db",
    ):
        assert copy(url) == settings.safe_url(url)


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
