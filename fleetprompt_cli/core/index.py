"""The static index: layout, version entries, reading and appending.

Layout (after the crates.io index)::

    config.json                          {"schema": 1, "archives": "..."}
    packages/fi/el/field-service         one JSON object per line, one per version
    archives/field-service/field-service-1.0.0.tar.gz
    flags.json                           {"schema": 1, "packages": {slug: {"verified": ..}}}

A version line is written once; afterwards only its ``yanked`` field may
change.  Reading is forgiving: a corrupt line is reported with its file and
line number and skipped, and the rest of the index still works.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.version import InvalidVersion, Version

from fleetprompt_cli.core.names import canonical_slug, canonical_version
from fleetprompt_cli.errors import IndexReadError, NotFound

__all__ = [
    "INDEX_SCHEMA",
    "IndexEntry",
    "IndexProblem",
    "LocalIndex",
    "package_path",
]

INDEX_SCHEMA = 1
DEFAULT_ARCHIVES = "archives/{slug}/{slug}-{version}.tar.gz"
_REQUIRED = ("slug", "name", "version", "sha256", "archive")


def package_path(slug: str) -> str:
    """Where a package's file lives under ``packages/`` (crates.io's scheme)."""
    if len(slug) <= 2:
        return f"{len(slug)}/{slug}"
    if len(slug) == 3:
        return f"3/{slug[0]}/{slug}"
    return f"{slug[:2]}/{slug[2:4]}/{slug}"


@dataclass(frozen=True)
class IndexProblem:
    """A line or file of the index that could not be read."""

    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return (
            f"{self.file}:{self.line}: {self.message}"
            if self.line
            else f"{self.file}: {self.message}"
        )


@dataclass
class IndexEntry:
    """One published version: what resolution, search and preview need."""

    data: dict[str, Any]
    index: str = ""
    flags: dict[str, bool] = field(default_factory=dict)
    # The line as read, so that copying an entry never re-encodes it.
    raw: str = field(default="", repr=False, compare=False)
    parsed_version: Version | None = field(default=None, repr=False, compare=False)

    @property
    def slug(self) -> str:
        return self.data["slug"]

    @property
    def version(self) -> str:
        return self.data["version"]

    @property
    def name(self) -> str:
        return self.data["name"]

    @property
    def yanked(self) -> bool:
        return bool(self.data.get("yanked", False))

    @property
    def deps(self) -> dict[str, str]:
        return self.data.get("deps", {})

    @property
    def sha256(self) -> str:
        return self.data["sha256"]

    @property
    def manifest(self) -> dict[str, Any]:
        return self.data.get("manifest", {})

    @classmethod
    def parse(cls, line: str) -> IndexEntry:
        """Parse one index line; raises ValueError with a readable reason."""
        try:
            data = json.loads(line)
        except json.JSONDecodeError as error:
            raise ValueError(f"not valid JSON ({error.msg} at column {error.colno})") from None
        if not isinstance(data, dict):
            raise ValueError("expected a JSON object")
        missing = [key for key in _REQUIRED if not isinstance(data.get(key), str)]
        if missing:
            raise ValueError(f"missing or not a string: {', '.join(missing)}")
        if not isinstance(data.get("deps", {}), dict):
            raise ValueError("'deps' must be an object")
        schema = data.get("schema", INDEX_SCHEMA)
        if isinstance(schema, int) and schema > INDEX_SCHEMA:
            raise ValueError(f"entry schema {schema} is newer than this fleetprompt: upgrade it")
        try:
            parsed = Version(data["version"])
        except InvalidVersion:
            raise ValueError(f"invalid version {data['version']!r}") from None
        return cls(data, raw=line.strip(), parsed_version=parsed)

    def to_line(self) -> str:
        return json.dumps(self.data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _read_json(path: Path, default: dict[str, Any]) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return dict(default)
    except (OSError, ValueError) as error:
        raise IndexReadError(f"{path}: cannot read: {error}") from None
    if not isinstance(data, dict):
        raise IndexReadError(f"{path}: expected a JSON object")
    return data


class LocalIndex:
    """An index laid out in a folder (a git work tree or a plain directory)."""

    def __init__(self, root: Path, name: str = "") -> None:
        self.root = Path(root)
        self.name = name or str(root)

    @property
    def packages_dir(self) -> Path:
        return self.root / "packages"

    def exists(self) -> bool:
        return (self.root / "config.json").is_file()

    def require(self) -> LocalIndex:
        """Raise a clear error unless this folder holds an index."""
        if not self.exists():
            raise IndexReadError(
                f"{self.root} is not a fleetprompt index (no config.json): create one with "
                "'fleetprompt publish PATH --index DIR'"
            )
        return self

    def config(self) -> dict[str, Any]:
        return _read_json(self.root / "config.json", {"schema": INDEX_SCHEMA})

    def flags(self) -> dict[str, dict[str, bool]]:
        data = _read_json(self.root / "flags.json", {"schema": INDEX_SCHEMA, "packages": {}})
        packages = data.get("packages", {})
        return packages if isinstance(packages, dict) else {}

    def file_for(self, slug: str) -> Path:
        return self.packages_dir / package_path(canonical_slug(slug))

    def archive_for(self, slug: str, version: str) -> str:
        template = self.config().get("archives", DEFAULT_ARCHIVES)
        return template.format(slug=slug, version=str(Version(version)))

    def package_files(self) -> Iterator[tuple[str, os.stat_result]]:
        """Every package file as (path relative to the root, its stat)."""
        # Plain strings and scandir: this runs on every command for folder
        # indexes, over up to tens of thousands of files.
        root = str(self.root)
        skip = len(root) + 1
        stack = [os.path.join(root, "packages")]
        while stack:
            try:
                entries = os.scandir(stack.pop())
            except FileNotFoundError:
                continue
            with entries:
                for entry in entries:
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(entry.path)
                    elif entry.is_file(follow_symlinks=False) and entry.name[0] != ".":
                        yield entry.path[skip:], entry.stat(follow_symlinks=False)

    def read_file(self, relative: str) -> tuple[list[IndexEntry], list[IndexProblem]]:
        """Parse one package file, skipping (and reporting) bad lines."""
        path = self.root / relative
        entries: list[IndexEntry] = []
        problems: list[IndexProblem] = []
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            return [], [IndexProblem(str(path), 0, f"cannot read: {error}")]
        expected = path.name
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                entry = IndexEntry.parse(line)
            except ValueError as error:
                problems.append(IndexProblem(str(path), number, str(error)))
                continue
            if canonical_slug(entry.slug) != expected:
                problems.append(
                    IndexProblem(
                        str(path), number, f"entry for {entry.slug!r} in the file of {expected!r}"
                    )
                )
                continue
            entry.index = self.name
            entries.append(entry)
        return entries, problems

    def versions(self, slug: str) -> list[IndexEntry]:
        """Every readable version entry of a package, in file order."""
        entries, _ = self.read_file(os.path.relpath(self.file_for(slug), self.root))
        return entries

    def entry(self, slug: str, version: str) -> IndexEntry:
        """One version's entry, matched by canonical version."""
        wanted = canonical_version(version)
        for entry in self.versions(slug):
            if canonical_version(entry.version) == wanted:
                return entry
        raise NotFound(f"{slug} {version} is not in the index {self.name}")
