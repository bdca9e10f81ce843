"""The lock file: byte-stable writing, and a reader that trusts nothing."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fleetprompt_cli.core.lockfile import LockedPackage, LockFile, dump_lock, parse_lock
from fleetprompt_cli.errors import InvalidInput

SHA = "ab" * 32
HASH = "sha256:" + "cd" * 32


def _lock(*packages: LockedPackage, commit: str | None = "0123abcd") -> LockFile:
    return LockFile.build(HASH, "https://example.com/index.git", commit, packages)


def _error(text: str) -> str:
    with pytest.raises(InvalidInput) as caught:
        parse_lock(text, "fleetprompt.lock")
    return str(caught.value)


def test_a_lock_is_written_sorted_and_reads_back_equal():
    lock = _lock(
        LockedPackage("kb", "2.0.0", SHA, "archives/kb-2.0.0.tar.gz", ("core", "comms")),
        LockedPackage("core", "1.3.0", SHA, "archives/core-1.3.0.tar.gz"),
        LockedPackage("comms", "1.1.0", SHA, "archives/comms-1.1.0.tar.gz", ("core",)),
    )
    text = dump_lock(lock)
    assert text.startswith("# This file is written by `fleetprompt lock`")
    assert text.index('slug = "comms"') < text.index('slug = "core"') < text.index('slug = "kb"')
    assert 'dependencies = [\n    "comms",\n    "core",\n]' in text or (
        'dependencies = ["comms", "core"]' in text
    )
    again = parse_lock(text)
    assert again == lock
    assert dump_lock(again) == text


def test_the_same_resolution_gives_the_same_bytes_in_any_order():
    a = LockedPackage("a", "1.0", SHA, "x.tar.gz", ("b", "c"))
    b = LockedPackage("b", "1.0", SHA, "y.tar.gz")
    c = LockedPackage("c", "1.0", SHA, "z.tar.gz")
    a_other_order = LockedPackage("a", "1.0", SHA, "x.tar.gz", ("c", "b"))
    assert dump_lock(_lock(a, b, c)) == dump_lock(_lock(c, a_other_order, b))


@settings(derandomize=True, max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.from_regex(r"[a-z][a-z0-9-]{0,10}[a-z0-9]", fullmatch=True).filter(
            lambda s: "--" not in s
        ),
        st.tuples(
            st.integers(0, 30),
            st.integers(0, 30),
            st.text("0123456789abcdef", min_size=64, max_size=64),
        ),
        max_size=8,
    ),
    st.one_of(st.none(), st.text("0123456789abcdef", min_size=40, max_size=40)),
)
def test_round_trip_is_exact(packages, commit):
    slugs = sorted(packages)
    locked = [
        LockedPackage(slug, f"{major}.{minor}", sha, f"archives/{slug}.tar.gz", tuple(slugs[:n]))
        for n, (slug, (major, minor, sha)) in enumerate(sorted(packages.items()))
    ]
    lock = _lock(*locked, commit=commit)
    text = dump_lock(lock)
    assert parse_lock(text) == lock
    assert dump_lock(parse_lock(text)) == text


GOOD = dump_lock(
    _lock(
        LockedPackage("a", "1.0", SHA, "archives/a.tar.gz", ("b",)),
        LockedPackage("b", "2.0", SHA, "archives/b.tar.gz"),
    )
)


@pytest.mark.parametrize(
    ("edit", "fragment"),
    [
        (("version = 1\n", "version = 2\n"), "newer than this fleetprompt understands"),
        (("version = 1\n", 'version = "1"\n'), "version: missing or not an integer"),
        ((f'requires-hash = "{HASH}"', 'requires-hash = "md5:x"'), "requires-hash: must be"),
        (('sha256 = "' + SHA, 'sha256 = "' + "AB" * 32), "sha256: must be 64 lower-case"),
        (('version = "2.0"', 'version = "two"'), "package 'b'.version: must be a PEP 440"),
        (('slug = "b"', 'slug = "B"'), "slug must be canonical"),
        (('slug = "b"', 'slug = "a"'), "locked twice"),
        (('archive = "archives/b.tar.gz"', 'archive = "\\u001b]0;x"'), "archive: must be"),
        (('commit = "0123abcd"', 'commit = "HEAD; rm"'), "index.commit: must be a git commit"),
        (("[index]", "extra = 1\n[index]"), "extra: unknown key"),
    ],
)
def test_a_hand_edited_lock_is_refused_with_the_field(edit, fragment):
    text = GOOD.replace(*edit, 1)
    assert text != GOOD
    assert fragment in _error(text)


def test_a_lock_that_leaves_out_a_dependency_is_refused():
    text = GOOD.replace('dependencies = [\n    "b",\n]', 'dependencies = ["b", "ghost"]')
    text = text.replace('dependencies = ["b"]', 'dependencies = ["b", "ghost"]')
    assert "ghost" in text
    assert "depends on 'ghost', which the lock leaves out" in _error(text)


def test_garbage_is_refused_not_crashed_on():
    assert "not valid TOML" in _error("version = \n")
    assert "not valid TOML" in _error("x = " + "[" * 50_000 + "]" * 50_000)
    assert "package: must be an array" in _error(
        f'version = 1\nrequires-hash = "{HASH}"\npackage = "x"\n[index]\nurl = "u"\n'
    )
