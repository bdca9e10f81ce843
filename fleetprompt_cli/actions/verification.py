"""``index verify``: check a whole index against what this client trusts.

Every version line, archive and signature (indexio/verify.py) under the keys
pinned for the index (actions/trust.py), and its git history.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fleetprompt_cli.actions.indexes import resolve_source
from fleetprompt_cli.actions.trust import policy_of, trusted_keys
from fleetprompt_cli.errors import NotFound, UsageError
from fleetprompt_cli.indexio import git as gitindex
from fleetprompt_cli.indexio.verify import VerifyReport, Violation, history_violations
from fleetprompt_cli.indexio.verify import verify_index as check_index
from fleetprompt_cli.settings import DEFAULT_INDEX_NAME, IndexSource, Settings

__all__ = ["IndexVerification", "verify_index"]


@dataclass
class IndexVerification:
    """What ``index verify`` found in one index."""

    name: str
    url: str
    policy: str
    report: VerifyReport
    commit: str | None
    history_checked: bool

    @property
    def violations(self) -> list[Violation]:
        return self.report.violations

    def to_json(self) -> dict[str, Any]:
        r = self.report
        return {
            "index": self.name,
            "url": self.url,
            "trust": self.policy,
            "commit": self.commit,
            "packages": r.packages,
            "versions": r.versions,
            "signed": r.signed,
            "archives_checked": r.archives_checked,
            "commits_checked": r.commits if self.history_checked else None,
            "ok": not r.violations,
            "violations": [v.to_json() for v in r.violations],
        }


def verify_index(
    settings: Settings, index: str | None = None, *, allow_unsigned: bool = False
) -> IndexVerification:
    """Check every version line, archive and signature of an index, and its git history.

    ``index`` is a configured index's name or a location (folder or git URL);
    None means the only configured index, or the first added one.
    """
    source = _pick_source(settings, index)
    warnings: list[str] = []
    local, head = resolve_source(settings, source, update=True, warnings=warnings)
    policy = "verify-if-present" if allow_unsigned else policy_of(source)
    ring, refused = trusted_keys(settings, source, local.root)
    report = check_index(local.root, ring, policy)
    report.violations[:0] = refused
    history = gitindex.is_repository_root(local.root)
    if history:
        report.commits, changed = history_violations(local.root)
        report.violations.extend(changed)
    return IndexVerification(source.name, source.url, policy, report, head, history)


def _pick_source(settings: Settings, index: str | None) -> IndexSource:
    if index is None:
        added = [s for s in settings.indexes if s.name != DEFAULT_INDEX_NAME]
        return added[0] if added else settings.indexes[0]
    for source in settings.indexes:
        if index in (source.name, source.url):
            return source
    if not gitindex.is_git_url(index):
        folder = Path(index).expanduser()
        if not folder.is_dir():
            raise NotFound(f"no configured index named {index!r} and no folder {folder}")
        return IndexSource("verify", str(folder.resolve()), "--index")
    if index.startswith("-"):
        raise UsageError(f"invalid index URL {index!r}")
    return IndexSource("verify", index, "--index")
