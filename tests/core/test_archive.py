"""Archives: reproducible builds, verification, hostile archives, the cache."""

from __future__ import annotations

import gzip
import io
import json
import os
import stat
import tarfile
from pathlib import Path

import pytest

from fleetprompt_cli.core.archive import (
    ARCHIVE_MTIME,
    ExtractLimits,
    build_archive,
    extract_archive,
    read_archive_texts,
    sha256_file,
    verify_archive,
)
from fleetprompt_cli.errors import IntegrityError, InvalidInput, NotFound
from fleetprompt_cli.indexio.fetch import ArchiveCache

FILES = {
    "fleetprompt.toml": "schema_version = 1\n",
    "prompts/dispatcher.md": "You dispatch jobs.\n",
    "skills/schedule.md": "# Schedule\n",
    "skills/deep/nested/geo.md": "géo ✓\n",
    "README.md": "hello\n",
    "prompts/café.md": "non-ASCII names take a pax header\n",
}


def make_package(root: Path, files: dict[str, str] = FILES, *, reverse: bool = False) -> Path:
    """Write ``files`` under ``root`` (in reverse order when asked) and return it."""
    root.mkdir(parents=True, exist_ok=True)
    for name in sorted(files, reverse=reverse):
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(files[name], encoding="utf-8")
    return root


def leftovers(folder: Path) -> list[str]:
    """Everything in ``folder``, so tests can assert nothing was left behind."""
    return sorted(p.name for p in folder.iterdir())


# --- building ----------------------------------------------------------------


def test_two_builds_of_the_same_files_are_identical(tmp_path):
    first = make_package(tmp_path / "a")
    old_umask = os.umask(0o077)
    try:
        second = make_package(tmp_path / "b", reverse=True)
    finally:
        os.umask(old_umask)
    for index, path in enumerate(sorted(p for p in first.rglob("*") if p.is_file())):
        os.utime(path, (1_000_000 + index, 1_000_000 + index))
        path.chmod(0o664)
    for path in second.rglob("*"):
        if path.is_file():
            os.utime(path, (2_000_000_000, 2_000_000_000))

    one = build_archive(first, tmp_path / "one.tar.gz")
    two = build_archive(second, tmp_path / "two.tar.gz")

    assert one.path.read_bytes() == two.path.read_bytes()
    assert one.sha256 == two.sha256 == sha256_file(one.path)
    assert one.size == one.path.stat().st_size
    assert one.files == tuple(sorted(FILES))


def test_a_content_change_changes_the_hash(tmp_path):
    package = make_package(tmp_path / "pkg")
    before = build_archive(package, tmp_path / "before.tar.gz")
    (package / "README.md").write_text("hello!\n", encoding="utf-8")
    after = build_archive(package, tmp_path / "after.tar.gz")
    assert before.sha256 != after.sha256


def test_the_executable_bit_is_kept_and_changes_the_hash(tmp_path):
    package = make_package(tmp_path / "pkg", {"run.sh": "#!/bin/sh\n", "data.txt": "x\n"})
    plain = build_archive(package, tmp_path / "plain.tar.gz")
    (package / "run.sh").chmod(0o700)
    executable = build_archive(package, tmp_path / "exec.tar.gz")
    assert plain.sha256 != executable.sha256

    with tarfile.open(executable.path, "r:gz") as tar:
        modes = {member.name: member.mode for member in tar.getmembers()}
    assert modes == {"data.txt": 0o644, "run.sh": 0o755}


def test_members_are_sorted_files_with_fixed_metadata(tmp_path):
    package = make_package(tmp_path / "pkg")
    info = build_archive(package, tmp_path / "pkg.tar.gz")

    with tarfile.open(info.path, "r:gz") as tar:
        members = tar.getmembers()
    assert [m.name for m in members] == sorted(FILES)
    for member in members:
        assert member.isreg()  # files only: no directory entries
        assert (member.mtime, member.uid, member.gid) == (ARCHIVE_MTIME, 0, 0)
        assert (member.uname, member.gname, member.mode) == ("", "", 0o644)

    header = info.path.read_bytes()[:10]
    assert header[:3] == b"\x1f\x8b\x08"
    assert header[3] == 0  # no flags: no file name or comment stored
    assert header[4:8] == b"\x00\x00\x00\x00"  # gzip mtime 0


