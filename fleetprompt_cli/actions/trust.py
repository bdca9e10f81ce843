"""What a client trusts about each index: pinned keys, the last commit seen, the policy.

One file per configured index under ``<home>/trust/`` (like ssh's
known_hosts): the publishers' keys pinned on first use, and the last commit
of a git index this client accepted.  A later fetch must be a fast-forward
of that commit; a key added later must be signed by a pinned key of the
same identity (indexio/verify.py decides; this module keeps the pins).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fleetprompt_cli.core.index import IndexEntry, LocalIndex
from fleetprompt_cli.core.names import canonical_version
from fleetprompt_cli.errors import IntegrityError, InvalidInput
from fleetprompt_cli.indexio import git as gitindex
from fleetprompt_cli.indexio.verify import (
    KeyRing,
    Violation,
    check_entry,
    establish_keys,
    is_ancestor,
    read_signatures,
)
from fleetprompt_cli.settings import DEFAULT_INDEX_NAME, IndexSource, Settings

__all__ = [
    "TrustRecord",
    "check_fast_forward",
    "policy_of",
    "record_head",
    "trusted_keys",
    "verify_entries",
]

_SCHEMA = 1
_COMMIT = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")


def policy_of(source: IndexSource) -> str:
    """An index's trust policy: as configured, else its kind's default.

    The bundled index and plain folders default to ``verify-if-present`` (so
    the quick start works); git indexes to ``require``.
    """
    if source.trust:
        return source.trust
    if source.name == DEFAULT_INDEX_NAME or not gitindex.is_git_url(source.url):
        return "verify-if-present"
    if source.url.lower().startswith("file://"):
        # A file:// URL to a plain folder is a folder index (actions/indexes.py).
        from urllib.parse import unquote, urlsplit

        path = Path(unquote(urlsplit(source.url).path))
        if path.is_dir() and not (path / ".git").exists() and not (path / "HEAD").is_file():
            return "verify-if-present"
    return "require"


@dataclass
class TrustRecord:
    """The pins of one index, as kept in its file under ``<home>/trust/``."""

    path: Path
    url: str
    head: str | None = None
    keys: dict[str, dict[str, str]] = field(default_factory=dict)

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = {"schema": _SCHEMA, "url": self.url, "head": self.head, "keys": self.keys}
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        tmp.replace(self.path)


def _record_path(settings: Settings, source: IndexSource) -> Path:
    digest = hashlib.sha256(source.url.encode()).hexdigest()[:12]
    return settings.trust_dir / f"{source.name}-{digest}.json"


def _load(settings: Settings, source: IndexSource) -> TrustRecord:
    path = _record_path(settings, source)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return TrustRecord(path, source.url)
    except (OSError, ValueError) as error:
        raise InvalidInput(f"{path}: cannot read the pinned keys: {error}") from None
    problem = _shape_problem(data)
    if problem:
        raise InvalidInput(f"{path}: {problem} (delete it to pin this index's keys anew)")
    return TrustRecord(path, source.url, data.get("head"), data.get("keys") or {})


def _shape_problem(data: Any) -> str | None:
    if not isinstance(data, dict) or data.get("schema") != _SCHEMA:
        return f"expected a JSON object with schema {_SCHEMA}"
    head = data.get("head")
    if head is not None and not (isinstance(head, str) and _COMMIT.match(head)):
        return "'head' must be a commit id"
    keys = data.get("keys") or {}
    if not isinstance(keys, dict) or not all(
        isinstance(ids, dict) and all(isinstance(v, str) for v in ids.values())
        for ids in keys.values()
    ):
        return "'keys' must map identities to key ids and keys"
    return None


def check_fast_forward(
    settings: Settings, source: IndexSource, repository: Path, head: str
) -> None:
    """Refuse a fetched commit that does not descend from the last one this client accepted."""
    record = _load(settings, source)
    if record.head is None or record.head == head:
        return
    if not is_ancestor(repository, record.head, head):
        raise IntegrityError(
            f"{source.label}: its history was rewritten: commit {head[:12]} does not "
            f"descend from {record.head[:12]}, the last commit this client saw "
            "(a force-push or a tampered mirror); refusing it. If the index's "
            f"maintainers rewrote it on purpose, delete {record.path} to trust it anew",
            details={"index": source.name, "seen": record.head, "fetched": head},
        )


def record_head(settings: Settings, source: IndexSource, head: str | None) -> None:
    """Remember the commit a git index was accepted at."""
    if head is None or not _COMMIT.match(head):
        return
    record = _load(settings, source)
    if record.head != head:
        record.head = head
        record.save()


def trusted_keys(
    settings: Settings, source: IndexSource, root: Path
) -> tuple[KeyRing, list[Violation]]:
    """The keys this client trusts for an index, pinning new identities (first use)."""
    record = _load(settings, source)
    try:
        pinned = KeyRing.from_pins(record.keys)
    except ValueError:
        raise InvalidInput(
            f"{record.path}: a pinned key is not base64 (delete the file to pin anew)"
        ) from None
    ring, problems = establish_keys(root, pinned)
    pins = ring.to_pins()
    if pins != record.keys:
        record.keys = pins
        record.save()
    return ring, problems


def verify_entries(
    settings: Settings,
    indexes: Sequence[LocalIndex],
    entries: Sequence[IndexEntry],
    *,
    allow_unsigned: bool = False,
) -> None:
    """Refuse (exit 6) unless every entry's signature holds under its index's policy.

    A signature covers the line's sha256, so a swapped archive is refused when
    the install fetches it (the archive cache checks every archive's sha256).
    """
    sources = {s.name: s for s in settings.indexes}
    roots = {index.name: index for index in indexes}
    rings: dict[str, KeyRing] = {}
    problems: list[Violation] = []
    for entry in entries:
        source = sources.get(entry.index)
        index = roots.get(entry.index)
        if source is None or index is None:
            continue
        policy = "verify-if-present" if allow_unsigned else policy_of(source)
        if entry.index not in rings:
            rings[entry.index], _refused = trusted_keys(settings, source, index.root)
        records, _bad = read_signatures(index.root, entry.slug)
        mine = records.get(canonical_version(entry.version), [])
        problems.extend(check_entry(entry, mine, rings[entry.index], policy))
    if problems:
        first = problems[0]
        more = f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""
        hint = (
            " (--allow-unsigned accepts unsigned versions)"
            if "not signed" in first.message and not allow_unsigned
            else ""
        )
        raise IntegrityError(
            f"refusing to install {first.slug} {first.version}: {first.message} "
            f"[{first.where}]{more}{hint}",
            details={"violations": [p.to_json() for p in problems]},
        )
