"""Package archives: reproducible builds, checksums and safe extraction.

An archive is a gzip-compressed tar of a package folder's regular files.  The
same files always give the same bytes (and so the same sha256, which the index
records), whatever the files' mtimes, owners, permissions beyond the executable
bit, the umask, the directory listing order or the time of the build.

Archives hold **regular files only**: no directory entries (folders are implied
by the file paths, so empty folders are not kept) and no links of any kind.
Extraction refuses every link, device and fifo, every path that could escape
the destination, and any archive over the member-count or size limits, before
anything is written; it then extracts with ``tarfile``'s ``data`` filter into
a temporary folder that is renamed into place.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import re
import shutil
import stat
import tarfile
import tempfile
import unicodedata
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from fleetprompt_cli.errors import IntegrityError, InvalidInput, NotFound

__all__ = [
    "ARCHIVE_MTIME",
    "ArchiveInfo",
    "ExtractLimits",
    "build_archive",
    "check_archive_path",
    "check_package_files",
    "extract_archive",
    "file_kind",
    "normalize_sha256",
    "read_archive_texts",
    "sha256_file",
    "verify_archive",
]

# 1980-01-01T00:00:00Z: a fixed mtime for every member.  Not the epoch, so that
# extracted files can later go into a zip file (which cannot store older times).
ARCHIVE_MTIME = 315532800

# Part of the reproducibility contract: another level gives other bytes.
_COMPRESSLEVEL = 9
_CHUNK = 1024 * 1024
_EXCLUDED_NAMES = frozenset({".git", "__pycache__", ".DS_Store"})
_EXCLUDED_SUFFIXES = (".pyc",)
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_DRIVE = re.compile(r"^[A-Za-z]:")
# Longer names are refused on both sides: no real package needs them, and an
# over-long name would fail deep inside the file system with an unclear error.
_MAX_NAME_BYTES = 1024
# Decompressed bytes allowed per member beyond its data: its header, a pax
# header for a long or non-ASCII name, and the padding to a 512-byte block.
_HEADER_ALLOWANCE = 8 * 1024


@dataclass(frozen=True)
class ArchiveInfo:
    """A built archive: where it is, its checksum, its size and its member files."""

    path: Path
    sha256: str
    size: int
    files: tuple[str, ...]


@dataclass(frozen=True)
class ExtractLimits:
    """Bounds an archive must stay within to be read or extracted."""

    max_members: int = 10_000
    max_member_size: int = 16 * 1024 * 1024
    max_total_size: int = 256 * 1024 * 1024


# --- checksums ---------------------------------------------------------------


def sha256_file(path: Path) -> str:
    """The hex sha256 of the file at ``path``."""
    try:
        with open(path, "rb") as handle:
            return hashlib.file_digest(handle, "sha256").hexdigest()
    except FileNotFoundError:
        raise NotFound(f"file {path} does not exist", details={"path": str(path)}) from None
    except IsADirectoryError:
        raise InvalidInput(f"{path} is a folder, not a file", details={"path": str(path)}) from None


def verify_archive(path: Path, expected_sha256: str) -> None:
    """Raise IntegrityError unless the file at ``path`` has the expected sha256."""
    expected = normalize_sha256(expected_sha256)
    actual = sha256_file(path)
    if actual != expected:
        raise IntegrityError(
            f"checksum mismatch for {path}: expected {expected}, got {actual}",
            details={"path": str(path), "expected": expected, "actual": actual},
        )


def normalize_sha256(value: str) -> str:
    """``value`` as a lower-case sha256 hex digest, or InvalidInput."""
    digest = value.strip().lower()
    if not _SHA256.match(digest):
        raise InvalidInput(f"{value!r} is not a sha256 hex digest (64 hex digits)")
    return digest


# --- building ----------------------------------------------------------------


def check_package_files(package_dir: Path, *, limits: ExtractLimits = ExtractLimits()) -> None:
    """Raise InvalidInput for whatever would make ``build_archive`` refuse the folder.

    (Links and special files, names, sizes, counts.)  ``validate`` calls it so
    that it reports everything ``publish`` refuses.
    """
    package_dir = Path(package_dir)
    files = _collect_files(package_dir, package_dir / ".fleetprompt-no-archive")
    if not files:
        raise InvalidInput(f"package folder {package_dir} has no files to archive")
    _check_build_limits(package_dir, files, limits)


def build_archive(
    package_dir: Path, dest: Path, *, limits: ExtractLimits = ExtractLimits()
) -> ArchiveInfo:
    """Write a reproducible ``.tar.gz`` of ``package_dir``'s files to ``dest``."""
    package_dir = Path(package_dir)
    dest = Path(dest)
    if not package_dir.exists():
        raise NotFound(f"package folder {package_dir} does not exist")
    if not package_dir.is_dir():
        raise InvalidInput(f"{package_dir} is not a folder")
    files = _collect_files(package_dir, dest)
    if not files:
        raise InvalidInput(f"package folder {package_dir} has no files to archive")
    # An archive the installer would refuse must not be published at all.
    _check_build_limits(package_dir, files, limits)

    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as raw:
            _write_tar_gz(raw, files)
            raw.flush()
            os.fsync(raw.fileno())
        # mkstemp creates the file 0o600; an archive is meant to be shared.
        os.chmod(tmp, 0o644)
        digest = sha256_file(tmp)
        size = tmp.stat().st_size
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return ArchiveInfo(
        path=dest, sha256=digest, size=size, files=tuple(name for name, _, _ in files)
    )


