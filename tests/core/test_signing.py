"""The canonical forms and strict record parsing of core/signing.py."""

from __future__ import annotations

import json

import pytest

from fleetprompt_cli.core import signing

ENTRY = {"schema": 1, "slug": "a-b", "version": "1.0.0", "sha256": "0" * 64, "yanked": False}


@pytest.fixture(scope="module")
def key():
    return signing.load_private_key(signing.generate_private_key())


def test_release_payload_ignores_yanked_and_key_order():
    yanked = {**ENTRY, "yanked": True}
    reordered = dict(reversed(list(ENTRY.items())))
    assert signing.release_payload(ENTRY) == signing.release_payload(yanked)
    assert signing.release_payload(ENTRY) == signing.release_payload(reordered)
    assert b"yanked" not in signing.release_payload(ENTRY)
    assert signing.release_payload({**ENTRY, "sha256": "1" * 64}) != signing.release_payload(ENTRY)


def test_a_signature_verifies_only_its_payload_and_kind(key):
    public = signing.public_key_of(key)
    payload = signing.release_payload(ENTRY)
    signature = signing.sign(key, payload)
    assert signing.verify(public, payload, signature)
    assert not signing.verify(
        public, signing.release_payload({**ENTRY, "version": "1.0.1"}), signature
    )
    # Domain separation: the same object signed as a yank record is not a release.
    assert not signing.verify(public, signing.yank_payload(ENTRY), signature)
    assert not signing.verify(public, payload, "not base64!")
    other = signing.public_key_of(signing.load_private_key(signing.generate_private_key()))
    assert not signing.verify(other, payload, signature)


def _record(private, **changes) -> str:
    record = {
        "schema": 1,
        "kind": "yank",
        "slug": "a-b",
        "version": "1.0.0",
        "yanked": True,
        "seq": 1,
        "identity": "alice",
        "key": "a" * 32,
        "signature": signing.sign(private, b"x"),
        **changes,
    }
    return json.dumps({k: v for k, v in record.items() if v is not None})


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"kind": "delete"}, "kind"),
        ({"schema": 2}, "newer than this fleetprompt"),
        ({"schema": "1"}, "schema"),
        ({"identity": "../etc"}, "identity"),
        ({"key": "A" * 32}, "key"),
        ({"signature": "abc"}, "signature"),
        ({"yanked": "true"}, "yanked"),
        ({"seq": 0}, "seq"),
        ({"seq": True}, "seq"),
        ({"reason": "x" * 501}, "reason"),
        ({"version": None}, "version"),
    ],
)
def test_hostile_signature_records_are_refused_naming_the_field(key, changes, reason):
    with pytest.raises(ValueError, match=reason):
        signing.parse_signature_line(_record(key, **changes))


def test_a_good_record_parses(key):
    record = signing.parse_signature_line(_record(key, reason="broken"))
    assert (record.kind, record.yanked, record.seq, record.reason) == ("yank", True, 1, "broken")


@pytest.mark.parametrize("line", ["[]", "not json", "{" * 5000, '{"schema": 1}'])
def test_garbage_lines_are_value_errors(line):
    with pytest.raises(ValueError):
        signing.parse_signature_line(line)
    with pytest.raises(ValueError):
        signing.parse_key_line(line)


def test_a_key_record_must_name_its_own_id(key):
    import base64

    public = signing.public_key_of(key)
    record = {
        "schema": 1,
        "identity": "alice",
        "key": base64.b64encode(public).decode(),
        "id": "b" * 32,
        "signed_by": "b" * 32,
        "signature": signing.sign(key, b"x"),
    }
    with pytest.raises(ValueError, match="id: does not match"):
        signing.parse_key_line(json.dumps(record))
    record["id"] = record["signed_by"] = signing.key_id(public)
    assert signing.parse_key_line(json.dumps(record)).self_signed()


def test_private_keys_of_another_type_are_refused():
    with pytest.raises(ValueError, match="PEM"):
        signing.load_private_key(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
