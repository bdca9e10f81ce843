"""Git-hosted indexes: clone, fetch, and commit what publish wrote.

A git index is kept as a clone under the cache folder.  After each fetch the
HEAD commit is written to ``.git/fleetprompt-head`` so that readers can tell
whether anything changed without running git.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING

from fleetprompt_cli.errors import IndexReadError
from fleetprompt_cli.settings import safe_url

if TYPE_CHECKING:
    import subprocess
    from collections.abc import Callable

__all__ = [
    "PushRejected",
    "clone_age",
    "commit_paths",
    "fetch",
    "head_signature",
    "is_git_url",
    "is_repository_root",
    "mark_clean",
    "push",
    "reset_to_remote",
    "run_git",
    "run_git_status",
    "sync_for_writing",
]

_SCP_LIKE = re.compile(r"^[\w.-]+@[\w.-]+:")
_HEAD_FILE = "fleetprompt-head"


def is_git_url(location: str) -> bool:
    """Whether an index location names a git repository rather than a folder."""
    return "://" in location or bool(_SCP_LIKE.match(location)) or location.endswith(".git")


def _git(*args: str, cwd: Path | None = None, check: bool = True) -> subprocess.CompletedProcess:
    # subprocess is imported where git runs: readers of a folder index (every
    # search) import this module for is_git_url and never run git.
    import subprocess

    env = {
        **os.environ,
        "GIT_TERMINAL_PROMPT": "0",
        "LC_ALL": "C",
        # No ext:: or fd:: transports from an index URL.
        "GIT_ALLOW_PROTOCOL": "file:git:http:https:ssh",
    }
    try:
        result = subprocess.run(
            ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
        )
    except FileNotFoundError:
        raise IndexReadError("git is not installed: it is needed for git-hosted indexes") from None
    except subprocess.TimeoutExpired:
        raise IndexReadError(f"git {args[0]} timed out after 300 s") from None
    if check and result.returncode != 0:
        raise subprocess.CalledProcessError(result.returncode, args, result.stdout, result.stderr)
    return result


def run_git(*args: str, cwd: Path) -> str:
    """git's standard output for ``args`` in ``cwd``; IndexReadError with git's reason."""
    import subprocess

    try:
        return _git(*args, cwd=cwd).stdout
    except subprocess.CalledProcessError as error:
        raise IndexReadError(f"git {args[0]} in {cwd}: {_last_line(error.stderr)}") from None


def run_git_status(*args: str, cwd: Path) -> int:
    """git's exit status for ``args`` in ``cwd`` (for the commands that answer by it)."""
    return _git(*args, cwd=cwd, check=False).returncode


def _last_line(text: str) -> str:
    """git's reason: its first ``fatal:`` line (later ones are generic advice), else the last."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    fatal = [line for line in lines if line.startswith("fatal: ")]
    chosen = fatal[0] if fatal else (lines[-1] if lines else "unknown error")
    return chosen.removeprefix("fatal: ")


def head_signature(clone: Path) -> str | None:
    """The HEAD commit recorded at the last fetch, or None if never fetched."""
    try:
        return (clone / ".git" / _HEAD_FILE).read_text().strip() or None
    except OSError:
        return None


def clone_age(clone: Path) -> float | None:
    """Seconds since the clone was last fetched, or None if it does not exist."""
    try:
        return max(0.0, time.time() - (clone / ".git" / _HEAD_FILE).stat().st_mtime)
    except OSError:
        return None


def fetch(url: str, clone: Path, *, check: Callable[[Path, str], None] | None = None) -> str:
    """Clone ``url`` into ``clone`` or fast-forward it; return the new HEAD commit.

    ``check(repository, commit)`` is called with what was fetched before the
    clone moves to it; an exception it raises leaves the clone as it was.
    """
    import shutil
    import subprocess

    if url.startswith("-"):
        raise IndexReadError(f"invalid index URL {url!r}: it must not start with '-'")
    try:
        if (clone / ".git").is_dir():
            _git("fetch", "--quiet", "origin", cwd=clone)
            if check is not None:
                check(clone, _git("rev-parse", "FETCH_HEAD", cwd=clone).stdout.strip())
            _git("reset", "--quiet", "--hard", "FETCH_HEAD", cwd=clone)
        else:
            tmp = clone.with_name(clone.name + ".tmp")
            shutil.rmtree(tmp, ignore_errors=True)
            clone.parent.mkdir(parents=True, exist_ok=True)
            # After "--": a URL is never read as an option.
            _git("clone", "--quiet", "--no-tags", "--", url, str(tmp))
            if check is not None:
                try:
                    check(tmp, _git("rev-parse", "HEAD", cwd=tmp).stdout.strip())
                except BaseException:
                    shutil.rmtree(tmp, ignore_errors=True)
                    raise
            shutil.rmtree(clone, ignore_errors=True)
            tmp.rename(clone)
        head = _git("rev-parse", "HEAD", cwd=clone).stdout.strip()
    except subprocess.CalledProcessError as error:
        raise IndexReadError(
            f"cannot fetch {safe_url(url)}: {safe_url(_last_line(error.stderr))}"
        ) from None
    (clone / ".git" / _HEAD_FILE).write_text(head + "\n")
    return head


def is_repository_root(folder: Path) -> bool:
    """Whether ``folder`` is the top level of a git work tree (not a folder inside one)."""
    try:
        top = _git("rev-parse", "--show-toplevel", cwd=folder, check=False)
    except IndexReadError:
        return False
    if top.returncode != 0:
        return False
    return Path(top.stdout.strip()).resolve() == folder.resolve()


def commit_paths(folder: Path, message: str, author: str, paths: list[str]) -> str:
    """Stage exactly ``paths`` (relative to ``folder``) and commit only them; return the id.

    Nothing else in the work tree is staged or committed: not an untracked
    ``.env.local``, not what the user had staged already.
    """
    import subprocess

    identity = []
    if _git("config", "user.name", cwd=folder, check=False).returncode != 0:
        identity += ["-c", f"user.name={author}"]
    if _git("config", "user.email", cwd=folder, check=False).returncode != 0:
        identity += ["-c", f"user.email={author}@fleetprompt.invalid"]
    try:
        literal = "--literal-pathspecs"
        _git(literal, "add", "--", *paths, cwd=folder)
        _git(
            literal,
            *identity,
            "commit",
            "--quiet",
            "-m",
            message,
            "--only",
            "--",
            *paths,
            cwd=folder,
        )
        return _git("rev-parse", "HEAD", cwd=folder).stdout.strip()
    except subprocess.CalledProcessError as error:
        raise IndexReadError(
            f"cannot commit to index {folder}: {_last_line(error.stderr)}"
        ) from None


class PushRejected(Exception):
    """The remote moved since the last fetch (someone else pushed): fetch and retry."""


def _branch(clone: Path) -> str:
    """The branch a writing clone follows: the remote's default, chosen at clone time."""
    return _git("symbolic-ref", "--short", "HEAD", cwd=clone).stdout.strip()


