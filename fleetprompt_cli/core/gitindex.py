"""Moved to :mod:`fleetprompt_cli.indexio.git`; this re-export keeps the old path working.

Temporary (issue 10): git subprocesses are I/O and do not belong in the pure
core.  Remove this module (and its ``ignore_imports`` line in pyproject.toml)
once no caller imports ``fleetprompt_cli.core.gitindex``.
"""

from __future__ import annotations

from fleetprompt_cli.indexio.git import (
    clone_age,
    commit_paths,
    fetch,
    head_signature,
    is_git_url,
    is_repository_root,
)

__all__ = [
    "clone_age",
    "commit_paths",
    "fetch",
    "head_signature",
    "is_git_url",
    "is_repository_root",
]
