"""The publisher's ed25519 signing key under FLEETPROMPT_HOME: generate, show, load.

``<home>/keys/signing.key`` holds the private key (PKCS#8 PEM, mode 0600);
the identity it signs as is the settings' actor (FLEETPROMPT_ACTOR, the
config's ``actor``, else the OS user).  ``generate --rotate`` replaces the key
and keeps, in ``<home>/keys/endorsement.json``, the new key's record signed
by the old one: the next publish adds it to the index's ``keys/<identity>``,
where clients that pinned the old key accept the new one.
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fleetprompt_cli.core import signing
from fleetprompt_cli.errors import AlreadyExists, InvalidInput, NotFound
from fleetprompt_cli.settings import Settings

__all__ = [
    "KeyInfo",
    "SigningKey",
    "generate_key",
    "has_key",
    "key_record",
    "load_signing_key",
    "show_key",
]

_PRIVATE = "signing.key"
_ENDORSEMENT = "endorsement.json"


@dataclass
class SigningKey:
    """A loaded private key and who it signs as."""

    identity: str
    private: Any
    public: bytes
    id: str
    path: Path
    warnings: list[str] = field(default_factory=list)
    # The key record signed by the previous key, after a rotation (else None).
    endorsement: dict[str, Any] | None = None


@dataclass(frozen=True)
class KeyInfo:
    """What ``keys show`` and ``keys generate`` report."""

    identity: str
    id: str
    public: str
    path: str
    rotated_from: str | None = None
    warnings: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "identity": self.identity,
            "key_id": self.id,
            "public_key": self.public,
            "path": self.path,
            "rotated_from": self.rotated_from,
            "warnings": list(self.warnings),
        }


def _identity(settings: Settings) -> str:
    try:
        return signing.check_identity(settings.actor)
    except ValueError as error:
        raise InvalidInput(
            f"the actor (FLEETPROMPT_ACTOR or --actor) is the signing identity: {error}"
        ) from None


def has_key(settings: Settings) -> bool:
    """Whether a signing key file exists (readable or not)."""
    path = settings.keys_dir / _PRIVATE
    return path.exists() or path.is_symlink()


def key_record(identity: str, public: bytes, signer: Any, signer_id: str) -> dict[str, Any]:
    """A ``keys/<identity>`` record for ``public``, signed by ``signer``."""
    import base64

    record: dict[str, Any] = {
        "schema": signing.SIGNATURE_SCHEMA,
        "identity": identity,
        "key": base64.b64encode(public).decode(),
        "id": signing.key_id(public),
        "signed_by": signer_id,
        "added_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    record["signature"] = signing.sign(signer, signing.key_payload(record))
    return record


def load_signing_key(settings: Settings) -> SigningKey:
    """The signing key, or a clear error (missing: exit 3, unreadable or not a key: exit 8)."""
    path = settings.keys_dir / _PRIVATE
    identity = _identity(settings)
    try:
        mode = path.stat().st_mode
        pem = path.read_bytes()
    except FileNotFoundError:
        raise NotFound(
            f"no signing key at {path}: create one with 'fleetprompt keys generate'"
        ) from None
    except OSError as error:
        raise InvalidInput(
            f"cannot read the signing key {path}: {error.strerror or error}"
        ) from None
    warnings = []
    if stat.S_IMODE(mode) & 0o077:
        warnings.append(
            f"the signing key {path} is readable by others (mode "
            f"{stat.S_IMODE(mode):04o}): run 'chmod 600 {path}'"
        )
    try:
        private = signing.load_private_key(pem)
    except ValueError as error:
        raise InvalidInput(f"the signing key {path} cannot be used: {error}") from None
    public = signing.public_key_of(private)
    endorsement = None
    endorsed = settings.keys_dir / _ENDORSEMENT
    if endorsed.is_file():
        try:
            data = json.loads(endorsed.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise InvalidInput(f"cannot read {endorsed}: {error}") from None
        if isinstance(data, dict) and data.get("id") == signing.key_id(public):
            endorsement = data
    return SigningKey(
        identity, private, public, signing.key_id(public), path, warnings, endorsement
    )


def _write_private(path: Path, pem: bytes) -> None:
    """Write ``pem`` at ``path`` with mode 0600 from the start (never readable by others)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, pem)
        os.fsync(fd)
    finally:
        os.close(fd)
    tmp.replace(path)


def generate_key(settings: Settings, *, rotate: bool = False) -> KeyInfo:
    """Create the signing key; with ``rotate``, replace it, endorsed by the old one."""
    import base64

    identity = _identity(settings)
    path = settings.keys_dir / _PRIVATE
    previous: SigningKey | None = None
    if has_key(settings):
        if not rotate:
            raise AlreadyExists(
                f"a signing key already exists at {path} (replace it with "
                "'fleetprompt keys generate --rotate', which signs the new key with it)"
            )
        previous = load_signing_key(settings)
    elif rotate:
        raise NotFound(f"no signing key at {path} to rotate: run 'fleetprompt keys generate'")
    pem = signing.generate_private_key()
    private = signing.load_private_key(pem)
    public = signing.public_key_of(private)
    if previous is not None:
        record = key_record(identity, public, previous.private, previous.id)
        retired = path.with_name(f"signing-{previous.id}.key")
        _write_private(retired, signing.private_key_bytes(previous.private))
        endorsed = settings.keys_dir / _ENDORSEMENT
        tmp = endorsed.with_name(f".{endorsed.name}.tmp")
        tmp.write_text(json.dumps(record, sort_keys=True) + "\n", encoding="utf-8")
        tmp.replace(endorsed)
    _write_private(path, pem)
    return KeyInfo(
        identity,
        signing.key_id(public),
        base64.b64encode(public).decode(),
        str(path),
        previous.id if previous else None,
    )


def show_key(settings: Settings) -> KeyInfo:
    """The signing key's identity, id and public half (never the private key)."""
    import base64

    key = load_signing_key(settings)
    return KeyInfo(
        key.identity,
        key.id,
        base64.b64encode(key.public).decode(),
        str(key.path),
        key.endorsement.get("signed_by") if key.endorsement else None,
        tuple(key.warnings),
    )
