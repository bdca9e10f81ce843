"""Pure rules of installing: tier gates, config, skills, resources, migrations.

Everything here takes plain data (index entries' manifest dicts, the text of
an archive's files) and returns plain data, so the planner, the executor and
the tests share one definition of each rule.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from packaging.specifiers import SpecifierSet
from packaging.version import Version

from fleetprompt_cli.core.configs import config_diff
from fleetprompt_cli.core.vocab import TIER_ORDER, tier_rank
from fleetprompt_cli.errors import ConfigError, InvalidInput, TierDenied

__all__ = [
    "Resource",
    "check_dep_skills",
    "check_tier",
    "config_diff",
    "migrate_config",
    "parse_config_assignments",
    "resolve_config",
    "resources_of",
]

_KINDS = (("agents", "agent"), ("workflows", "workflow"), ("skills", "skill"), ("tools", "tool"))


def check_tier(tenant: str, tenant_tier: str, packages: Sequence[tuple[str, Any]]) -> None:
    """Raise TierDenied naming every (slug, min_tier) the tenant's tier is below."""
    rank = TIER_ORDER.get(tenant_tier, 0)
    # Fails closed: a tier the index line misspells or leaves out denies.
    denied = [(slug, tier) for slug, tier in packages if tier_rank(tier) > rank]
    if denied:
        names = ", ".join(
            f"{slug} (needs {tier})" if tier in TIER_ORDER else f"{slug} (unknown tier {tier!r})"
            for slug, tier in denied
        )
        raise TierDenied(
            f"tenant {tenant!r} is on the {tenant_tier} tier, which cannot install {names}; "
            f"upgrade with 'fleetprompt tenant set-tier {tenant} TIER'",
            details={
                "tenant": tenant,
                "tier": tenant_tier,
                "denied": [{"slug": s, "min_tier": t} for s, t in denied],
            },
        )


def check_dep_skills(chosen: Mapping[str, tuple[str, dict[str, Any]]]) -> None:
    """Every ``DEP:SKILL`` an agent uses must be a skill of the DEP version chosen.

    ``chosen`` maps slug to (version, manifest data) for the whole plan.
    """
    problems = []
    for slug, (version, manifest) in sorted(chosen.items()):
        for agent in manifest.get("agents", []):
            for reference in agent.get("skills", []):
                if ":" not in reference:
                    continue
                dep, skill = reference.split(":", 1)
                if dep not in chosen:
                    problems.append(
                        f"{slug} {version}: agent {agent['name']!r} uses "
                        f"{reference!r} but {dep} is not in the plan"
                    )
                    continue
                dep_version, dep_manifest = chosen[dep]
                if skill not in {s["name"] for s in dep_manifest.get("skills", [])}:
                    problems.append(
                        f"{slug} {version}: agent {agent['name']!r} uses "
                        f"{reference!r} but {dep} {dep_version} has no such skill"
                    )
    if problems:
        raise InvalidInput(
            "the plan is inconsistent:\n  " + "\n  ".join(problems), details={"problems": problems}
        )


def _no_constant(name: str) -> Any:
    raise ValueError(name)


def _coerce(key: str, kind: str, text: str) -> Any:
    """Turn a ``--config KEY=VALUE`` string into the schema's type."""
    try:
        if kind == "integer":
            return int(text)
        if kind == "number":
            number = float(text)
            if not math.isfinite(number):
                raise ValueError(text)  # JSON (the plan, --json) has no NaN or Infinity.
            return number
        if kind == "boolean":
            lowered = text.strip().lower()
            if lowered in ("true", "yes", "1", "on"):
                return True
            if lowered in ("false", "no", "0", "off"):
                return False
            raise ValueError(text)
        if kind == "list":
            value = (
                json.loads(text, parse_constant=_no_constant)
                if text.strip().startswith("[")
                else [part.strip() for part in text.split(",") if part.strip()]
            )
            if not isinstance(value, list):
                raise ValueError(text)
            return value
    except RecursionError:
        raise ConfigError(f"config {key}: the value is nested too deeply") from None
    except ValueError:
        shown = text if len(text) <= 80 else text[:77] + "..."
        raise ConfigError(f"config {key}: {shown!r} is not a valid {kind}") from None
    return text


