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
from fleetprompt_cli.core.vocab import LIMITS
from fleetprompt_cli.errors import IndexReadError, InvalidInput, NotFound

__all__ = [
    "ARCHIVE_SUFFIX",
    "INDEX_SCHEMA",
    "IndexEntry",
    "IndexProblem",
    "LocalIndex",
    "check_archive_template",
    "is_layout_path",
    "package_path",
]

INDEX_SCHEMA = 1
DEFAULT_ARCHIVES = "archives/{slug}/{slug}-{version}.tar.gz"
ARCHIVE_SUFFIX = ".tar.gz"
_PLACEHOLDERS = frozenset({"slug", "version"})


def package_path(slug: str) -> str:
    """Where a package's file lives under ``packages/`` (crates.io's scheme)."""
    if len(slug) <= 2:
        return f"{len(slug)}/{slug}"
    if len(slug) == 3:
        return f"3/{slug[0]}/{slug}"
    return f"{slug[:2]}/{slug[2:4]}/{slug}"


def is_layout_path(relative: str) -> bool:
    """Whether ``packages/...`` is where the layout puts the package its file name names."""
    name = relative.rsplit("/", 1)[-1]
    return name == canonical_slug(name) and relative == f"packages/{package_path(name)}"


def check_archive_template(template: object) -> str:
    """The ``archives`` template of ``config.json``, or InvalidInput saying what is wrong.

    Only ``{slug}`` and ``{version}`` (both required, no format spec), a
    relative path inside the index (no ``..``, no hidden or ``packages/``
    folder), ending in ``.tar.gz``: ``publish`` writes where it points.
    """
    import string

    where = "config.json: 'archives'"
    if not isinstance(template, str) or not template or len(template) > 200:
        raise InvalidInput(f"{where} must be a path template of at most 200 characters")
    try:
        fields = list(string.Formatter().parse(template))
    except ValueError as error:
        raise InvalidInput(f"{where} {template!r} is not a valid template: {error}") from None
    used = set()
    for _literal, name, spec, conversion in fields:
        if name is None:
            continue
        if name not in _PLACEHOLDERS or spec or conversion:
            raise InvalidInput(
                f"{where} {template!r}: unknown placeholder {{{name}}}; "
                "only {slug} and {version} are allowed"
            )
        used.add(name)
    if used != _PLACEHOLDERS:
        raise InvalidInput(f"{where} {template!r} must use both {{slug}} and {{version}}")
    sample = template.format(slug="x", version="1")
    parts = sample.split("/")
    if (
        sample.startswith("/")
        or "\\" in sample
        or "\x00" in sample
        or ":" in sample
        or any(part in ("", ".", "..") or part.startswith(".") for part in parts)
        or parts[0] == "packages"
        or not sample.endswith(ARCHIVE_SUFFIX)
    ):
        raise InvalidInput(
            f"{where} {template!r} must be a relative path inside the index, outside "
            f"packages/ and hidden folders, ending in {ARCHIVE_SUFFIX}"
        )
    return template


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
    # Where the line is: "packages/cu/st/customer-support:3" (for messages).
    origin: str = field(default="", compare=False)

    @property
    def where(self) -> str:
        """The index and line this entry came from, for messages."""
        place = f"{self.index}: {self.origin}" if self.origin else self.index
        return f"index {place}" if place else "the index"

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
        # Strict: only JSON true yanks (the line model refuses anything else).
        return self.data.get("yanked") is True

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
        """Parse and validate one index line; raises ValueError with a readable reason."""
        if len(line) > LIMITS.index_line:
            raise ValueError(f"line is {len(line)} characters, over the {LIMITS.index_line} limit")
        try:
            data = json.loads(line)
        except json.JSONDecodeError as error:
            raise ValueError(f"not valid JSON ({error.msg} at column {error.colno})") from None
        except RecursionError:
            raise ValueError("not valid JSON (nested too deeply)") from None
        if not isinstance(data, dict):
            raise ValueError("expected a JSON object")
        schema = data.get("schema", INDEX_SCHEMA)
        if type(schema) is int and schema > INDEX_SCHEMA:
            raise ValueError(f"entry schema {schema} is newer than this fleetprompt: upgrade it")
        # Imported here: pydantic is paid for only when a file is (re)read.
        from fleetprompt_cli.core.indexline import validate_line

        validate_line(data)
        try:
            parsed = Version(data["version"])
        except InvalidVersion:
            raise ValueError(f"version: invalid version {data['version']!r}") from None
        return cls(data, raw=line.strip(), parsed_version=parsed)

    def to_line(self) -> str:
        return json.dumps(self.data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _version_key(line: str) -> str | None:
    """The canonical version a line that failed validation names, if it names one."""
    try:
        data = json.loads(line) if len(line) <= LIMITS.index_line else None
        version = data.get("version") if isinstance(data, dict) else None
        if isinstance(version, str) and len(version) <= LIMITS.version:
            return canonical_version(version)
    except (ValueError, RecursionError):
        pass
    return None


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
        # Set by whoever wrote config.json for a new index (publish commits it).
        self.created = False

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
        return self.read_flags()[0]

    def read_flags(self) -> tuple[dict[str, dict[str, bool]], list[IndexProblem]]:
        """The maintainer flags, and what was wrong with ``flags.json`` (then ignored)."""
        path = self.root / "flags.json"
        try:
            data = _read_json(path, {"schema": INDEX_SCHEMA, "packages": {}})
        except IndexReadError as error:
            return {}, [IndexProblem(str(path), 0, f"{error.message.split(': ', 1)[-1]}; ignored")]
        packages = data.get("packages", {})
        if not isinstance(packages, dict):
            return {}, [IndexProblem(str(path), 0, "'packages' must be an object; ignored")]
        flags: dict[str, dict[str, bool]] = {}
        problems = []
        for slug, marks in packages.items():
            if isinstance(marks, dict) and all(
                key in ("verified", "featured") and isinstance(value, bool)
                for key, value in marks.items()
            ):
                flags[slug] = marks
            else:
                problems.append(
                    IndexProblem(
                        str(path), 0, f"flags of {slug!r} must be true/false values; ignored"
                    )
                )
        return flags, problems

    def file_for(self, slug: str) -> Path:
        return self.packages_dir / package_path(canonical_slug(slug))

    def archive_template(self) -> str:
        """The validated ``archives`` template of ``config.json``."""
        return check_archive_template(self.config().get("archives", DEFAULT_ARCHIVES))

    def archive_for(self, slug: str, version: str) -> str:
        relative = self.archive_template().format(slug=slug, version=str(Version(version)))
        self.confined(relative)
        return relative

    def confined(self, relative: str) -> Path:
        """``root/relative`` when it stays inside the index, symlinks resolved; else refuse."""
        root = self.root.resolve()
        target = (root / relative).resolve()
        if not target.is_relative_to(root) or target == root:
            raise InvalidInput(f"{relative} leads outside the index {self.root}: refusing to write")
        return target

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
        """Parse one package file, skipping (and reporting) bad and duplicate lines.

        The first line of a canonical version is that version; a later line
        for it (a tampered copy appended to an append-only file) is reported
        and ignored.
        """
        path = self.root / relative
        entries: list[IndexEntry] = []
        problems: list[IndexProblem] = []
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            return [], [IndexProblem(str(path), 0, f"cannot read: {error}")]
        expected = path.name
        seen: dict[str, int] = {}
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                entry = IndexEntry.parse(line)
            except ValueError as error:
                problems.append(IndexProblem(str(path), number, str(error)))
                # Still the first line of its version: a later (appended)
                # line does not take its place.
                key = _version_key(line)
                if key is not None:
                    seen.setdefault(key, number)
                continue
            if canonical_slug(entry.slug) != expected:
                problems.append(
                    IndexProblem(
                        str(path), number, f"entry for {entry.slug!r} in the file of {expected!r}"
                    )
                )
                continue
            key = canonical_version(entry.parsed_version or entry.version)
            if key in seen:
                problems.append(
                    IndexProblem(
                        str(path),
                        number,
                        f"duplicate of {entry.slug} {entry.version} (line {seen[key]} is that "
                        "version): ignored",
                    )
                )
                continue
            seen[key] = number
            entry.index = self.name
            entry.origin = f"{relative}:{number}"
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