def test_member_names_are_unicode_normalised(tmp_path):
    decomposed = "cafe\u0301.md"
    package = make_package(tmp_path / "pkg", {decomposed: "x"})
    info = build_archive(package, tmp_path / "pkg.tar.gz")
    assert info.files == ("caf\u00e9.md",)


def test_excluded_files_are_left_out(tmp_path):
    package = make_package(tmp_path / "pkg")
    for junk in (
        ".git/config",
        ".git/objects/ab/cdef",
        "__pycache__/mod.cpython-311.pyc",
        "skills/__pycache__/x.pyc",
        "stray.pyc",
        ".DS_Store",
        "skills/.DS_Store",
    ):
        (package / junk).parent.mkdir(parents=True, exist_ok=True)
        (package / junk).write_bytes(b"junk")
    clean = build_archive(make_package(tmp_path / "clean"), tmp_path / "clean.tar.gz")

    info = build_archive(package, tmp_path / "pkg.tar.gz")

    assert info.files == tuple(sorted(FILES))
    assert info.sha256 == clean.sha256


def test_an_archive_inside_the_package_folder_is_not_archived(tmp_path):
    package = make_package(tmp_path / "pkg")
    dest = package / "dist" / "pkg.tar.gz"
    first = build_archive(package, dest)
    (package / "dist" / ".pkg.tar.gz.stale.tmp").write_bytes(b"left by a crash")
    second = build_archive(package, dest)
    assert first.sha256 == second.sha256
    assert "dist/pkg.tar.gz" not in second.files
    assert second.files == tuple(sorted(FILES))


def test_a_build_leaves_only_the_archive_and_makes_its_folder(tmp_path):
    package = make_package(tmp_path / "pkg")
    out = tmp_path / "out" / "nested"
    info = build_archive(package, out / "pkg.tar.gz")
    assert leftovers(out) == ["pkg.tar.gz"]
    assert stat.S_IMODE(info.path.stat().st_mode) == 0o644


def test_a_symlink_in_the_package_is_refused(tmp_path):
    package = make_package(tmp_path / "pkg")
    (package / "skills" / "link.md").symlink_to(package / "README.md")
    with pytest.raises(InvalidInput, match=r"link\.md.*symbolic link"):
        build_archive(package, tmp_path / "pkg.tar.gz")
    assert not (tmp_path / "pkg.tar.gz").exists()
    assert leftovers(tmp_path) == ["pkg"]


def test_a_symlinked_folder_in_the_package_is_refused(tmp_path):
    package = make_package(tmp_path / "pkg")
    (package / "elsewhere").symlink_to(tmp_path)
    with pytest.raises(InvalidInput, match="elsewhere"):
        build_archive(package, tmp_path / "pkg.tar.gz")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs os.mkfifo")
def test_a_fifo_in_the_package_is_refused(tmp_path):
    package = make_package(tmp_path / "pkg")
    os.mkfifo(package / "pipe")
    with pytest.raises(InvalidInput, match=r"pipe.*fifo"):
        build_archive(package, tmp_path / "pkg.tar.gz")


def test_a_missing_or_empty_package_folder_is_an_error(tmp_path):
    with pytest.raises(NotFound):
        build_archive(tmp_path / "nope", tmp_path / "x.tar.gz")
    (tmp_path / "empty" / "__pycache__").mkdir(parents=True)
    with pytest.raises(InvalidInput, match="no files"):
        build_archive(tmp_path / "empty", tmp_path / "x.tar.gz")
    (tmp_path / "file").write_text("x")
    with pytest.raises(InvalidInput, match="not a folder"):
        build_archive(tmp_path / "file", tmp_path / "x.tar.gz")


