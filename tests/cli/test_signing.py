"""Signed releases end to end: keys, publish/yank signing, pinning, policies, index verify.

Real git repositories in tmp_path reached by file://; the author and the
client have separate homes, as on two machines.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from fleetprompt_cli.errors import ExitCode
from tests.helpers import git, git_index, run_cli, write_package


@pytest.fixture
def author(tmp_path: Path) -> dict[str, str]:
    """The environment of an author 'alice' with a signing key, in her own home."""
    env = {"FLEETPROMPT_HOME": str(tmp_path / "alice-home"), "FLEETPROMPT_ACTOR": "alice"}
    result = run_cli("keys", "generate", env=env)
    assert result.exit_code == 0, result.stderr
    return env


def publish(index: Path, folder: Path, env: dict[str, str], *args: str) -> None:
    result = run_cli("publish", str(folder), "--index", str(index), *args, env=env)
    assert result.exit_code == 0, result.stderr


@pytest.fixture
def remote(tmp_path: Path, author) -> Path:
    """A git index with two signed versions of 'sig-tool'."""
    repo = git_index(tmp_path / "remote")
    for version in ("1.0.0", "1.1.0"):
        publish(repo, write_package(tmp_path / "src", "sig-tool", version), author)
    return repo


def add_team(remote: Path, *args: str):
    result = run_cli("index", "add", "team", remote.as_uri(), *args)
    assert result.exit_code == 0, result.stderr
    return result


def verify(*args: str):
    result = run_cli("index", "verify", "--index", "team", "--json", *args)
    return result, json.loads(result.stdout)


def dry_install(spec: str, *args: str):
    return run_cli("install", spec, "--dry-run", "--yes", *args)


def commit_all(repo: Path, message: str) -> None:
    git("add", "-A", cwd=repo)
    git("commit", "--quiet", "-m", message, cwd=repo)


# -- keys -----------------------------------------------------------------


def test_keys_generate_writes_a_0600_key_and_show_prints_the_public_half(isolated_home):
    env = {"FLEETPROMPT_ACTOR": "bob"}
    result = run_cli("keys", "generate", "--json", env=env)
    assert result.exit_code == 0, result.stderr
    key = json.loads(result.stdout)["key"]
    path = Path(key["path"])
    assert path.parent == isolated_home / "keys"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    shown = json.loads(run_cli("keys", "show", "--json", env=env).stdout)["key"]
    assert shown["identity"] == "bob" and shown["key_id"] == key["key_id"]
    assert "PRIVATE" not in run_cli("keys", "show", env=env).stdout
    again = run_cli("keys", "generate", env=env)
    assert again.exit_code == ExitCode.EXISTS
    assert "--rotate" in again.stderr


def test_a_loose_key_file_mode_is_warned_about(isolated_home):
    assert run_cli("keys", "generate").exit_code == 0
    os.chmod(isolated_home / "keys" / "signing.key", 0o644)
    result = run_cli("keys", "show")
    assert result.exit_code == 0
    assert "readable by others" in result.stderr and "chmod 600" in result.stderr


def test_a_missing_signing_key_is_a_clear_error_when_signing(tmp_path, isolated_home):
    index = tmp_path / "index"
    folder = write_package(tmp_path / "src", "nokey", "1.0.0")
    result = run_cli("publish", str(folder), "--index", str(index), "--sign")
    assert result.exit_code == ExitCode.NOT_FOUND
    assert "no signing key" in result.stderr and "keys generate" in result.stderr
    assert not (index / "packages").exists()  # nothing half-written
    assert run_cli("keys", "show").exit_code == ExitCode.NOT_FOUND


@pytest.mark.parametrize("damage", ["garbage", "folder"])
def test_an_unreadable_signing_key_is_a_clear_error(tmp_path, isolated_home, damage):
    keys = isolated_home / "keys"
    keys.mkdir()
    if damage == "garbage":
        (keys / "signing.key").write_text("not a key\n")
    else:
        (keys / "signing.key").mkdir()
    index = tmp_path / "index"
    folder = write_package(tmp_path / "src", "badkey", "1.0.0")
    result = run_cli("publish", str(folder), "--index", str(index))
    assert result.exit_code == ExitCode.INVALID, result.stderr
    assert "signing key" in result.stderr and "Traceback" not in result.stderr
    assert not (index / "packages").exists()


def test_publish_without_a_key_stays_unsigned(tmp_path):
    index = tmp_path / "index"
    publish(index, write_package(tmp_path / "src", "plain", "1.0.0"), {})
    assert not (index / "signatures").exists()


# -- verify and install: what signing stops -------------------------------------


def test_signed_index_verifies_and_installs(remote):
    add_team(remote)
    result, doc = verify()
    assert result.exit_code == 0, result.stdout
    assert doc["ok"] and doc["versions"] == 2 and doc["signed"] == 2
    assert doc["trust"] == "require" and doc["archives_checked"] == 2
    assert doc["commits_checked"] == 2
    assert dry_install("sig-tool").exit_code == 0


def test_tampered_archive_is_refused_by_verify_and_install(remote):
    archive = remote / "archives" / "sig-tool" / "sig-tool-1.1.0.tar.gz"
    data = archive.read_bytes()
    archive.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
    commit_all(remote, "swap")
    add_team(remote)
    result, doc = verify()
    assert result.exit_code == ExitCode.INTEGRITY
    messages = [v["message"] for v in doc["violations"]]
    assert any("archive archives/sig-tool/sig-tool-1.1.0.tar.gz has sha256" in m for m in messages)
    assert any("replaced in commit" in m for m in messages)  # and git history says so
    # The line and its signature are intact: the install fetches the archive
    # and refuses it by the signed sha256, installing nothing.
    refused = run_cli("install", "sig-tool", "--yes")
    assert refused.exit_code == ExitCode.INTEGRITY
    assert "checksum mismatch for sig-tool 1.1.0" in refused.stderr
    listed = json.loads(run_cli("list", "--json").stdout)
    (row,) = [i for i in listed["installations"] if i["slug"] == "sig-tool"]
    assert (row["status"], row["version"]) == ("failed", None)


def test_tampered_index_line_is_refused_by_verify_and_install(remote):
    path = remote / "packages" / "si" / "g-" / "sig-tool"
    lines = path.read_text().splitlines()
    data = json.loads(lines[1])
    data["description"] = "now with a backdoor"
    lines[1] = json.dumps(data, sort_keys=True, separators=(",", ":"))
    path.write_text("\n".join(lines) + "\n")
    commit_all(remote, "edit")
    add_team(remote)
    result, doc = verify()
    assert result.exit_code == ExitCode.INTEGRITY
    found = {(v["version"], v["message"]) for v in doc["violations"]}
    assert (
        "1.1.0",
        "the signature does not match the index line (the line was changed)",
    ) in found
    assert any("version 1.1.0 was changed or removed in commit" in m for _, m in found)
    refused = dry_install("sig-tool")
    assert refused.exit_code == ExitCode.INTEGRITY
    assert "sig-tool 1.1.0" in refused.stderr and "does not match" in refused.stderr
    # The untouched version still installs.
    assert dry_install("sig-tool==1.0.0").exit_code == 0


def test_removed_signature_file_is_found_in_history(remote):
    (remote / "signatures" / "si" / "g-" / "sig-tool").unlink()
    commit_all(remote, "drop signatures")
    add_team(remote, "--trust", "verify-if-present")
    result, doc = verify()
    assert result.exit_code == ExitCode.INTEGRITY
    assert any(
        v["where"] == "signatures/si/g-/sig-tool" and "deleted in commit" in v["message"]
        for v in doc["violations"]
    )


def test_index_history_rewritten_after_pinning_is_refused(remote, tmp_path, author):
    add_team(remote)
    assert run_cli("index", "update").exit_code == 0
    # The index's maintainer (or a mirror) rewrites history: a force-push.
    git("reset", "--quiet", "--hard", "HEAD~1", cwd=remote)
    # (Another version: republishing the same one within the same second
    # could recreate the very commit that was dropped.)
    publish(remote, write_package(tmp_path / "src2", "sig-tool", "1.2.0"), author)
    result = run_cli("index", "update")
    assert result.exit_code == ExitCode.INTEGRITY
    assert "history was rewritten" in result.stderr and "team" in result.stderr
    assert run_cli("index", "verify", "--index", "team").exit_code == ExitCode.INTEGRITY
    # The client's copy did not move to the rewritten history: what it
    # installs is still what it saw before.
    assert dry_install("sig-tool==1.1.0", "--json").exit_code == 0


def test_a_fast_forward_update_is_accepted(remote, tmp_path, author):
    add_team(remote)
    publish(remote, write_package(tmp_path / "src2", "sig-tool", "1.2.0"), author)
    assert run_cli("index", "update").exit_code == 0
    assert dry_install("sig-tool==1.2.0").exit_code == 0


# -- key rotation -------------------------------------------------------------


def test_key_rotation_signed_by_the_pinned_key_is_accepted(remote, tmp_path, author):
    add_team(remote)  # pins alice's first key
    result = run_cli("keys", "generate", "--rotate", env=author)
    assert result.exit_code == 0, result.stderr
    publish(remote, write_package(tmp_path / "src2", "sig-tool", "2.0.0"), author)
    keys = (remote / "keys" / "alice").read_text().splitlines()
    assert len(keys) == 2
    assert run_cli("index", "update").exit_code == 0
    assert dry_install("sig-tool==2.0.0").exit_code == 0
    result, doc = verify()
    assert result.exit_code == 0, doc["violations"]


def test_key_rotation_not_signed_by_a_trusted_key_is_refused(remote, tmp_path):
    add_team(remote)  # pins alice's first key
    # Someone with write access to the index adds a new 'alice' key of their own.
    mallory = {"FLEETPROMPT_HOME": str(tmp_path / "mallory"), "FLEETPROMPT_ACTOR": "alice"}
    assert run_cli("keys", "generate", env=mallory).exit_code == 0
    from fleetprompt_cli.actions.keys import key_record, load_signing_key
    from fleetprompt_cli.settings import load_settings

    with pytest.MonkeyPatch.context() as patch:
        for name, value in mallory.items():
            patch.setenv(name, value)
        key = load_signing_key(load_settings())
    record = key_record("alice", key.public, key.private, key.id)
    with (remote / "keys" / "alice").open("a") as stream:
        stream.write(json.dumps(record, sort_keys=True) + "\n")
    commit_all(remote, "add a key")
    publish(remote, write_package(tmp_path / "src2", "sig-tool", "3.0.0"), mallory)
    result = run_cli("index", "update")
    assert result.exit_code == 0
    refused = dry_install("sig-tool==3.0.0")
    assert refused.exit_code == ExitCode.INTEGRITY
    assert "sig-tool 3.0.0" in refused.stderr and "not a key this client trusts" in refused.stderr
    result, doc = verify()
    assert result.exit_code == ExitCode.INTEGRITY
    assert any(
        v["where"] == "keys/alice:2" and "not signed by a key this client trusts" in v["message"]
        for v in doc["violations"]
    )


# -- policies -------------------------------------------------------------------


@pytest.fixture
def unsigned_remote(tmp_path) -> Path:
    repo = git_index(tmp_path / "plain")
    env = {"FLEETPROMPT_HOME": str(tmp_path / "nokey-home")}
    publish(repo, write_package(tmp_path / "src", "plain-tool", "1.0.0"), env)
    return repo


def test_unsigned_package_under_require_is_refused(unsigned_remote):
    result = add_team(unsigned_remote)
    assert "trust: require" in result.stdout
    refused = dry_install("plain-tool")
    assert refused.exit_code == ExitCode.INTEGRITY
    assert "plain-tool 1.0.0" in refused.stderr and "not signed" in refused.stderr
    assert "--allow-unsigned" in refused.stderr
    result, doc = verify()
    assert result.exit_code == ExitCode.INTEGRITY and doc["signed"] == 0


def test_allow_unsigned_overrides_require(unsigned_remote):
    add_team(unsigned_remote)
    assert dry_install("plain-tool", "--allow-unsigned").exit_code == 0
    result, _ = verify("--allow-unsigned")
    assert result.exit_code == 0


def test_unsigned_package_under_verify_if_present_is_accepted(unsigned_remote):
    add_team(unsigned_remote, "--trust", "verify-if-present")
    listing = json.loads(run_cli("index", "list", "--json").stdout)["indexes"]
    assert [i["trust"] for i in listing] == ["verify-if-present", "verify-if-present"]
    assert dry_install("plain-tool").exit_code == 0
    result, _ = verify()
    assert result.exit_code == 0


def test_a_bad_trust_policy_is_refused(unsigned_remote, isolated_home):
    result = run_cli("index", "add", "team", unsigned_remote.as_uri(), "--trust", "maybe")
    assert result.exit_code == ExitCode.USAGE
    (isolated_home / "config.toml").write_text(
        f'indexes = [{{name = "t", url = "{unsigned_remote.as_uri()}", trust = "yes"}}]\n'
    )
    result = run_cli("search", "plain")
    assert result.exit_code == ExitCode.INVALID
    assert "'trust' must be one of require, verify-if-present" in result.stderr


# -- yanks --------------------------------------------------------------------------


def test_yank_keeps_the_release_signature_valid_and_is_a_signed_record(remote, author):
    result = run_cli("yank", "sig-tool", "1.0.0", "--index", str(remote), env=author)
    assert result.exit_code == 0, result.stderr
    records = [
        json.loads(line)
        for line in (remote / "signatures" / "si" / "g-" / "sig-tool").read_text().splitlines()
    ]
    assert [r["kind"] for r in records] == ["release", "release", "yank"]
    assert records[2]["yanked"] is True and records[2]["seq"] == 1
    assert run_cli("yank", "sig-tool", "1.0.0", "--undo", "--index", str(remote), env=author)
    add_team(remote)
    result, doc = verify()
    assert result.exit_code == 0, doc["violations"]
    assert doc["commits_checked"] == 4


def test_an_unsigned_yank_flag_is_a_violation_under_require(remote):
    path = remote / "packages" / "si" / "g-" / "sig-tool"
    lines = path.read_text().splitlines()
    data = json.loads(lines[0])
    data["yanked"] = True
    lines[0] = json.dumps(data, sort_keys=True, separators=(",", ":"))
    path.write_text("\n".join(lines) + "\n")
    commit_all(remote, "yank by hand")
    add_team(remote)
    result, doc = verify()
    assert result.exit_code == ExitCode.INTEGRITY
    assert [(v["version"], v["message"]) for v in doc["violations"]] == [
        ("1.0.0", "yanked without a signed yank record")
    ]


def test_hostile_signature_lines_are_named(remote):
    sigs = remote / "signatures" / "si" / "g-" / "sig-tool"
    with sigs.open("a") as stream:
        stream.write('{"schema":1,"kind":"release","slug":"sig-tool"}\n\x1b[31mred\n')
    commit_all(remote, "junk")
    add_team(remote)
    result = run_cli("index", "verify", "--index", "team")
    assert result.exit_code == ExitCode.INTEGRITY
    assert "signatures/si/g-/sig-tool:3: sig-tool" not in result.stdout  # no version known
    assert "signatures/si/g-/sig-tool:3: invalid signature record: version" in result.stdout
    assert "signatures/si/g-/sig-tool:4: invalid signature record: not valid JSON" in result.stdout
    assert "\x1b" not in result.stdout
    assert all(len(line) <= 80 for line in result.stdout.splitlines())


# -- hostile places -------------------------------------------------------------------


def test_a_signatures_folder_symlinked_out_of_the_index_is_refused(tmp_path, author):
    index = tmp_path / "index"
    publish(index, write_package(tmp_path / "src", "first", "1.0.0"), author)
    outside = tmp_path / "outside"
    outside.mkdir()
    (index / "signatures").rename(tmp_path / "old-signatures")
    (index / "signatures").symlink_to(outside)
    package_file = index / "packages" / "fi" / "rs" / "first"
    before = package_file.read_bytes()
    result = run_cli(
        "publish",
        str(write_package(tmp_path / "src", "first", "1.1.0")),
        "--index",
        str(index),
        env=author,
    )
    assert result.exit_code == ExitCode.INVALID, result.stderr
    assert "refusing to write a signature there" in result.stderr
    assert list(outside.iterdir()) == []
    assert package_file.read_bytes() == before  # the batch was undone
    assert not (index / "archives" / "first" / "first-1.1.0.tar.gz").exists()


def test_a_corrupt_trust_file_is_named(unsigned_remote, isolated_home):
    add_team(unsigned_remote, "--trust", "verify-if-present")
    (trust_file,) = (isolated_home / "trust").iterdir()
    trust_file.write_text('{"schema": 1, "keys": [1]}')
    result = dry_install("plain-tool")
    assert result.exit_code == ExitCode.INVALID
    assert str(trust_file) in result.stderr and "delete it" in result.stderr


def test_an_actor_that_cannot_be_an_identity_is_refused():
    result = run_cli("keys", "generate", env={"FLEETPROMPT_ACTOR": "../evil"})
    assert result.exit_code == ExitCode.INVALID
    assert "FLEETPROMPT_ACTOR" in result.stderr and "identity" in result.stderr


def test_verify_of_a_plain_folder_index(tmp_path, author):
    index = tmp_path / "index"
    publish(index, write_package(tmp_path / "src", "folder-tool", "1.0.0"), author)
    result = run_cli("index", "verify", "--index", str(index), "--json")
    assert result.exit_code == 0, result.stdout
    doc = json.loads(result.stdout)
    assert doc["trust"] == "verify-if-present" and doc["commits_checked"] is None
    assert doc["signed"] == 1
    result = run_cli("index", "verify", "--index", str(tmp_path / "nope"))
    assert result.exit_code == ExitCode.NOT_FOUND
