"""Plain-text formats shared by several commands (no rich import here).

Config values are shown as they are written in a manifest or on the command
line (TOML/JSON literals: ``true``, ``"us"``, ``["hvac", "plumbing"]``), never
as Python reprs.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["change_text", "config_value"]


def config_value(value: Any) -> str:
    """A config value as a TOML/JSON literal; ``-`` for none."""
    if value is None:
        return "-"
    return json.dumps(value, ensure_ascii=False, default=str)


def change_text(
    from_status: str | None,
    to_status: str,
    from_version: str | None,
    to_version: str | None,
) -> str:
    """``queued → installing  1.0.0`` or ``active → upgrading  1.0.0 → 2.0.0``.

    A transition out of nothing (a plan) shows just the new status; the
    version part is the version when it did not change, or old → new.
    """
    text = f"{from_status} → {to_status}" if from_status else to_status
    if from_version and to_version and from_version != to_version:
        return f"{text}  {from_version} → {to_version}"
    version = to_version or from_version
    return f"{text}  {version}" if version else text