def parse_config_assignments(
    assignments: Sequence[str], schema: Mapping[str, Mapping[str, Any]], slug: str
) -> dict[str, Any]:
    """Parse ``KEY=VALUE`` strings against a package's config schema."""
    values: dict[str, Any] = {}
    for assignment in assignments:
        key, sep, text = assignment.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"invalid --config {assignment!r}: expected KEY=VALUE")
        if key not in schema:
            known = ", ".join(sorted(schema)) or "none"
            raise ConfigError(f"{slug} has no config key {key!r} (known keys: {known})")
        values[key] = _coerce(key, schema[key].get("type", "string"), text)
    return values


def resolve_config(
    slug: str,
    schema: Mapping[str, Mapping[str, Any]],
    given: Mapping[str, Any],
    current: Mapping[str, Any] | None = None,
) -> tuple[dict[str, Any], list[str]]:
    """Merge defaults, the current config and given values; check types and choices.

    Returns the config and the required keys that still have no value.
    """
    config: dict[str, Any] = {}
    for key, spec in schema.items():
        if "default" in spec and spec["default"] is not None:
            config[key] = spec["default"]
    for key, value in (current or {}).items():
        if key in schema:
            config[key] = value
    problems = []
    for key, value in given.items():
        entry = schema.get(key)
        if entry is None:
            problems.append(f"{key}: not a config key of {slug}")
            continue
        choices = entry.get("choices")
        if choices is not None and value not in choices:
            problems.append(f"{key}: {value!r} is not one of {', '.join(map(str, choices))}")
            continue
        config[key] = value
    if problems:
        raise ConfigError(
            f"invalid config for {slug}: " + "; ".join(problems),
            details={"slug": slug, "problems": problems},
        )
    missing = [key for key, spec in schema.items() if spec.get("required") and key not in config]
    return config, missing


def migrate_config(
    config: Mapping[str, Any],
    migrations: Sequence[Mapping[str, Any]],
    from_version: str,
) -> dict[str, Any]:
    """Apply the new version's migrations whose ``from`` matches the old version."""
    result = dict(config)
    old = Version(from_version)
    for migration in migrations:
        if not SpecifierSet(migration.get("from", "")).contains(old, prereleases=True):
            continue
        for before, after in migration.get("rename", {}).items():
            if before in result:
                result[after] = result.pop(before)
        for key in migration.get("remove", []):
            result.pop(key, None)
        for key, value in migration.get("set_default", {}).items():
            result.setdefault(key, value)
    return result


@dataclass(frozen=True)
class Resource:
    """One installed component: kind, name, its definition and its text content."""

    kind: str
    name: str
    definition: dict[str, Any]
    content: str


def resources_of(manifest: Mapping[str, Any], files: Mapping[str, str]) -> list[Resource]:
    """The components a package installs, with prompts and skill files' text.

    ``files`` maps archive paths to their text (``read_archive_texts``); a
    component naming a file the archive lacks is an integrity problem of the
    archive, reported by the caller.
    """
    resources = []
    for table, kind in _KINDS:
        for component in manifest.get(table, []):
            definition = dict(component)
            content = ""
            reference = component.get("prompt_file") or component.get("entrypoint")
            if reference:
                path = reference.replace("\\", "/").removeprefix("./")
                if path not in files:
                    raise InvalidInput(
                        f"{kind} {component['name']!r}: {reference} is not in the package archive"
                    )
                content = files[path]
            elif kind == "agent":
                content = component.get("system_prompt", "")
            elif kind == "skill":
                content = component.get("instructions", "")
            resources.append(Resource(kind, component["name"], definition, content))
    return resources
