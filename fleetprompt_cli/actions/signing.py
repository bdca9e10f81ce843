"""Sign what publish and yank write: release records, yank records and the publisher's key.

Publish and yank call :func:`sign_release` / :func:`sign_yank` after writing
the index line; each appends to the package's signature file (and, the first
time a key is used in an index, to ``keys/<identity>``) and returns the
files it appended to, so the caller commits them with the line.  ``remember``
is told each file before it is appended to, so that a failed batch can
truncate it back (publish's undo).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fleetprompt_cli.actions.keys import SigningKey, has_key, key_record, load_signing_key
from fleetprompt_cli.core import signing
from fleetprompt_cli.core.index import IndexEntry
from fleetprompt_cli.core.names import canonical_slug, canonical_version
from fleetprompt_cli.errors import InvalidInput
from fleetprompt_cli.indexio.verify import read_signatures, signature_file
from fleetprompt_cli.settings import Settings

__all__ = ["publisher_key", "sign_release", "sign_yank"]

Remember = Callable[[Path], None]


def publisher_key(settings: Settings, *, required: bool | None = None) -> SigningKey | None:
    """The key to sign with: loaded when one exists (or ``required``), else None.

    ``required=False`` never signs; ``None`` signs when the publisher has a
    key; ``True`` fails clearly when the key is missing or unreadable.
    """
    if required is False or (required is None and not has_key(settings)):
        return None
    return load_signing_key(settings)


def _append(root: Path, path: Path, line: str, remember: Remember | None) -> None:
    """Append one line to ``path``, refused unless it is a regular file inside the index."""
    parent = path.parent
    while not parent.exists() and parent != root:
        parent = parent.parent
    inside = parent.resolve().is_relative_to(root.resolve())
    if not inside or path.is_symlink() or (path.exists() and not path.is_file()):
        raise InvalidInput(
            f"{path} is not a regular file inside the index {root}: refusing to write "
            "a signature there (check the index's symlinks)"
        )
    if remember is not None:
        remember(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as stream:
        stream.write(line + "\n")
        stream.flush()
        os.fsync(stream.fileno())


def _line(record: dict[str, Any]) -> str:
    import json

    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _publish_key(index_root: Path, key: SigningKey, remember: Remember | None) -> list[Path]:
    """Add the key to ``keys/<identity>`` unless it is there; [] or the file."""
    from fleetprompt_cli.core.signing import parse_key_line

    path = index_root / "keys" / key.identity
    listed: list[str] = []
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                listed.append(parse_key_line(line).id)
            except ValueError:
                continue
    if key.id in listed:
        return []
    if not listed:
        record = key_record(key.identity, key.public, key.private, key.id)
    elif key.endorsement is not None and key.endorsement.get("signed_by") in listed:
        record = key.endorsement
    else:
        raise InvalidInput(
            f"your key {key.id} is not in {path} and no key listed there signed it: "
            f"clients that pinned {key.identity!r} would refuse it (rotate from a listed "
            "key with 'fleetprompt keys generate --rotate')"
        )
    _append(index_root, path, _line(record), remember)
    return [path]


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def sign_release(
    settings: Settings,
    index_root: Path,
    entry: IndexEntry,
    *,
    key: SigningKey | None = None,
    remember: Remember | None = None,
) -> list[Path]:
    """Append the release signature of ``entry`` (and the key, if new); return the files."""
    key = key or load_signing_key(settings)
    written = _publish_key(index_root, key, remember)
    record = {
        "schema": signing.SIGNATURE_SCHEMA,
        "kind": "release",
        "slug": entry.slug,
        "version": entry.version,
        "identity": key.identity,
        "key": key.id,
        "signed_at": _stamp(),
        "signature": signing.sign(key.private, signing.release_payload(entry.data)),
    }
    path = signature_file(index_root, entry.slug)
    _append(index_root, path, _line(record), remember)
    return [*written, path]


def sign_yank(
    settings: Settings,
    index_root: Path,
    slug: str,
    version: str,
    *,
    yanked: bool,
    reason: str | None = None,
    key: SigningKey | None = None,
    remember: Remember | None = None,
) -> list[Path]:
    """Append a signed yank (or unyank) record for a version; return the files."""
    key = key or load_signing_key(settings)
    slug = canonical_slug(slug)
    records, _ = read_signatures(index_root, slug)
    seq = 1 + sum(1 for _, r in records.get(canonical_version(version), []) if r.kind == "yank")
    written = _publish_key(index_root, key, remember)
    record: dict[str, Any] = {
        "schema": signing.SIGNATURE_SCHEMA,
        "kind": "yank",
        "slug": slug,
        "version": version,
        "yanked": yanked,
        "seq": seq,
        "identity": key.identity,
        "key": key.id,
        "signed_at": _stamp(),
    }
    if reason:
        record["reason"] = reason[:500]
    record["signature"] = signing.sign(key.private, signing.yank_payload(record))
    path = signature_file(index_root, slug)
    _append(index_root, path, _line(record), remember)
    return [*written, path]
