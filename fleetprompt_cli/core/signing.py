"""Signed releases: canonical forms, ed25519 signatures and the index's signature records.

Pure: bytes in, bytes or records out.  The index holds, beside each package
file, an append-only file of signature records (same path under
``signatures/`` instead of ``packages/``), and one append-only file of public
key records per publisher under ``keys/<identity>``.  docs/index-format.md
describes both; this module is the one place their canonical forms live.

- A **release** record signs the version's index line without its
  ``yanked`` field, so yanking never invalidates it.
- A **yank** record signs itself (slug, version, yanked, reason, a per-version
  sequence number so an old record cannot be replayed).
- A **key** record signs itself with the key that vouches for it: its own key
  for an identity's first key, a key of the same identity for a later one.

The cryptography is the ``cryptography`` library's Ed25519; nothing here
implements any of it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

__all__ = [
    "SIGNATURE_SCHEMA",
    "KeyRecord",
    "SignatureRecord",
    "check_identity",
    "generate_private_key",
    "key_id",
    "key_payload",
    "load_private_key",
    "parse_key_line",
    "parse_signature_line",
    "private_key_bytes",
    "public_key_of",
    "release_payload",
    "sign",
    "verify",
    "yank_payload",
]

SIGNATURE_SCHEMA = 1
# Domain separation: a signature over one kind of record is never valid as another.
_RELEASE = b"fleetprompt-release-v1\n"
_YANK = b"fleetprompt-yank-v1\n"
_KEY = b"fleetprompt-key-v1\n"
_IDENTITY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}$")
_KEY_ID = re.compile(r"^[0-9a-f]{32}$")
_B64 = re.compile(r"^[A-Za-z0-9+/]+={0,2}$")
_MAX_LINE = 4096
_MAX_REASON = 500


def check_identity(identity: str) -> str:
    """The identity, or ValueError: it names a file under ``keys/``."""
    if not isinstance(identity, str) or not _IDENTITY.match(identity):
        raise ValueError(
            f"identity {str(identity)[:80]!r} must be 1-64 letters, digits or '._@+-', "
            "starting with a letter or digit"
        )
    return identity


def _canonical(data: dict[str, Any]) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def release_payload(entry: dict[str, Any]) -> bytes:
    """What a release signature covers: the index line without ``yanked``, canonically."""
    return _RELEASE + _canonical({k: v for k, v in entry.items() if k != "yanked"})


def yank_payload(record: dict[str, Any]) -> bytes:
    """What a yank record's signature covers: the record without its signature."""
    return _YANK + _canonical({k: v for k, v in record.items() if k != "signature"})


def key_payload(record: dict[str, Any]) -> bytes:
    """What a key record's signature covers: the record without its signature."""
    return _KEY + _canonical({k: v for k, v in record.items() if k != "signature"})


def key_id(public: bytes) -> str:
    """A key's short name: the first 16 bytes of the sha256 of its raw public bytes, in hex."""
    return hashlib.sha256(public).hexdigest()[:32]


def generate_private_key() -> bytes:
    """A new ed25519 private key, as PKCS#8 PEM bytes."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    return private_key_bytes(Ed25519PrivateKey.generate())


def private_key_bytes(key: Any) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def load_private_key(pem: bytes) -> Any:
    """The ed25519 private key in ``pem``, or ValueError saying why not."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as error:
        raise ValueError(f"not an unencrypted PEM private key ({error})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("not an ed25519 key")
    return key


def public_key_of(private: Any) -> bytes:
    """The raw 32 public bytes of a private key."""
    from cryptography.hazmat.primitives import serialization

    return private.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )


def sign(private: Any, payload: bytes) -> str:
    """The base64 ed25519 signature of ``payload``."""
    return base64.b64encode(private.sign(payload)).decode()