def test_a_package_over_the_limits_is_not_built(tmp_path):
    package = make_package(tmp_path / "pkg")
    with pytest.raises(InvalidInput, match="more than the 2"):
        build_archive(package, tmp_path / "a.tar.gz", limits=ExtractLimits(max_members=2))
    with pytest.raises(InvalidInput, match="limit for one file"):
        build_archive(package, tmp_path / "a.tar.gz", limits=ExtractLimits(max_member_size=5))
    with pytest.raises(InvalidInput, match="limit for an archive"):
        build_archive(package, tmp_path / "a.tar.gz", limits=ExtractLimits(max_total_size=20))
    assert leftovers(tmp_path) == ["pkg"]


# --- round trip, texts, verification -------------------------------------------


def test_build_then_extract_gives_the_same_files(tmp_path):
    package = make_package(tmp_path / "pkg")
    (package / "run.sh").write_text("#!/bin/sh\n")
    (package / "run.sh").chmod(0o755)
    info = build_archive(package, tmp_path / "pkg.tar.gz")
    out = tmp_path / "out"
    out.mkdir()

    extracted = extract_archive(info.path, out / "pkg")

    assert extracted == list(info.files) == sorted([*FILES, "run.sh"])
    for name in extracted:
        assert (out / "pkg" / name).read_bytes() == (package / name).read_bytes()
    assert os.access(out / "pkg" / "run.sh", os.X_OK)
    assert not os.access(out / "pkg" / "README.md", os.X_OK)
    assert leftovers(out) == ["pkg"]


def test_extract_replaces_an_existing_folder(tmp_path):
    info = build_archive(make_package(tmp_path / "pkg"), tmp_path / "pkg.tar.gz")
    out = tmp_path / "out"
    (out / "pkg").mkdir(parents=True)
    (out / "pkg" / "old.md").write_text("old")

    extract_archive(info.path, out / "pkg")

    assert not (out / "pkg" / "old.md").exists()
    assert (out / "pkg" / "README.md").read_text() == "hello\n"
    assert leftovers(out) == ["pkg"]


def test_a_refused_archive_keeps_the_existing_folder(tmp_path):
    archive = hostile_archive(tmp_path, [regular("../evil", b"x")])
    out = tmp_path / "out"
    (out / "pkg").mkdir(parents=True)
    (out / "pkg" / "old.md").write_text("old")
    with pytest.raises(IntegrityError):
        extract_archive(archive, out / "pkg")
    assert (out / "pkg" / "old.md").read_text() == "old"
    assert leftovers(out) == ["pkg"]


def test_read_archive_texts_returns_utf8_files_and_skips_binary(tmp_path):
    package = make_package(tmp_path / "pkg")
    (package / "icon.png").write_bytes(b"\x89PNG\r\n\x1a\n\xff\x00")
    info = build_archive(package, tmp_path / "pkg.tar.gz")

    texts = read_archive_texts(info.path)

    assert texts == FILES
    assert list(texts) == sorted(FILES)


def test_verify_accepts_the_right_checksum_and_refuses_another(tmp_path):
    info = build_archive(make_package(tmp_path / "pkg"), tmp_path / "pkg.tar.gz")
    verify_archive(info.path, info.sha256)
    verify_archive(info.path, info.sha256.upper())

    wrong = "0" * 64
    with pytest.raises(IntegrityError) as caught:
        verify_archive(info.path, wrong)
    message = str(caught.value)
    assert message.startswith(f"checksum mismatch for {info.path}")
    assert f"expected {wrong}, got {info.sha256}" in message
    assert caught.value.details["actual"] == info.sha256


def test_verify_a_missing_file_or_malformed_checksum(tmp_path):
    with pytest.raises(NotFound):
        verify_archive(tmp_path / "missing.tar.gz", "0" * 64)
    with pytest.raises(InvalidInput, match="not a sha256"):
        verify_archive(tmp_path / "missing.tar.gz", "abc")


# --- hostile archives ------------------------------------------------------------


def regular(name: str, data: bytes) -> tuple[tarfile.TarInfo, bytes | None]:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    return info, data


def special(name: str, kind: bytes, linkname: str = "") -> tuple[tarfile.TarInfo, bytes | None]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    return info, None


