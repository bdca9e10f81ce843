"""The lock file, ``fleetprompt.lock``: exactly what a project resolved to.

```toml
# This file is written by `fleetprompt lock`; do not edit it by hand.
version = 1
requires-hash = "sha256:..."

[index]
url = "https://example.com/index.git"
commit = "0123abcd..."              # absent for a folder index

[[package]]
slug = "core-skills"
version = "1.3.0"
sha256 = "..."
archive = "archives/core-skills/core-skills-1.3.0.tar.gz"
dependencies = []
config = { region = "eu" }          # the project's [config.core-skills]; absent when empty
```

:func:`dump_lock` is byte-stable: packages sorted by slug, dependencies
sorted, keys in a fixed order, so the same resolution always gives the same
bytes and a change gives a minimal diff.  :func:`parse_lock` trusts nothing:
a lock is checked in like source code and may be edited by anyone.  Besides
each field, it checks that the lock is closed (every dependency is a locked
package), so a lock that would install an incomplete set is refused before
anything is installed.  Plain Python (no pydantic): the no-op ``sync`` reads
the lock on its fast path.

``config`` is the package's table from the project's ``[config]``, copied
into the lock so that ``sync --frozen`` (which never reads the project file)
applies it too.  It is written as an inline table with sorted keys, by hand:
tomli_w would write a ``[package.config]`` sub-table.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w
from packaging.version import InvalidVersion, Version

from fleetprompt_cli.errors import InvalidInput

from .names import canonical_slug, is_valid_slug
from .project import _config_value_problem, load_toml, read_limited

__all__ = [
    "LOCK_FILE",
    "LOCK_VERSION",
    "LockFile",
    "LockedPackage",
    "dump_lock",
    "load_lock",
    "parse_lock",
]

LOCK_FILE = "fleetprompt.lock"
LOCK_VERSION = 1
MAX_FILE_BYTES = 16 << 20
HEADER = "# This file is written by `fleetprompt lock`; do not edit it by hand.\n"

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_HASH = re.compile(r"^sha256:[0-9a-f]{64}$")
_COMMIT = re.compile(r"^[0-9a-f]{7,64}$")
_TOP_KEYS = {"version", "requires-hash", "index", "package"}
_PACKAGE_KEYS = {"slug", "version", "sha256", "archive", "dependencies", "config"}
_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
MAX_CONFIG_KEY = 200


@dataclass(frozen=True, order=True)
class LockedPackage:
    """One package of a lock: the exact version and the archive's checksum."""

    slug: str
    version: str
    sha256: str
    archive: str
    dependencies: tuple[str, ...] = ()
    # The project's config values for this package (keys sorted); not hashed.
    config: Mapping[str, Any] = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class LockFile:
    """A whole lock; ``packages`` sorted by slug."""

    requires_hash: str
    index_url: str
    index_commit: str | None
    packages: tuple[LockedPackage, ...]
    version: int = LOCK_VERSION

    @classmethod
    def build(
        cls,
        requires_hash: str,
        index_url: str,
        index_commit: str | None,
        packages: Iterable[LockedPackage],
    ) -> LockFile:
        """A lock in canonical order (packages by slug, each one's dependencies sorted)."""
        ordered = sorted(
            (
                LockedPackage(
                    p.slug,
                    p.version,
                    p.sha256,
                    p.archive,
                    tuple(sorted(p.dependencies)),
                    dict(sorted(p.config.items())),
                )
                for p in packages
            ),
            key=lambda p: p.slug,
        )
        return cls(requires_hash, index_url, index_commit, tuple(ordered))

    def by_slug(self) -> dict[str, LockedPackage]:
        """The locked packages by slug."""
        return {package.slug: package for package in self.packages}


def dump_lock(lock: LockFile) -> str:
    """The lock's text, byte-stable for equal locks."""
    index: dict[str, str] = {"url": lock.index_url}
    if lock.index_commit:
        index["commit"] = lock.index_commit
    head = {"version": lock.version, "requires-hash": lock.requires_hash, "index": index}
    parts = [HEADER, tomli_w.dumps(head)]
    for p in sorted(lock.packages, key=lambda p: p.slug):
        fields = {
            "slug": p.slug,
            "version": p.version,
            "sha256": p.sha256,
            "archive": p.archive,
            "dependencies": list(p.dependencies),
        }
        parts.append("\n[[package]]\n" + tomli_w.dumps(fields))
        if p.config:
            parts.append(f"config = {_inline_table(p.config)}\n")
    return "".join(parts)


def _inline_table(values: Mapping[str, Any]) -> str:
    """A TOML inline table, keys sorted (the values are checked config values)."""
    items = ", ".join(f"{_key(k)} = {_value(values[k])}" for k in sorted(values))
    return "{ " + items + " }" if items else "{}"


def _key(key: str) -> str:
    return key if _BARE_KEY.match(key) else _string(key)


def _string(text: str) -> str:
    # JSON's escapes are TOML's, except that TOML also forbids a raw DEL.
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, list):
        return "[" + ", ".join(_value(item) for item in value) + "]"
    raise TypeError(f"not a config value: {type(value).__name__}")


