"""The archive cache: fetch an index's archives (a local path, file:// or http(s)://) by sha256.

What an install reads is confined, type-checked and bounded here: only a
regular file is copied (never a fifo or a device), reading stops past the
size the index declares (and past the cache's limit), and an archive whose
sha256 differs from the index's is refused before it enters the cache.
Building, verifying and extracting archives is pure and lives in
:mod:`fleetprompt_cli.core.archive`.
"""

from __future__ import annotations

import hashlib
import os
import stat
import tempfile
import urllib.parse
from contextlib import suppress
from pathlib import Path
from typing import BinaryIO

from fleetprompt_cli.core.archive import ExtractLimits, file_kind, normalize_sha256, sha256_file
from fleetprompt_cli.errors import IndexReadError, IntegrityError, InvalidInput, NotFound

__all__ = ["DEFAULT_TIMEOUT", "ArchiveCache"]

# Seconds to wait for an HTTP server before giving up on a download.
DEFAULT_TIMEOUT = 30.0
_CHUNK = 1024 * 1024


class ArchiveCache:
    """Content-addressed cache of archives keyed by sha256, under a root folder."""

    def __init__(
        self,
        root: Path,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        max_size: int = ExtractLimits.max_total_size,
    ) -> None:
        self.root = Path(root)
        self.timeout = timeout
        # A compressed archive is no larger than what it may decompress to; a
        # bigger download is refused rather than allowed to fill the disk.
        self.max_size = max_size

    def path_for(self, sha256: str) -> Path:
        """Where the archive with this sha256 is kept: ``root/ab/abcdef….tar.gz``."""
        # Validation matters: the digest becomes a file name.
        digest = normalize_sha256(sha256)
        return self.root / digest[:2] / f"{digest}.tar.gz"

    def fetch(self, source: str, sha256: str, *, size: int | None = None, label: str = "") -> Path:
        """The cached archive with this sha256, copied or downloaded from ``source`` if needed.

        ``size`` is the size the index declares: reading stops past it (and
        past the cache's limit).  ``label`` names the archive in messages (the
        package and its index line); a mismatch never reports the hash of
        what was read, which could be any local file.
        """
        digest = normalize_sha256(sha256)
        target = self.path_for(digest)
        if target.is_file():
            if sha256_file(target) == digest:
                return target
            # A damaged entry (a disk error, another tool's partial write) is
            # of no use: drop it and fetch again.
            target.unlink(missing_ok=True)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{digest}.", suffix=".tmp")
        tmp = Path(tmp_name)
        name = label or source
        try:
            with os.fdopen(fd, "wb") as out:
                actual = self._copy(source, out, size, name)
                out.flush()
                os.fsync(out.fileno())
            if actual != digest:
                raise IntegrityError(
                    f"checksum mismatch for {name}: expected {digest}, as the index records; "
                    "refusing the archive",
                    details={"path": source, "expected": digest},
                )
            os.chmod(tmp, 0o644)
            os.replace(tmp, target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            # Leave the cache as it was; rmdir fails harmlessly if the shard
            # folder holds other entries (or another fetch's temp file).
            with suppress(OSError):
                target.parent.rmdir()
            raise
        return target

    def _copy(self, source: str, out: BinaryIO, size: int | None, name: str) -> str:
        """Copy ``source`` into ``out``; return the sha256 of what was copied."""
        limit = self.max_size if size is None else min(size, self.max_size)
        scheme = urllib.parse.urlsplit(source).scheme.lower()
        if scheme in ("http", "https"):
            return self._download(source, out, limit, name)
        local = _local_source(source, scheme)
        try:
            # Non-blocking, so that opening a fifo cannot hang; then only a
            # regular file is read (not a fifo, a device like /dev/zero, ...).
            fd = os.open(local, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
        except FileNotFoundError:
            raise NotFound(f"archive {name} does not exist", details={"path": source}) from None
        except IsADirectoryError:
            raise InvalidInput(f"archive {name} is a folder, not a file") from None
        except OSError as error:
            raise IntegrityError(
                f"cannot read archive {name}: {error.strerror}", details={"path": source}
            ) from None
        with os.fdopen(fd, "rb") as handle:
            mode = os.fstat(handle.fileno()).st_mode
            if stat.S_ISDIR(mode):
                raise InvalidInput(f"archive {name} is a folder, not a file")
            if not stat.S_ISREG(mode):
                raise IntegrityError(
                    f"archive {name} refused: it is a {file_kind(mode)}, not a regular file",
                    details={"path": source, "reason": "not a regular file"},
                )
            return self._copy_stream(name, handle, out, limit, size)

    def _download(self, url: str, out: BinaryIO, limit: int, name: str) -> str:
        # Imported here: urllib.request and http.client cost import time that
        # only a download needs.
        import http.client
        import urllib.error
        import urllib.request

        try:
            with urllib.request.urlopen(url, timeout=self.timeout) as response:
                return self._copy_stream(name, response, out, limit, limit)
        except urllib.error.HTTPError as error:
            if error.code in (404, 410):
                raise NotFound(
                    f"archive {url} not found (HTTP {error.code})", details={"path": url}
                ) from None
            raise IndexReadError(
                f"cannot download {url}: HTTP {error.code} {error.reason}"
            ) from None
        except urllib.error.URLError as error:
            raise IndexReadError(f"cannot download {url}: {error.reason}") from None
        except (OSError, http.client.HTTPException) as error:
            raise IndexReadError(f"cannot download {url}: {error}") from None

    def _copy_stream(
        self, name: str, handle: BinaryIO, out: BinaryIO, limit: int, declared: int | None = None
    ) -> str:
        digest = hashlib.sha256()
        size = 0
        while chunk := handle.read(min(_CHUNK, limit - size + 1)):
            size += len(chunk)
            if size > limit:
                what = (
                    f"the {declared} bytes the index declares"
                    if declared is not None and declared <= self.max_size
                    else f"the {self.max_size}-byte limit"
                )
                raise IntegrityError(
                    f"archive {name} is larger than {what}",
                    details={"path": name, "reason": "size"},
                )
            digest.update(chunk)
            out.write(chunk)
        return digest.hexdigest()


def _local_source(source: str, scheme: str) -> Path:
    if scheme == "file":
        from urllib.request import url2pathname

        parts = urllib.parse.urlsplit(source)
        if parts.netloc not in ("", "localhost"):
            raise InvalidInput(
                f"cannot fetch {source}: file URLs on another host are not supported"
            )
        return Path(url2pathname(parts.path))
    # No scheme is a plain path; one letter is a Windows drive (C:\...).
    if len(scheme) <= 1:
        return Path(source)
    raise InvalidInput(
        f"cannot fetch {source}: use a local path or a file://, http:// or https:// URL"
    )
