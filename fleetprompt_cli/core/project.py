"""The project file, ``fleetprompt.project.toml``: the desired state of a tenant.

```toml
schema_version = 1
[project]
tenant = "acme"                 # default tenant for sync; --tenant overrides
[requires]                      # slug = PEP 440 specifier ("" = any)
customer-support = ">=2"
knowledge-base = ""
[config.customer-support]       # config for packages of the plan
default_language = "de"
```

Parsing is plain Python (no pydantic): the no-op ``sync`` reads this file on
its fast path.  Every problem is reported at once, each with the file and the
field, as an :class:`~fleetprompt_cli.errors.InvalidInput` (exit 8).  Config
values are checked against each package's schema later, where the manifests
are known; here they only have to be TOML values a config can hold.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import stat
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fleetprompt_cli.errors import ConfigError, InvalidInput

from .configs import CONFIG_VALUE_TYPES, config_value_matches
from .names import Requirement, canonical_slug, is_valid_slug

__all__ = [
    "PROJECT_FILE",
    "PROJECT_SCHEMA_VERSION",
    "ConfigValue",
    "ProjectFile",
    "check_project_config",
    "load_project",
    "load_toml",
    "parse_project",
    "read_limited",
]

PROJECT_FILE = "fleetprompt.project.toml"
PROJECT_SCHEMA_VERSION = 1
# Far above any real project; a larger file is refused before it is parsed.
MAX_FILE_BYTES = 1 << 20
MAX_SLUG_LENGTH = 64
MAX_TEXT_LENGTH = 10_000

ConfigValue = str | int | float | bool | list[Any]

_TOP_KEYS = {"schema_version", "project", "requires", "config"}
_PROJECT_KEYS = {"tenant"}


@dataclass(frozen=True)
class ProjectFile:
    """A parsed project file; slugs are canonical, specifiers as their author wrote them."""

    schema_version: int = PROJECT_SCHEMA_VERSION
    tenant: str | None = None
    requires: Mapping[str, str] = field(default_factory=dict)
    config: Mapping[str, Mapping[str, ConfigValue]] = field(default_factory=dict)

    def requirements(self) -> list[Requirement]:
        """The ``[requires]`` table as resolver requirements, in slug order."""
        from packaging.specifiers import SpecifierSet

        return [
            Requirement(slug, SpecifierSet(text), written=text or None)
            for slug, text in sorted(self.requires.items())
        ]

    def requires_hash(self) -> str:
        """A digest of what the lock depends on: normalized ``[requires]`` and ``[config]``.

        Specifiers are compared as sets (``>=1,<2`` and ``<2,>=1`` hash alike) and
        tables as mappings, so reformatting the file, reordering it or editing a
        comment never makes a lock out of date; the tenant does not count (one
        lock serves any number of tenants).
        """
        from packaging.specifiers import SpecifierSet

        normal = {
            "requires": {slug: str(SpecifierSet(text)) for slug, text in self.requires.items()},
            "config": {slug: dict(values) for slug, values in self.config.items() if values},
        }
        text = json.dumps(normal, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def read_limited(path: Path, limit: int, what: str) -> str:
    """A text file's contents, refusing one that is not a regular file or is too large.

    A missing file raises ``FileNotFoundError`` for the caller to word.
    """
    try:
        # O_NONBLOCK: opening a FIFO must not hang; it is refused just below.
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(descriptor, "rb") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                raise InvalidInput(f"{path}: the {what} is not a regular file")
            data = handle.read(limit + 1)
    except IsADirectoryError:
        raise InvalidInput(f"{path}: the {what} is a folder, not a file") from None
    if len(data) > limit:
        raise InvalidInput(f"{path}: the {what} is larger than {limit:,} bytes")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise InvalidInput(f"{path}: the {what} is not UTF-8 (byte {error.start})") from None


def load_project(path: Path) -> ProjectFile:
    """Read and check a project file; a missing file raises ``FileNotFoundError``."""
    return parse_project(read_limited(path, MAX_FILE_BYTES, "project file"), str(path))


def load_toml(text: str, source: str) -> dict[str, Any]:
    """A TOML document's data, or InvalidInput naming the file (and the line, from tomllib)."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise InvalidInput(f"{source}: not valid TOML: {error}") from None
    except RecursionError:
        raise InvalidInput(f"{source}: not valid TOML: nested too deeply") from None


