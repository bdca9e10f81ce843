"""Config values: their types, and what changed between two configs of an installation.

:func:`config_value_matches` is the one type check of a value against a
config schema's ``type`` (manifests check their defaults and choices with
it, project files their values).

One comparison, two views of it: :func:`config_diff` (``{key: [old, new]}``,
``None`` for a key that is absent on one side) is what a plan and ``configure``
report; :func:`config_changes` groups the same comparison into ``added``,
``removed`` and ``changed`` and is what a revision records (and ``history``
shows). Both are part of the ``--json`` output and of stored revisions, so
their shapes are a contract (docs/state-machine.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["CONFIG_VALUE_TYPES", "config_changes", "config_diff", "config_value_matches"]

# The Python types a value of each config type may have.
CONFIG_VALUE_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "list": (list,),
}


def config_value_matches(kind: str, value: Any) -> bool:
    """Whether ``value`` has the config type ``kind`` (bool is not a number; an unknown
    type matches nothing)."""
    if kind != "boolean" and isinstance(value, bool):
        return False
    return isinstance(value, CONFIG_VALUE_TYPES.get(kind, ()))


def config_diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, Any]:
    """What changed between two configs: ``{key: [old, new]}`` (None for absent), by key."""
    keys = sorted(set(before) | set(after))
    return {k: [before.get(k), after.get(k)] for k in keys if before.get(k) != after.get(k)}


def config_changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, Any] | None:
    """The same comparison as a revision records it, or None if nothing changed.

    ``{"added": {key: new}, "removed": {key: old}, "changed": {key: [old, new]}}``.
    """
    added: dict[str, Any] = {}
    removed: dict[str, Any] = {}
    changed: dict[str, Any] = {}
    for key, (old, new) in _differing(before, after):
        if key not in before:
            added[key] = new
        elif key not in after:
            removed[key] = old
        else:
            changed[key] = [old, new]
    if not (added or removed or changed):
        return None
    return {"added": added, "removed": removed, "changed": changed}


def _differing(
    before: Mapping[str, Any], after: Mapping[str, Any]
) -> list[tuple[str, tuple[Any, Any]]]:
    """The keys whose presence or value differs, sorted, with (old, new)."""
    return [
        (key, (before.get(key), after.get(key)))
        for key in sorted(set(before) | set(after))
        if key not in before or key not in after or before[key] != after[key]
    ]