def _collect_files(package_dir: Path, dest: Path) -> list[tuple[str, Path, int]]:
    """The files to archive as sorted (member name, path, size) triples."""
    root = package_dir.resolve()
    dest_abs = dest.resolve()
    # A crashed earlier build may have left its temp file beside dest.
    stale_prefix = f".{dest.name}."
    found: dict[str, tuple[Path, int]] = {}
    folders = [root]
    while folders:
        folder = folders.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError as error:
            raise InvalidInput(f"cannot read folder {folder}: {error.strerror}") from None
        for entry in entries:
            path = Path(entry.path)
            if entry.name in _EXCLUDED_NAMES or entry.name.endswith(_EXCLUDED_SUFFIXES):
                continue
            if path == dest_abs or (
                folder == dest_abs.parent
                and entry.name.startswith(stale_prefix)
                and entry.name.endswith(".tmp")
            ):
                continue
            mode = entry.stat(follow_symlinks=False).st_mode
            if stat.S_ISDIR(mode):
                folders.append(path)
                continue
            if not stat.S_ISREG(mode):
                raise InvalidInput(
                    f"cannot archive {path}: it is a {file_kind(mode)}; "
                    "a package may hold only regular files and folders",
                    details={"path": str(path)},
                )
            name = _source_member_name(root, path)
            if name in found:
                raise InvalidInput(
                    f"cannot archive {path}: its name is the same as {found[name][0]} "
                    "once Unicode-normalised",
                    details={"path": str(path)},
                )
            found[name] = (path, entry.stat(follow_symlinks=False).st_size)
    return [(name, path, size) for name, (path, size) in sorted(found.items())]


def _source_member_name(root: Path, path: Path) -> str:
    # macOS stores names decomposed (NFD), Linux as written; NFC makes the
    # same package give the same archive on both.
    name = unicodedata.normalize("NFC", path.relative_to(root).as_posix())
    try:
        encoded = name.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput(
            f"cannot archive {path}: its name is not valid UTF-8", details={"path": str(path)}
        ) from None
    if len(encoded) > _MAX_NAME_BYTES:
        raise InvalidInput(
            f"cannot archive {path}: its path is longer than {_MAX_NAME_BYTES} bytes",
            details={"path": str(path)},
        )
    return name


def file_kind(mode: int) -> str:
    """What a file that is not a regular file or folder is, for messages."""
    if stat.S_ISLNK(mode):
        return "symbolic link"
    if stat.S_ISFIFO(mode):
        return "fifo"
    if stat.S_ISSOCK(mode):
        return "socket"
    if stat.S_ISCHR(mode):
        return "character device"
    if stat.S_ISBLK(mode):
        return "block device"
    return "special file"