def verify(public: bytes, payload: bytes, signature: str) -> bool:
    """Whether ``signature`` (base64) is ``public``'s signature of ``payload``."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        raw = base64.b64decode(signature, validate=True)
        Ed25519PublicKey.from_public_bytes(public).verify(raw, payload)
    except (InvalidSignature, ValueError):
        return False
    return True


def _b64(value: object, field: str, size: int) -> bytes:
    if not isinstance(value, str) or len(value) > 200 or not _B64.match(value):
        raise ValueError(f"{field}: expected base64 text")
    try:
        raw = base64.b64decode(value, validate=True)
    except ValueError:
        raise ValueError(f"{field}: expected base64 text") from None
    if len(raw) != size:
        raise ValueError(f"{field}: expected {size} bytes, found {len(raw)}")
    return raw


def _text(data: dict[str, Any], field: str, limit: int = 200) -> str:
    value = data.get(field)
    if not isinstance(value, str) or not value or len(value) > limit:
        raise ValueError(f"{field}: expected a non-empty string of at most {limit} characters")
    return value


def _object(line: str) -> dict[str, Any]:
    if len(line) > _MAX_LINE:
        raise ValueError(f"line is {len(line)} characters, over the {_MAX_LINE} limit")
    try:
        data = json.loads(line)
    except (ValueError, RecursionError):
        raise ValueError("not valid JSON") from None
    if not isinstance(data, dict):
        raise ValueError("expected a JSON object")
    schema = data.get("schema")
    if type(schema) is not int or schema < 1:
        raise ValueError("schema: expected a positive integer")
    if schema > SIGNATURE_SCHEMA:
        raise ValueError(f"schema {schema} is newer than this fleetprompt: upgrade it")
    return data


@dataclass(frozen=True)
class SignatureRecord:
    """One line of a package's signature file: a release or a yank record."""

    kind: str  # "release" or "yank"
    slug: str
    version: str
    identity: str
    key: str
    signature: str
    data: dict[str, Any]

    @property
    def yanked(self) -> bool:
        return self.data.get("yanked") is True

    @property
    def seq(self) -> int:
        return int(self.data.get("seq", 0))

    @property
    def reason(self) -> str | None:
        return self.data.get("reason")


def parse_signature_line(line: str) -> SignatureRecord:
    """Parse one signature-file line strictly; ValueError names the field at fault."""
    data = _object(line)
    kind = data.get("kind")
    if kind not in ("release", "yank"):
        raise ValueError("kind: expected 'release' or 'yank'")
    slug = _text(data, "slug", 64)
    version = _text(data, "version", 64)
    identity = _text(data, "identity", 64)
    check_identity(identity)
    key = _text(data, "key", 32)
    if not _KEY_ID.match(key):
        raise ValueError("key: expected a key id (32 hex digits)")
    _b64(data.get("signature"), "signature", 64)
    if kind == "yank":
        if not isinstance(data.get("yanked"), bool):
            raise ValueError("yanked: expected true or false")
        seq = data.get("seq")
        if type(seq) is not int or not 1 <= seq <= 1_000_000:
            raise ValueError("seq: expected a positive integer")
        reason = data.get("reason")
        if reason is not None and (not isinstance(reason, str) or len(reason) > _MAX_REASON):
            raise ValueError(f"reason: expected text of at most {_MAX_REASON} characters")
    return SignatureRecord(kind, slug, version, identity, key, data["signature"], data)


@dataclass(frozen=True)
class KeyRecord:
    """One line of ``keys/<identity>``: a public key and who vouches for it."""

    identity: str
    public: bytes
    id: str
    signed_by: str
    signature: str
    data: dict[str, Any]

    def self_signed(self) -> bool:
        return self.signed_by == self.id


def parse_key_line(line: str) -> KeyRecord:
    """Parse one key-file line strictly (the signature is checked by the caller)."""
    data = _object(line)
    identity = check_identity(_text(data, "identity", 64))
    public = _b64(data.get("key"), "key", 32)
    ident = _text(data, "id", 32)
    if ident != key_id(public):
        raise ValueError("id: does not match the key")
    signed_by = _text(data, "signed_by", 32)
    if not _KEY_ID.match(signed_by):
        raise ValueError("signed_by: expected a key id (32 hex digits)")
    _b64(data.get("signature"), "signature", 64)
    return KeyRecord(identity, public, ident, signed_by, data["signature"], data)