def load_lock(path: Path) -> LockFile:
    """Read and check a lock file; a missing file raises ``FileNotFoundError``."""
    return parse_lock(read_limited(path, MAX_FILE_BYTES, "lock file"), str(path))


def parse_lock(text: str, source: str = LOCK_FILE) -> LockFile:
    """Parse a lock's text; every problem is reported with its field (exit 8)."""
    data = load_toml(text, source)
    version = data.get("version")
    if type(version) is not int:
        raise InvalidInput(f"{source}: version: missing or not an integer (expected 1)")
    if version > LOCK_VERSION:
        raise InvalidInput(
            f"{source}: lock format {version} is newer than this fleetprompt understands "
            f"(up to {LOCK_VERSION}); upgrade fleetprompt"
        )
    problems: list[str] = []
    if version < 1:
        problems.append("version: must be 1")
    for key in sorted(set(data) - _TOP_KEYS):
        problems.append(f"{key}: unknown key")
    requires_hash = data.get("requires-hash")
    if not isinstance(requires_hash, str) or not _HASH.match(requires_hash):
        problems.append("requires-hash: must be 'sha256:' and 64 hex digits")
        requires_hash = ""
    index = data.get("index")
    url: str = ""
    commit: str | None = None
    if not isinstance(index, dict):
        problems.append("index: missing table (url, commit)")
    else:
        for key in sorted(set(index) - {"url", "commit"}):
            problems.append(f"index.{key}: unknown key")
        given_url, given_commit = index.get("url"), index.get("commit")
        if (
            isinstance(given_url, str)
            and given_url
            and len(given_url) <= 4096
            and given_url.isprintable()
        ):
            url = given_url
        else:
            problems.append("index.url: must be a non-empty printable string")
        if isinstance(given_commit, str) and _COMMIT.match(given_commit):
            commit = given_commit
        elif given_commit is not None:
            problems.append("index.commit: must be a git commit id (hex)")
    packages = _packages(data.get("package", []), problems)
    if problems:
        raise InvalidInput(
            f"{source}: "
            + (
                problems[0]
                if len(problems) == 1
                else f"{len(problems)} problems:\n" + "\n".join(f"  {p}" for p in problems)
            ),
            details={"file": source, "problems": problems},
        )
    ordered = tuple(sorted(packages, key=lambda p: p.slug))
    return LockFile(requires_hash, url, commit, ordered, version)


def _packages(table: object, problems: list[str]) -> list[LockedPackage]:
    if not isinstance(table, list):
        problems.append("package: must be an array of [[package]] tables")
        return []
    result: dict[str, LockedPackage] = {}
    for n, entry in enumerate(table, start=1):
        where = f"package[{n}]"
        if not isinstance(entry, dict):
            problems.append(f"{where}: must be a table")
            continue
        for key in sorted(set(entry) - _PACKAGE_KEYS):
            problems.append(f"{where}.{key}: unknown key")
        slug = entry.get("slug")
        if not isinstance(slug, str) or len(slug) > 64 or not is_valid_slug(slug):
            problems.append(f"{where}.slug: must be a package slug")
            continue
        where = f"package {slug!r}"
        if canonical_slug(slug) != slug:
            problems.append(f"{where}: slug must be canonical ({canonical_slug(slug)!r})")
            continue
        if slug in result:
            problems.append(f"{where}: locked twice")
            continue
        version = entry.get("version")
        try:
            if not isinstance(version, str) or len(version) > 128:
                raise InvalidVersion
            Version(version)
        except InvalidVersion:
            problems.append(f"{where}.version: must be a PEP 440 version")
            continue
        sha256 = entry.get("sha256")
        if not isinstance(sha256, str) or not _SHA256.match(sha256):
            problems.append(f"{where}.sha256: must be 64 lower-case hex digits")
            continue
        archive = entry.get("archive")
        if (
            not isinstance(archive, str)
            or not archive
            or len(archive) > 4096
            or not archive.isprintable()
        ):
            problems.append(f"{where}.archive: must be a non-empty printable string")
            continue
        dependencies = entry.get("dependencies", [])
        if not isinstance(dependencies, list) or not all(
            isinstance(d, str) and is_valid_slug(d) and canonical_slug(d) == d for d in dependencies
        ):
            problems.append(f"{where}.dependencies: must be a list of canonical slugs")
            continue
        config = entry.get("config", {})
        problem = _config_problem(config)
        if problem:
            problems.append(f"{where}.config{problem}")
            continue
        ordered_config = dict(sorted(config.items()))
        result[slug] = LockedPackage(
            slug, version, sha256, archive, tuple(sorted(dependencies)), ordered_config
        )
    for package in result.values():
        for dep in package.dependencies:
            if dep not in result:
                problems.append(
                    f"package {package.slug!r}: depends on {dep!r}, which the lock leaves out"
                )
    return list(result.values())


def _config_problem(config: object) -> str | None:
    """What is wrong with a package's ``config`` (``": ..."`` or ``".KEY: ..."``), or None."""
    if not isinstance(config, dict):
        return ": must be an inline table of key = value"
    for key, value in config.items():
        if not key or len(key) > MAX_CONFIG_KEY or not key.isprintable():
            return f": {key[:40]!r} is not a config key"
        problem = _config_value_problem(value)
        if problem:
            return f".{key}: {problem}"
    return None
