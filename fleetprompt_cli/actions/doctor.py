"""``fleetprompt doctor``: check every part an install depends on; name the fix for each finding.

The checks, in order: the indexes (reachable, fresh, readable lines), the
catalog (stale or corrupt), the state store (reachable, schema current), the
queue (reachable, depth, the oldest wake-up's age), directives whose lease
expired or that nobody claimed (their process died or their wake-up was
lost), and installations stuck in a transient state.  Doctor writes nothing:
the catalog and the store are opened read-only, and a queue that does not
exist yet is not created.

Each finding names one command that fixes it.  ``fleetprompt recover`` is
named only for what recover fixes (stranded directives and the installations
they were changing); a stale or broken catalog or a stale index is fixed by
``fleetprompt index update``; an older store by ``fleetprompt db upgrade``.
Findings are ``error`` (unhealthy: doctor exits UNHEALTHY) or ``warning``
(worth knowing, not fixable here: bad lines in someone else's index).
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from fleetprompt_cli.core import lifecycle
from fleetprompt_cli.core.index import LocalIndex
from fleetprompt_cli.core.vocab import OPEN_DIRECTIVE_STATUSES
from fleetprompt_cli.errors import ExitCode, FleetPromptError
from fleetprompt_cli.settings import IndexSource, Settings, safe_url

__all__ = ["Check", "DoctorReport", "Finding", "doctor"]

# How many bad index lines a finding quotes (the rest are counted).
_QUOTED_PROBLEMS = 3
_GIT_TIMEOUT = 20
# The statuses an installation passes through while a directive changes it.
_TRANSIENT = (
    lifecycle.QUEUED,
    lifecycle.INSTALLING,
    lifecycle.UPGRADING,
    lifecycle.UNINSTALLING,
)
INDEX_UPDATE = "fleetprompt index update"
RECOVER = "fleetprompt recover"


@dataclass(frozen=True)
class Finding:
    """One problem: what is wrong, and the command that fixes it (None: nothing here can)."""

    problem: str
    fix: str | None
    severity: str = "error"

    def to_json(self) -> dict[str, Any]:
        return {"severity": self.severity, "problem": self.problem, "fix": self.fix}


@dataclass
class Check:
    """One part checked: a one-line summary, figures, and its findings."""

    name: str
    summary: str
    findings: list[Finding] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not any(f.severity == "error" for f in self.findings)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "ok": self.ok,
            "summary": self.summary,
            "facts": self.facts,
            "findings": [f.to_json() for f in self.findings],
        }


@dataclass
class DoctorReport:
    """Every check, in order."""

    checks: list[Check]

    @property
    def healthy(self) -> bool:
        return all(check.ok for check in self.checks)

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.SUCCESS if self.healthy else ExitCode.UNHEALTHY

    @property
    def fixes(self) -> list[str]:
        """The commands to run, each once, in the order of the findings."""
        seen: dict[str, None] = {}
        for check in self.checks:
            for finding in check.findings:
                if finding.fix and finding.severity == "error":
                    seen.setdefault(finding.fix)
        return list(seen)

    def to_json(self) -> dict[str, Any]:
        return {
            "healthy": self.healthy,
            "checks": [c.to_json() for c in self.checks],
            "fixes": self.fixes,
        }


# -- indexes and the catalog ---------------------------------------------------


def _git_reachable(url: str) -> str | None:
    """None when ``git ls-remote`` reaches the repository, else git's reason."""
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}
    try:
        result = subprocess.run(
            ["git", "ls-remote", "--heads", url],
            capture_output=True,
            text=True,
            timeout=_GIT_TIMEOUT,
            env=env,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        return str(error)
    if result.returncode == 0:
        return None
    lines = [line.strip() for line in result.stderr.splitlines() if line.strip()]
    fatal = [line for line in lines if line.startswith("fatal: ")]
    return (fatal or lines or ["git ls-remote failed"])[0].removeprefix("fatal: ")


def _local_index(settings: Settings, source: IndexSource) -> tuple[LocalIndex | None, str | None]:
    """(the index's local folder, the git HEAD fetched) without fetching anything."""
    from fleetprompt_cli.actions.indexes import _clone_dir, _folder_of
    from fleetprompt_cli.indexio import git as gitindex

    folder = _folder_of(source.url)
    if folder is not None:
        return LocalIndex(folder, source.name), None
    clone = _clone_dir(settings, source)
    if gitindex.clone_age(clone) is None:
        return None, None
    return LocalIndex(clone, source.name), gitindex.head_signature(clone)


def _check_indexes(settings: Settings) -> Check:
    from fleetprompt_cli.indexio import git as gitindex

    check = Check("index", "")
    names = []
    for source in settings.indexes:
        names.append(source.name)
        label = f"index {source.name!r} ({source.url})"
        if not gitindex.is_git_url(source.url) or _folder_of_url(source.url):
            index, _ = _local_index(settings, source)
            assert index is not None
            if not index.root.is_dir():
                check.findings.append(
                    Finding(
                        f"{label} is not reachable: the folder does not exist",
                        f"fleetprompt index remove {source.name}",
                    )
                )
            elif not index.exists():
                check.findings.append(
                    Finding(f"{label} is not a fleetprompt index (no config.json)", None)
                )
            continue
        reason = _git_reachable(source.url)
        if reason is not None:
            check.findings.append(Finding(f"{label} is not reachable: {reason}", None))
        age = gitindex.clone_age(_clone_of(settings, source))
        if age is None:
            check.findings.append(Finding(f"{label} has never been fetched", INDEX_UPDATE))
        elif age > settings.index_max_age:
            check.findings.append(
                Finding(
                    f"{label} is stale: fetched {age / 60:.0f} min ago (the limit is "
                    f"{settings.index_max_age / 60:.0f} min)",
                    INDEX_UPDATE,
                )
            )
    check.facts["indexes"] = names
    check.summary = f"{len(names)} configured" + ("" if check.ok else ", with problems")
    return check


def _folder_of_url(url: str) -> bool:
    from fleetprompt_cli.actions.indexes import _folder_of

    return _folder_of(url) is not None


def _clone_of(settings: Settings, source: IndexSource) -> Path:
    from fleetprompt_cli.actions.indexes import _clone_dir

    return _clone_dir(settings, source)


def _check_catalog(settings: Settings, index_check: Check) -> Check:
    from fleetprompt_cli.indexio.catalog import CATALOG_SCHEMA

    path = settings.catalog_path
    check = Check("catalog", "", facts={"path": str(path)})
    if not path.exists():
        check.summary = "not built yet (built by the first search, show or install)"
        return check
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=5)
    except sqlite3.Error as error:
        check.findings.append(
            Finding(f"the catalog {path} cannot be opened: {error}", INDEX_UPDATE)
        )
        check.summary = "unreadable"
        return check
    try:
        integrity = db.execute("PRAGMA quick_check").fetchone()[0]
        if integrity != "ok":
            raise sqlite3.DatabaseError(integrity)
        meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
        files = db.execute("SELECT index_name, path, size, mtime_ns FROM files").fetchall()
        problems = db.execute(
            "SELECT file, line, message FROM problems ORDER BY file, line"
        ).fetchall()
        packages = db.execute("SELECT count(*) FROM packages").fetchone()[0]
    except sqlite3.Error as error:
        check.findings.append(
            Finding(f"the catalog {path} is corrupt: {error} (it is a cache)", INDEX_UPDATE)
        )
        check.summary = "corrupt"
        return check
    finally:
        db.close()
    check.facts["packages"] = packages
    if meta.get("schema") != CATALOG_SCHEMA:
        check.findings.append(
            Finding(f"the catalog {path} has another format ({meta.get('schema')})", INDEX_UPDATE)
        )
    stale = _stale_indexes(settings, meta, files)
    for name, changed in stale:
        what = f"{changed} package files changed" if changed else "the index list changed"
        check.findings.append(
            Finding(
                f"the catalog is older than index {name!r} ({what} since it was read)",
                INDEX_UPDATE,
            )
        )
    if problems:
        quoted = "; ".join(f"{f}:{line}: {m}" for f, line, m in problems[:_QUOTED_PROBLEMS])
        more = len(problems) - _QUOTED_PROBLEMS
        index_check.findings.append(
            Finding(
                f"{len(problems)} unreadable index lines or files, skipped: {quoted}"
                + (f" (and {more} more)" if more > 0 else ""),
                None,
                severity="warning",
            )
        )
    check.summary = f"{packages} packages" + ("" if check.ok else ", with problems")
    return check