def _check_build_limits(
    package_dir: Path, files: list[tuple[str, Path, int]], limits: ExtractLimits
) -> None:
    if len(files) > limits.max_members:
        raise InvalidInput(
            f"package folder {package_dir} has {len(files)} files, "
            f"more than the {limits.max_members} an archive may hold"
        )
    total = 0
    for _, path, size in files:
        if size > limits.max_member_size:
            raise InvalidInput(
                f"cannot archive {path}: it is {size} bytes, "
                f"over the {limits.max_member_size}-byte limit for one file",
                details={"path": str(path)},
            )
        total += size
    if total > limits.max_total_size:
        raise InvalidInput(
            f"package folder {package_dir} holds {total} bytes, "
            f"over the {limits.max_total_size}-byte limit for an archive"
        )


def _write_tar_gz(raw: BinaryIO, files: list[tuple[str, Path, int]]) -> None:
    # filename="" and mtime=0 keep the build's name and time out of the gzip
    # header; GzipFile always writes OS=255, so the header is fixed.
    with (
        gzip.GzipFile(
            filename="", mode="wb", compresslevel=_COMPRESSLEVEL, fileobj=raw, mtime=0
        ) as gz,
        tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT, encoding="utf-8") as tar,
    ):
        for name, path, _ in files:
            with _open_regular(path) as (handle, st):
                info = tarfile.TarInfo(name)
                info.type = tarfile.REGTYPE
                info.size = st.st_size
                info.mtime = ARCHIVE_MTIME
                info.mode = 0o755 if st.st_mode & stat.S_IXUSR else 0o644
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                try:
                    tar.addfile(info, handle)
                except OSError as error:
                    raise InvalidInput(
                        f"cannot archive {path}: {error} (did it change during the build?)",
                        details={"path": str(path)},
                    ) from None


@contextmanager
def _open_regular(path: Path) -> Iterator[tuple[BinaryIO, os.stat_result]]:
    # O_NOFOLLOW closes the gap between the walk's lstat and this open, in
    # which a file could be swapped for a symlink.
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except OSError as error:
        raise InvalidInput(
            f"cannot read {path}: {error.strerror}", details={"path": str(path)}
        ) from None
    with os.fdopen(fd, "rb") as handle:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise InvalidInput(
                f"cannot archive {path}: it is a {file_kind(st.st_mode)}",
                details={"path": str(path)},
            )
        yield handle, st


# --- reading and extracting ----------------------------------------------------


def extract_archive(
    path: Path, dest: Path, *, limits: ExtractLimits = ExtractLimits()
) -> list[str]:
    """Safely extract the archive at ``path`` into the folder ``dest``; return its files."""
    path = Path(path)
    dest = Path(dest)
    with _checked_archive(path, limits) as (tar, members):
        # Only now, with every member checked, is anything written.
        dest.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".tmp"))
        try:
            tar.extractall(staging, members=[member for _, member in members], filter="data")
            # mkdtemp makes the folder 0o700; give it a folder's usual mode.
            os.chmod(staging, 0o755)
            _move_into_place(staging, dest)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    return sorted(name for name, _ in members)


def read_archive_texts(path: Path, *, limits: ExtractLimits = ExtractLimits()) -> dict[str, str]:
    """Every UTF-8 member file's text, by member path; files that are not UTF-8 are skipped."""
    texts: dict[str, str] = {}
    with _checked_archive(Path(path), limits) as (tar, members):
        # Archive order reads the stream forward once, with no rewinds.
        for name, member in members:
            handle = tar.extractfile(member)
            if handle is None:  # pragma: no cover - the scan lets only regular files through
                continue
            with handle:
                data = handle.read()
            try:
                texts[name] = data.decode("utf-8")
            except UnicodeDecodeError:
                continue
    return dict(sorted(texts.items()))


def _move_into_place(staging: Path, dest: Path) -> None:
    if not os.path.lexists(dest):
        os.rename(staging, dest)
        return
    # Rename the old folder aside first, so that dest is missing only for the
    # moment between two renames, and can be put back if the second fails.
    aside = dest.with_name(f".{dest.name}.{os.urandom(8).hex()}.old")
    os.rename(dest, aside)
    try:
        os.rename(staging, dest)
    except BaseException:
        os.rename(aside, dest)
        raise
    if aside.is_dir() and not aside.is_symlink():
        shutil.rmtree(aside, ignore_errors=True)
    else:
        aside.unlink(missing_ok=True)