def _remote_head(clone: Path) -> str | None:
    """The fetched remote branch's commit, or None while the remote has no commit."""
    ref = f"refs/remotes/origin/{_branch(clone)}"
    found = _git("rev-parse", "--verify", "--quiet", ref, cwd=clone, check=False)
    return found.stdout.strip() if found.returncode == 0 else None


def sync_for_writing(url: str, clone: Path) -> str | None:
    """Make ``clone`` exactly the remote's current state; return its commit (None: empty).

    The clone is private to writers (publish, yank, owner): it is cloned when
    missing, otherwise fetched and reset hard onto the remote branch, and
    every file git does not track is removed, so nothing a failed attempt
    left behind survives into the next one.
    """
    import shutil
    import subprocess

    if url.startswith("-"):
        raise IndexReadError(f"invalid index URL {url!r}: it must not start with '-'")
    try:
        if (clone / ".git").is_dir():
            # Taken before anything else: whatever happens from here on, the
            # next sync resets unless this one ends with mark_clean().
            was_clean = _take_clean_mark(clone)
            _git("fetch", "--quiet", "--prune", "origin", cwd=clone)
            head = _remote_head(clone)
            if head is None:
                # Still empty: start again from a fresh clone (cheap, and it
                # drops any local commit of a failed first publish).
                shutil.rmtree(clone)
                return sync_for_writing(url, clone)
            if was_clean and _git("rev-parse", "HEAD", cwd=clone).stdout.strip() == head:
                # Left clean by the last writer, and nobody pushed since: a
                # reset and clean of every file of a big index are not needed.
                return head
            _git("reset", "--quiet", "--hard", head, cwd=clone)
            _git("clean", "--quiet", "-ffdx", cwd=clone)
            return head
        tmp = clone.with_name(clone.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        clone.parent.mkdir(parents=True, exist_ok=True)
        _git("clone", "--quiet", "--no-tags", "--", url, str(tmp))
        shutil.rmtree(clone, ignore_errors=True)
        tmp.rename(clone)
        return _remote_head(clone)
    except subprocess.CalledProcessError as error:
        raise IndexReadError(
            f"cannot fetch {safe_url(url)}: {safe_url(_last_line(error.stderr))}"
        ) from None


_CLEAN_MARK = "fleetprompt-clean"


def mark_clean(clone: Path) -> None:
    """Record that the clone is exactly its remote branch (after a push or a reset)."""
    (clone / ".git" / _CLEAN_MARK).touch()


def _take_clean_mark(clone: Path) -> bool:
    try:
        (clone / ".git" / _CLEAN_MARK).unlink()
    except FileNotFoundError:
        return False
    return True


def push(clone: Path, url: str) -> None:
    """Push the clone's HEAD to its branch on the remote.

    Raises :class:`PushRejected` when the remote moved meanwhile (the caller
    fetches and tries again), :class:`IndexReadError` for anything else (an
    unreachable remote, a refused hook).
    """
    branch = _branch(clone)
    result = _git(
        "push", "--porcelain", "origin", f"HEAD:refs/heads/{branch}", cwd=clone, check=False
    )
    if result.returncode == 0:
        return
    for line in result.stdout.splitlines():
        if line.startswith("!") and ("fetch first" in line or "non-fast-forward" in line):
            raise PushRejected(branch)
    raise IndexReadError(
        f"cannot push to {safe_url(url)}: "
        f"{safe_url(_last_line(result.stderr or result.stdout))}; nothing was published"
    )


def reset_to_remote(clone: Path) -> None:
    """Take back what a failed attempt committed or wrote: the clone as last fetched."""
    import shutil
    import subprocess

    try:
        head = _remote_head(clone)
        if head is None:
            shutil.rmtree(clone, ignore_errors=True)
            return
        _git("reset", "--quiet", "--hard", head, cwd=clone)
        _git("clean", "--quiet", "-ffdx", cwd=clone)
        mark_clean(clone)
    except (subprocess.CalledProcessError, IndexReadError):
        # A clone that cannot even be reset is dropped: the next run clones again.
        shutil.rmtree(clone, ignore_errors=True)