def _stale_indexes(
    settings: Settings, meta: dict[str, str], files: list[tuple[str, str, int, int]]
) -> list[tuple[str, int]]:
    """(index name, files changed) for each index the catalog has not caught up with."""
    import json

    stale = []
    order = json.dumps([s.name for s in settings.indexes])
    if meta.get("order") not in (None, order):
        # The configured indexes changed since the catalog was built.
        return [(name, 0) for name in json.loads(order)]
    for source in settings.indexes:
        index, signature = _local_index(settings, source)
        if index is None or not index.exists():
            continue
        if signature is not None:
            if meta.get(f"signature:{source.name}") != signature:
                stale.append((source.name, 1))
            continue
        known = {p: (size, mtime) for name, p, size, mtime in files if name == source.name}
        changed = 0
        for p, stat in index.package_files():
            if known.pop(p, None) != (stat.st_size, stat.st_mtime_ns):
                changed += 1
        changed += len(known)
        if changed:
            stale.append((source.name, changed))
    return stale


# -- the store, the queue, directives and installations ---------------------------


def _check_store(settings: Settings) -> tuple[Check, bool]:
    """The store's check, and whether the later checks can read it."""
    from fleetprompt_cli.store import fastread

    url = settings.database_url
    check = Check("store", "", facts={"url": safe_url(url), "schema": None})
    try:
        check.facts["schema"] = fastread.schema_revision(url)
        check.summary = f"reachable, schema {check.facts['schema']} (current)"
        return check, True
    except fastread.Fallback as fallback:
        state, current = fallback.state, fallback.current
    check.facts["schema"] = current
    if state in ("missing", "empty"):
        check.summary = "not created yet (created on first use)"
        return check, False
    if state == "older":
        check.findings.append(
            Finding(
                f"the store's schema is at {current}, this fleetprompt expects "
                f"{fastread.SCHEMA_HEAD}",
                "fleetprompt db upgrade",
            )
        )
    elif state == "newer":
        check.findings.append(
            Finding(
                f"the store's schema is at {current}, newer than this fleetprompt "
                f"({fastread.SCHEMA_HEAD}): upgrade fleetprompt",
                None,
            )
        )
    else:
        from fleetprompt_cli.actions.db import db_status

        try:
            found = db_status(settings)
            problem = f"the store has fleetprompt tables but no schema version ({found.state})"
        except FleetPromptError as error:
            problem = str(error)
        check.findings.append(Finding(problem, None))
    check.summary = "unusable"
    return check, False