def parse_project(text: str, source: str = PROJECT_FILE) -> ProjectFile:
    """Parse a project file's text, reporting every problem with its field."""
    data = load_toml(text, source)
    problems: list[str] = []

    version = data.get("schema_version")
    if version is None:
        problems.append("schema_version: missing (write schema_version = 1)")
    elif type(version) is not int:
        problems.append("schema_version: must be an integer")
    elif version > PROJECT_SCHEMA_VERSION:
        raise InvalidInput(
            f"{source}: schema_version {version} is newer than this fleetprompt understands "
            f"(up to {PROJECT_SCHEMA_VERSION}); upgrade fleetprompt"
        )
    elif version < 1:
        problems.append("schema_version: must be 1")
    for key in sorted(set(data) - _TOP_KEYS):
        problems.append(f"{key}: unknown key (expected {', '.join(sorted(_TOP_KEYS))})")

    tenant = None
    project = data.get("project", {})
    if not isinstance(project, dict):
        problems.append("project: must be a table")
    else:
        for key in sorted(set(project) - _PROJECT_KEYS):
            problems.append(f"project.{key}: unknown key (expected tenant)")
        if "tenant" in project:
            tenant = project["tenant"]
            if not isinstance(tenant, str) or not tenant.strip():
                problems.append("project.tenant: must be a non-empty string")
                tenant = None
            elif len(tenant) > MAX_SLUG_LENGTH or not tenant.isprintable():
                problems.append(f"project.tenant: at most {MAX_SLUG_LENGTH} printable characters")
                tenant = None

    requires = _requires(data.get("requires", {}), problems)
    config = _config(data.get("config", {}), problems)
    if problems:
        raise InvalidInput(
            f"{source}: " + ("; ".join(problems) if len(problems) == 1 else _listed(problems)),
            details={"file": source, "problems": problems},
        )
    return ProjectFile(PROJECT_SCHEMA_VERSION, tenant, requires, config)


def _listed(problems: list[str]) -> str:
    return f"{len(problems)} problems:\n" + "\n".join(f"  {p}" for p in problems)


def _slug(key: str, where: str, problems: list[str]) -> str | None:
    if len(key) > MAX_SLUG_LENGTH or not is_valid_slug(key):
        problems.append(
            f"{where}.{key!r}: not a package slug (letters, digits, '-', '_' and '.', "
            f"at most {MAX_SLUG_LENGTH} characters)"
        )
        return None
    return canonical_slug(key)


def _requires(table: object, problems: list[str]) -> dict[str, str]:
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    if not isinstance(table, dict):
        problems.append('requires: must be a table of slug = "specifier"')
        return {}
    result: dict[str, str] = {}
    for key, value in table.items():
        slug = _slug(key, "requires", problems)
        if slug is None:
            continue
        if slug in result:
            problems.append(f"requires.{key}: names {slug} a second time")
            continue
        if not isinstance(value, str):
            problems.append(f'requires.{key}: must be a string ("" for any version)')
            continue
        text = value.strip()
        if len(text) > 1000:
            problems.append(f"requires.{key}: specifier longer than 1,000 characters")
            continue
        try:
            SpecifierSet(text)
        except InvalidSpecifier:
            problems.append(f"requires.{key}: invalid version specifier {value!r}")
            continue
        result[slug] = text
    return result


def _config(table: object, problems: list[str]) -> dict[str, dict[str, ConfigValue]]:
    if not isinstance(table, dict):
        problems.append("config: must be a table of [config.SLUG] tables")
        return {}
    result: dict[str, dict[str, ConfigValue]] = {}
    for key, values in table.items():
        slug = _slug(key, "config", problems)
        if slug is None:
            continue
        if slug in result:
            problems.append(f"config.{key}: names {slug} a second time")
            continue
        if not isinstance(values, dict):
            problems.append(f"config.{key}: must be a table of key = value")
            continue
        checked: dict[str, ConfigValue] = {}
        for name, value in values.items():
            problem = _config_value_problem(value)
            if problem:
                problems.append(f"config.{key}.{name}: {problem}")
            else:
                checked[name] = value
        result[slug] = checked
    return result


def _config_value_problem(value: object, depth: int = 0) -> str | None:
    if isinstance(value, bool | int):
        return None
    if isinstance(value, float):
        return None if math.isfinite(value) else "must be a finite number (not nan or inf)"
    if isinstance(value, str):
        return None if len(value) <= MAX_TEXT_LENGTH else f"longer than {MAX_TEXT_LENGTH:,}"
    if isinstance(value, list) and depth == 0:
        for item in value:
            problem = _config_value_problem(item, depth + 1)
            if problem:
                return f"in a list: {problem}"
        return None
    if isinstance(value, list):
        return "lists inside lists are not config values"
    return f"a {type(value).__name__} is not a config value (string, number, boolean or list)"


def check_project_config(
    slug: str, schema: Mapping[str, Mapping[str, Any]], values: Mapping[str, ConfigValue]
) -> dict[str, Any]:
    """A package's config from the project: known keys, the schema's types and choices.

    Returns the full config (defaults merged in); raises
    :class:`~fleetprompt_cli.errors.ConfigError` naming every problem, including
    required keys that neither the project nor a default gives a value.
    """
    from .install_rules import resolve_config

    problems = []
    for key, value in values.items():
        spec = schema.get(key)
        if spec is None:
            known = ", ".join(sorted(schema)) or "none"
            problems.append(f"config.{slug}.{key}: not a config key of {slug} (known: {known})")
            continue
        kind = spec.get("type", "string")
        if not config_value_matches(kind if kind in CONFIG_VALUE_TYPES else "string", value):
            problems.append(f"config.{slug}.{key}: {value!r} is not a {kind}")
    if problems:
        raise ConfigError("; ".join(problems), details={"slug": slug, "problems": problems})
    config, missing = resolve_config(slug, schema, values)
    if missing:
        keys = ", ".join(missing)
        raise ConfigError(
            f"config.{slug}: {slug} needs a value for {keys} "
            f"(fleetprompt add {slug} --config {slug}:{missing[0]}=VALUE)",
            details={"slug": slug, "missing": missing},
        )
    return config