@contextmanager
def _checked_archive(
    path: Path, limits: ExtractLimits
) -> Iterator[tuple[tarfile.TarFile, list[tuple[str, tarfile.TarInfo]]]]:
    """Open the archive, check all of it, and yield it with its (name, member) files."""
    try:
        raw = open(path, "rb")  # noqa: SIM115 - closed by the with statement below
    except FileNotFoundError:
        raise NotFound(f"archive {path} does not exist", details={"archive": str(path)}) from None
    with raw:
        try:
            with gzip.GzipFile(filename="", mode="rb", fileobj=raw) as gz:
                stream = _BoundedStream(gz, path, _decompressed_budget(limits))
                # _BoundedStream has the read/seek/tell a tar reader uses; typeshed
                # wants a full binary file type.
                with tarfile.open(  # type: ignore[call-overload]
                    fileobj=stream, mode="r:", encoding="utf-8"
                ) as tar:
                    members = _scan(tar, path, limits)
                    _check_complete(stream, path, members)
                    yield tar, members
        except tarfile.FilterError as error:
            # The scan refuses everything the data filter does; this is the
            # second line of defence, and still names the member.
            raise _refused(path, error.tarinfo.name, str(error)) from None
        except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as error:
            raise _corrupt(path, str(error) or type(error).__name__) from None


def _decompressed_budget(limits: ExtractLimits) -> int:
    return limits.max_total_size + (limits.max_members + 1) * _HEADER_ALLOWANCE + tarfile.RECORDSIZE


class _BoundedStream:
    """A read-only view of the decompressed stream that stops at a byte budget.

    The scan's per-member checks name the member, but a hostile archive could
    still make ``tarfile`` read a huge pax header or long-name block into
    memory, or hide gigabytes after the end of the tar; this bound caps the
    bytes decompressed (and held) whatever the archive does.
    """

    def __init__(self, fileobj: gzip.GzipFile, archive: Path, budget: int) -> None:
        self._fileobj = fileobj
        self._archive = archive
        self._budget = budget

    def read(self, size: int | None = -1) -> bytes:
        remaining = self._budget - self._fileobj.tell()
        # Ask for at most one byte past the budget: enough to tell that it
        # was exceeded without ever holding more.
        if size is None or size < 0 or size > remaining + 1:
            size = max(remaining + 1, 0)
        data = self._fileobj.read(size)
        if self._fileobj.tell() > self._budget:
            raise self._over()
        return data

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        target = offset if whence == os.SEEK_SET else self._fileobj.tell() + offset
        # Checked before seeking: a forward seek in gzip decompresses up to it.
        if whence not in (os.SEEK_SET, os.SEEK_CUR) or target > self._budget:
            raise self._over()
        return self._fileobj.seek(target)

    def tell(self) -> int:
        return self._fileobj.tell()

    def _over(self) -> IntegrityError:
        return IntegrityError(
            f"archive {self._archive} refused: it decompresses to more than {self._budget} bytes",
            details={"archive": str(self._archive), "reason": "decompressed size"},
        )


def _scan(
    tar: tarfile.TarFile, archive: Path, limits: ExtractLimits
) -> list[tuple[str, tarfile.TarInfo]]:
    """Check every member header, stopping at the first problem; return the files."""
    files: list[tuple[str, tarfile.TarInfo]] = []
    file_names: set[str] = set()
    folder_names: set[str] = set()
    count = 0
    total = 0
    # next() one member at a time, checking each before the next call: next()
    # seeks past the previous member's data, and that must not happen for a
    # member already known to be too large.
    while (member := tar.next()) is not None:
        count += 1
        if count > limits.max_members:
            raise _refused(archive, member.name, f"more than {limits.max_members} members")
        name = _checked_member_name(archive, member)
        if member.isdir():
            if name:
                _claim(archive, member.name, name, file_names, folder_names, is_file=False)
            continue
        if not member.isreg() or member.issparse():
            raise _refused(archive, member.name, _member_kind(member))
        if not name:
            raise _refused(archive, member.name, "empty path")
        if member.size > limits.max_member_size:
            raise _refused(
                archive,
                member.name,
                f"{member.size} bytes, over the {limits.max_member_size}-byte limit for one file",
            )
        total += member.size
        if total > limits.max_total_size:
            raise _refused(
                archive,
                member.name,
                f"brings the total size to {total} bytes, "
                f"over the {limits.max_total_size}-byte limit",
            )
        _claim(archive, member.name, name, file_names, folder_names, is_file=True)
        files.append((name, member))
    return files