def _check_queue(settings: Settings) -> Check:
    url = settings.queue_url
    check = Check("queue", "", facts={"url": safe_url(url), "depth": None})
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        check.facts["depth"] = 0
        check.summary = "not created yet (created by the first install)"
        return check
    from fleetprompt_cli.queue import get_huey

    try:
        huey = get_huey(settings)
        depth = int(huey.pending_count())
        woken = [task.args for task in huey.pending(limit=1000)]
    except Exception as error:
        lines = str(error).strip().splitlines()
        check.findings.append(
            Finding(
                f"the queue at {safe_url(url)} is not reachable: "
                f"{lines[0] if lines else type(error).__name__} (installs still run in the "
                "CLI; workers wait for it)",
                None,
            )
        )
        check.summary = "unreachable"
        return check
    check.facts["depth"] = depth
    check.facts["woken"] = woken
    check.summary = f"reachable, {depth} wake-up{'s' if depth != 1 else ''} waiting"
    return check


def _check_work(settings: Settings, queue: Check) -> list[Check]:
    """Stranded directives, stuck installations, and the oldest wake-up's age."""
    from fleetprompt_cli.actions.recover import find_stranded
    from fleetprompt_cli.actions.state import open_state
    from fleetprompt_cli.store import repository as repo

    leases = Check("directives", "")
    stuck = Check("installations", "")
    with open_state(settings) as store:
        stranded = find_stranded(store)
        stranded_ids = {item.id for item in stranded}
        for item in stranded:
            why = (
                "its lease expired (the process running it died)"
                if item.reason == "lease expired"
                else "nobody claimed it (its wake-up was lost, or no worker runs)"
            )
            leases.findings.append(
                Finding(
                    f"directive {item.id} (tenant {item.tenant}, {item.status}): {why}", RECOVER
                )
            )
        open_count = 0
        with store.session(readonly=True) as s:
            now = repo.database_now(s)
            created: dict[str, datetime] = {}
            for tenant in repo.list_tenants(s):
                tenant_id = repo.saved_id(tenant)
                changing: dict[str, str] = {}
                for d in repo.list_directives(s, tenant_id, status=OPEN_DIRECTIVE_STATUSES):
                    open_count += 1
                    created[d.id] = d.created_at
                    for step in repo.list_steps(s, tenant_id, d.id):
                        if step.status in OPEN_DIRECTIVE_STATUSES:
                            changing.setdefault(step.slug, d.id)
                for row in repo.list_installations(s, tenant_id):
                    if row.status not in _TRANSIENT:
                        continue
                    where = f"{row.slug} (tenant {tenant.slug}) is {row.status}"
                    directive = changing.get(row.slug)
                    if directive is None:
                        stuck.findings.append(
                            Finding(
                                f"{where} but no open directive is changing it: please report this",
                                None,
                            )
                        )
                    elif directive in stranded_ids:
                        stuck.findings.append(
                            Finding(f"{where}: its directive {directive} is stranded", RECOVER)
                        )
            # The directives the queue's wake-ups name (finished ones too: a
            # wake-up nobody took is waiting whether or not its work is done).
            woken = queue.facts.pop("woken", [])
            for args in woken:
                if len(args) != 2 or str(args[1]) in created:
                    continue
                try:
                    found = repo.find_directives(s, int(args[0]), str(args[1]), limit=1)
                except (TypeError, ValueError):
                    continue
                created.update({d.id: d.created_at for d in found})
    leases.facts["open"] = open_count
    leases.facts["stranded"] = len(stranded)
    leases.summary = f"{open_count} open, {len(stranded)} stranded"
    stuck.summary = "none stuck" if not stuck.findings else f"{len(stuck.findings)} stuck"
    ages = [
        (now - created[str(args[1])]).total_seconds()
        for args in woken
        if len(args) == 2 and str(args[1]) in created
    ]
    queue.facts["oldest_wakeup_age_seconds"] = round(max(ages), 1) if ages else None
    if ages:
        queue.summary += f", the oldest for {max(ages):.0f} s"
    return [leases, stuck]


def doctor(settings: Settings) -> DoctorReport:
    """Run every check; writes nothing."""
    index = _check_indexes(settings)
    catalog = _check_catalog(settings, index)
    store, readable = _check_store(settings)
    queue = _check_queue(settings)
    checks = [index, catalog, store, queue]
    if readable:
        checks += _check_work(settings, queue)
    else:
        queue.facts.pop("woken", None)
    queue.facts.setdefault("oldest_wakeup_age_seconds", None)
    return DoctorReport(checks)
