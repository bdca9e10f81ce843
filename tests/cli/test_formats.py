"""Config values and state changes as the commands print them."""

from __future__ import annotations

import pytest

from fleetprompt_cli.cli.formats import change_text, config_value


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (True, "true"),
        (False, "false"),
        (8, "8"),
        (0.5, "0.5"),
        ("us", '"us"'),
        (["hvac", "plumbing"], '["hvac", "plumbing"]'),
        ("café", '"café"'),
        (None, "-"),
    ],
)
def test_config_values_are_toml_literals(value, shown):
    assert config_value(value) == shown


@pytest.mark.parametrize(
    ("change", "shown"),
    [
        ((None, "queued", None, "1.0.0"), "queued  1.0.0"),
        (("queued", "installing", None, None), "queued → installing"),
        (("installing", "active", None, "1.0.0"), "installing → active  1.0.0"),
        (("active", "paused", "1.0.0", "1.0.0"), "active → paused  1.0.0"),
        (("upgrading", "active", "1.0.0", "2.0.0"), "upgrading → active  1.0.0 → 2.0.0"),
        (("active", "uninstalling", "2.0.0", None), "active → uninstalling  2.0.0"),
    ],
)
def test_changes_name_only_what_is_recorded(change, shown):
    assert change_text(*change) == shown