def hostile_archive(
    tmp_path: Path, members: list[tuple[tarfile.TarInfo, bytes | None]], name: str = "bad.tar.gz"
) -> Path:
    """Write a .tar.gz of ``members`` by hand, in a folder of its own."""
    folder = tmp_path / "archives"
    folder.mkdir(exist_ok=True)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    path = folder / name
    path.write_bytes(gzip.compress(buffer.getvalue(), mtime=0))
    return path


SMALL = ExtractLimits(max_members=3, max_member_size=10, max_total_size=25)

HOSTILE = {
    "traversal": (
        [regular("ok.md", b"ok"), regular("../evil.md", b"x")],
        "../evil.md",
        "traversal",
    ),
    "nested traversal": ([regular("a/../../evil.md", b"x")], "a/../../evil.md", "traversal"),
    "absolute path": ([regular("/tmp/evil.md", b"x")], "/tmp/evil.md", "absolute"),
    "symlink escaping": (
        [special("link", tarfile.SYMTYPE, "../../../etc/passwd")],
        "link",
        "symbolic link",
    ),
    "symlink inside": ([special("link", tarfile.SYMTYPE, "ok.md")], "link", "symbolic link"),
    "hardlink escaping": ([special("hard", tarfile.LNKTYPE, "../outside")], "hard", "hard link"),
    "device": ([special("dev/null", tarfile.CHRTYPE)], "dev/null", "device"),
    "fifo": ([special("pipe", tarfile.FIFOTYPE)], "pipe", "fifo"),
    "too many members": (
        [regular(f"f{i}.md", b"x") for i in range(5)],
        "f3.md",
        "more than 3 members",
    ),
    "member too large": ([regular("big.bin", b"x" * 11)], "big.bin", "limit for one file"),
    "total size bomb": (
        [regular(f"part{i}.bin", b"x" * 9) for i in range(3)],
        "part2.bin",
        "total size",
    ),
    "duplicate path": ([regular("a.md", b"1"), regular("a.md", b"2")], "a.md", "twice"),
    "file under a file": ([regular("a", b"1"), regular("a/b", b"2")], "a/b", "which is a file"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_archives_are_refused_and_leave_nothing(tmp_path, case):
    members, member, reason = HOSTILE[case]
    archive = hostile_archive(tmp_path, members)
    out = tmp_path / "out"
    out.mkdir()

    with pytest.raises(IntegrityError) as caught:
        extract_archive(archive, out / "pkg", limits=SMALL)

    message = str(caught.value)
    assert repr(member) in message
    assert reason in message
    assert caught.value.details["member"] == member
    assert leftovers(out) == []
    assert leftovers(archive.parent) == [archive.name]
    with pytest.raises(IntegrityError, match=reason):
        read_archive_texts(archive, limits=SMALL)


def test_a_huge_member_is_refused_from_its_header_alone(tmp_path):
    # The header claims 8 GiB that the file does not hold: if the scan read or
    # skipped the data it would call the archive corrupt, not too large.
    info = tarfile.TarInfo("bomb.bin")
    info.size = 8 * 1024**3
    archive = hostile_archive(tmp_path, [(info, None)])
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(IntegrityError, match=r"'bomb.bin'.*limit for one file"):
        extract_archive(archive, out / "pkg")
    assert leftovers(out) == []


def test_the_member_count_stops_the_scan_early(tmp_path):
    archive = hostile_archive(tmp_path, [regular(f"f{i}.md", b"x") for i in range(5)])
    # A damaged gzip trailer is only seen at the end of the stream, which the
    # scan never reaches once the fourth member is over the limit.
    archive.write_bytes(archive.read_bytes()[:-4])
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(IntegrityError, match="more than 3 members"):
        extract_archive(archive, out / "pkg", limits=SMALL)
    with pytest.raises(IntegrityError, match="is corrupt"):
        extract_archive(archive, out / "pkg")
    assert leftovers(out) == []


def test_data_hidden_after_the_tar_is_refused_by_the_byte_budget(tmp_path):
    archive = hostile_archive(tmp_path, [regular("a.md", b"a")])
    tar = gzip.decompress(archive.read_bytes())
    archive.write_bytes(gzip.compress(tar + bytes(200_000), mtime=0))
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(IntegrityError, match="decompresses to more than"):
        extract_archive(archive, out / "pkg", limits=SMALL)
    assert leftovers(out) == []
    # The same archive is fine under the default limits: zeros after the end
    # of a tar are legal padding.
    assert extract_archive(archive, out / "pkg") == ["a.md"]


def test_a_huge_pax_header_is_refused_by_the_byte_budget(tmp_path):
    info, data = regular("a.md", b"a")
    info.pax_headers = {"comment": "x" * 200_000}
    archive = hostile_archive(tmp_path, [(info, data)])
    with pytest.raises(IntegrityError, match="decompresses to more than"):
        read_archive_texts(archive, limits=SMALL)


def corrupt_variants(good: bytes) -> dict[str, bytes]:
    tar = gzip.decompress(good)
    return {
        "truncated gzip": good[: len(good) // 2],
        "truncated gzip trailer": good[:-4],
        "flipped byte": good[:-12] + bytes([good[-12] ^ 0xFF]) + good[-11:],
        "not gzip": tar,
        "empty": b"",
        "truncated tar": gzip.compress(tar[:700], mtime=0),
    }


@pytest.mark.parametrize(
    "case",
    [
        "truncated gzip",
        "truncated gzip trailer",
        "flipped byte",
        "not gzip",
        "empty",
        "truncated tar",
    ],
)
def test_corrupt_archives_are_refused_and_leave_nothing(tmp_path, case):
    package = make_package(tmp_path / "pkg", {"big.md": "word " * 4000, "a.md": "a"})
    good = build_archive(package, tmp_path / "good.tar.gz").path.read_bytes()
    archive = tmp_path / "archives" / "bad.tar.gz"
    archive.parent.mkdir()
    archive.write_bytes(corrupt_variants(good)[case])
    out = tmp_path / "out"
    out.mkdir()

    with pytest.raises(IntegrityError, match=rf"archive {archive} is corrupt: "):
        extract_archive(archive, out / "pkg")

    assert leftovers(out) == []
    with pytest.raises(IntegrityError, match="is corrupt"):
        read_archive_texts(archive)


def test_extracting_a_missing_archive_is_not_found(tmp_path):
    with pytest.raises(NotFound):
        extract_archive(tmp_path / "missing.tar.gz", tmp_path / "out")
    assert leftovers(tmp_path) == []


def test_foreign_archives_with_folder_entries_and_dot_prefixes_are_accepted(tmp_path):
    folder = tarfile.TarInfo("./skills")
    folder.type = tarfile.DIRTYPE
    folder.mode = 0o777
    archive = hostile_archive(
        tmp_path,
        [(folder, None), regular("./skills/a.md", b"a"), regular("./b.md", b"b")],
        name="foreign.tar.gz",
    )
    assert extract_archive(archive, tmp_path / "out") == ["b.md", "skills/a.md"]
    assert read_archive_texts(archive) == {"b.md": "b", "skills/a.md": "a"}


# --- the cache -----------------------------------------------------------------


@pytest.fixture
def built(tmp_path):
    return build_archive(make_package(tmp_path / "pkg"), tmp_path / "src" / "pkg.tar.gz")


def cache_files(cache: ArchiveCache) -> list[Path]:
    return sorted(p for p in cache.root.rglob("*") if p.is_file())


def test_path_for_is_sharded_by_the_first_two_digits(tmp_path):
    cache = ArchiveCache(tmp_path / "cache")
    digest = "ab" + "c" * 62
    assert cache.path_for(digest.upper()) == tmp_path / "cache" / "ab" / f"{digest}.tar.gz"
    with pytest.raises(InvalidInput):
        cache.path_for("../../etc/passwd")


@pytest.mark.parametrize("as_url", [False, True], ids=["path", "file-url"])
def test_fetch_copies_into_the_cache(tmp_path, built, as_url):
    cache = ArchiveCache(tmp_path / "cache")
    source = built.path.as_uri() if as_url else str(built.path)

    path = cache.fetch(source, built.sha256)

    assert path == cache.path_for(built.sha256)
    assert path.read_bytes() == built.path.read_bytes()
    assert cache_files(cache) == [path]


def test_a_cache_hit_does_not_read_the_source(tmp_path, built):
    cache = ArchiveCache(tmp_path / "cache")
    first = cache.fetch(str(built.path), built.sha256)
    built.path.unlink()
    assert cache.fetch(str(built.path), built.sha256) == first


def test_a_corrupted_cache_entry_is_fetched_again(tmp_path, built):
    cache = ArchiveCache(tmp_path / "cache")
    path = cache.fetch(str(built.path), built.sha256)
    path.write_bytes(b"bit rot")

    assert cache.fetch(str(built.path), built.sha256) == path
    assert sha256_file(path) == built.sha256
    assert cache_files(cache) == [path]


def test_a_checksum_mismatch_leaves_the_cache_empty(tmp_path, built):
    cache = ArchiveCache(tmp_path / "cache")
    wrong = "f" * 64
    with pytest.raises(IntegrityError, match=f"checksum mismatch for .*expected {wrong}"):
        cache.fetch(str(built.path), wrong)
    assert cache_files(cache) == []
    assert not cache.path_for(wrong).parent.exists()


def test_an_oversized_source_is_refused(tmp_path, built):
    cache = ArchiveCache(tmp_path / "cache", max_size=100)
    with pytest.raises(IntegrityError, match="larger than"):
        cache.fetch(str(built.path), built.sha256)
    assert cache_files(cache) == []


@pytest.mark.parametrize("as_url", [False, True], ids=["path", "file-url"])
def test_a_missing_source_is_not_found(tmp_path, as_url):
    cache = ArchiveCache(tmp_path / "cache")
    missing = tmp_path / "missing.tar.gz"
    with pytest.raises(NotFound, match=r"missing\.tar\.gz"):
        cache.fetch(missing.as_uri() if as_url else str(missing), "a" * 64)
    assert cache_files(cache) == []


def test_an_unsupported_source_is_invalid(tmp_path):
    cache = ArchiveCache(tmp_path / "cache")
    with pytest.raises(InvalidInput, match="ftp://"):
        cache.fetch("ftp://example.com/pkg.tar.gz", "a" * 64)
    with pytest.raises(InvalidInput, match="another host"):
        cache.fetch("file://example.com/pkg.tar.gz", "a" * 64)


def test_only_regular_files_are_fetched(tmp_path):
    # /dev/zero would be read until the size limit; a fifo would block forever.
    cache = ArchiveCache(tmp_path / "cache")
    with pytest.raises(IntegrityError, match="character device, not a regular file"):
        cache.fetch("/dev/zero", "a" * 64)
    fifo = tmp_path / "fifo.tar.gz"
    os.mkfifo(fifo)
    with pytest.raises(IntegrityError, match="fifo, not a regular file"):
        cache.fetch(str(fifo), "a" * 64)
    assert cache_files(cache) == []


def test_a_fetch_stops_at_the_declared_size(tmp_path, built):
    cache = ArchiveCache(tmp_path / "cache")
    with pytest.raises(IntegrityError, match="larger than the 10 bytes the index declares"):
        cache.fetch(str(built.path), built.sha256, size=10, label="x 1.0 (index: packages/1/x:1)")
    assert cache_files(cache) == []
    assert cache.fetch(str(built.path), built.sha256, size=built.size).is_file()


def test_a_mismatch_does_not_reveal_the_hash_of_what_was_read(tmp_path, built):
    cache = ArchiveCache(tmp_path / "cache")
    with pytest.raises(IntegrityError) as caught:
        cache.fetch(str(built.path), "e" * 64, label="x 1.0 (index: packages/1/x:1)")
    assert "packages/1/x:1" in str(caught.value)
    assert built.sha256 not in str(caught.value) + json.dumps(caught.value.to_json())