def _checked_member_name(archive: Path, member: tarfile.TarInfo) -> str:
    """The member's path with ``.`` parts dropped, or IntegrityError if it is unsafe."""
    raw = member.name
    if "\x00" in raw:
        raise _refused(archive, raw, "NUL character in the path")
    if raw.startswith(("/", "\\")) or _DRIVE.match(raw):
        raise _refused(archive, raw, "absolute path")
    # A backslash is a separator on Windows, so "a\..\..\x" could escape there.
    if "\\" in raw:
        raise _refused(archive, raw, "backslash in the path")
    parts = [part for part in raw.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise _refused(archive, raw, "path traversal ('..' in the path)")
    name = "/".join(parts)
    try:
        encoded = name.encode("utf-8")
    except UnicodeEncodeError:
        raise _refused(archive, raw, "path is not valid UTF-8") from None
    if len(encoded) > _MAX_NAME_BYTES:
        raise _refused(archive, raw, f"path longer than {_MAX_NAME_BYTES} bytes")
    return name


def _member_kind(member: tarfile.TarInfo) -> str:
    # Every link is refused, not only those that point outside: a package's
    # archive is built with regular files only, so a link can only be hostile.
    if member.issym():
        return f"symbolic link to {member.linkname!r} (links are not allowed)"
    if member.islnk():
        return f"hard link to {member.linkname!r} (links are not allowed)"
    if member.ischr() or member.isblk():
        return "device file"
    if member.isfifo():
        return "fifo"
    if member.issparse():
        return "sparse file"
    return f"unsupported member type {member.type!r}"


def _claim(
    archive: Path,
    raw: str,
    name: str,
    file_names: set[str],
    folder_names: set[str],
    *,
    is_file: bool,
) -> None:
    # A path given twice, or used as both a file and a folder, would make the
    # result depend on member order (a later member silently wins).
    if name in file_names:
        raise _refused(archive, raw, "path appears twice")
    if is_file and name in folder_names:
        raise _refused(archive, raw, "file where another member has a folder")
    parts = name.split("/")
    for depth in range(1, len(parts)):
        parent = "/".join(parts[:depth])
        if parent in file_names:
            raise _refused(archive, raw, f"path inside {parent!r}, which is a file")
        folder_names.add(parent)
    (file_names if is_file else folder_names).add(name)


def _check_complete(
    stream: _BoundedStream, archive: Path, members: list[tuple[str, tarfile.TarInfo]]
) -> None:
    # Reading to the end of the stream makes gzip check its CRC and length
    # trailer, so a damaged or truncated file is refused before any write.
    while stream.read(_CHUNK):
        pass
    end = stream.tell()
    for name, member in members:
        if member.offset_data + member.size > end:
            raise _corrupt(archive, f"member {name!r} is truncated")


def _refused(archive: Path, member: str, reason: str) -> IntegrityError:
    return IntegrityError(
        f"archive {archive} refused: member {member!r}: {reason}",
        details={"archive": str(archive), "member": member, "reason": reason},
    )


def _corrupt(archive: Path, reason: str) -> IntegrityError:
    return IntegrityError(
        f"archive {archive} is corrupt: {reason}",
        details={"archive": str(archive), "reason": reason},
    )


def check_archive_path(archive: str) -> str | None:
    """Why an index line's ``archive`` is refused, or None when it is acceptable.

    An archive is an ``http(s)://`` URL or a relative path inside the index:
    no absolute path, no ``file://`` URL, no ``..``, no backslash, no NUL.
    """
    if "://" in archive:
        scheme = archive.split("://", 1)[0].lower()
        if scheme in ("http", "https"):
            return None
        return f"{scheme}:// URLs are not allowed (use a path inside the index or an http(s) URL)"
    if not archive or "\x00" in archive or "\\" in archive:
        return "must be a relative path inside the index (no NUL or backslash)"
    if archive.startswith("/") or re.match(r"^[A-Za-z]:", archive):
        return "is an absolute path: archives must be inside the index"
    if any(part == ".." for part in archive.split("/")):
        return "points outside the index ('..')"
    return None
