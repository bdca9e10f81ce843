"""The installer: carry out a directive's steps under a lease.

The CLI (in-process) and the queue's worker both call :func:`run_directive`.
The store is the queue of record: the directive's plan holds everything a
step needs (manifest, archive source and sha256, target config), so a step
can be re-run by any process after a crash.  Each step is idempotent:

1. mark the step running (counting an attempt) and the installation
   ``installing`` / ``upgrading`` / ``uninstalling``;
2. fetch the archive into the content-addressed cache, verify its sha256,
   extract it safely (temp dir + rename) and read its files' text;
3. in one transaction: upsert every resource keyed by (tenant, installation,
   kind, name), drop resources the new version no longer has, complete the
   transition, mark the step done and append a signal.

A step that fails is retried up to three attempts in all (crashes count);
then it is ``failed``, later steps are ``cancelled``, the directive is
``failed`` and earlier steps stay done, or are undone with ``atomic``.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fleetprompt_cli import faults
from fleetprompt_cli.actions import signals
from fleetprompt_cli.core import lifecycle
from fleetprompt_cli.core.archive import extract_archive, read_archive_texts
from fleetprompt_cli.core.install_rules import resources_of
from fleetprompt_cli.errors import ExitCode, FleetPromptError, IntegrityError, StoreUnavailable
from fleetprompt_cli.indexio.fetch import ArchiveCache
from fleetprompt_cli.settings import DEFAULT_LEASE_SECONDS as SETTINGS_LEASE_SECONDS
from fleetprompt_cli.settings import Settings
from fleetprompt_cli.settings import lease_seconds as settings_lease_seconds
from fleetprompt_cli.store.driverstore import driver_transaction

if TYPE_CHECKING:
    from types import ModuleType

    from fleetprompt_cli.core.install_rules import Resource
    from fleetprompt_cli.store.driverstore import DriverStore
    from fleetprompt_cli.store.engine import Session, Store
    from fleetprompt_cli.store.models import Directive, DirectiveStep

__all__ = [
    "MAX_ATTEMPTS",
    "RunOutcome",
    "StepEvent",
    "default_owner",
    "exit_code_of",
    "lease_seconds",
    "run_directive",
]

MAX_ATTEMPTS = 3
# What a progress display shows while a step of each action runs.
_WORKING = {"uninstall": "uninstalling", "upgrade": "upgrading", "downgrade": "upgrading"}
DEFAULT_LEASE_SECONDS = SETTINGS_LEASE_SECONDS
# The kind kept on a directive that failed with anything but a FleetPromptError.
UNEXPECTED = "error"
# The fast path (store/install_step.py) for a fresh install step;
# tests turn it off to compare what the general path writes.
FAST_PATH = True
# ... and, when this process already read its archive, in one (see _at_once).
AT_ONCE = True

# Archive texts by sha256, for the next install of the same version in this
# process (a worker installs the same few packages into many tenants): the
# archive was verified against its sha256 when it was read, and the texts
# are only ever read.  Bounded by total characters.
_FILES_LIMIT = 64 * 1024 * 1024
_files: OrderedDict[str, tuple[dict[str, str], int]] = OrderedDict()
_files_size = 0
_files_lock = threading.Lock()


def _remembered(digest: str) -> dict[str, str] | None:
    with _files_lock:
        found = _files.get(digest)
        if found is None:
            return None
        _files.move_to_end(digest)
        return found[0]


def forget_files() -> None:
    """Drop the archive texts this process remembers (as a new process starts)."""
    global _files_size
    with _files_lock:
        _files.clear()
        _files_size = 0


def _remember(digest: str, files: dict[str, str]) -> None:
    global _files_size
    size = sum(len(text) for text in files.values())
    if size > _FILES_LIMIT // 4:
        return
    with _files_lock:
        if digest in _files:
            return
        _files[digest] = (files, size)
        _files_size += size
        while _files_size > _FILES_LIMIT:
            _, (_, dropped) = _files.popitem(last=False)
            _files_size -= dropped


def _kinds(cls: type[FleetPromptError]) -> dict[str, ExitCode]:
    found = {cls.kind: cls.exit_code}
    for sub in cls.__subclasses__():
        found = {**_kinds(sub), **found}
    return found


def exit_code_of(kind: str | None) -> ExitCode:
    """The exit code of a directive that failed with an error of this kind.

    The runner keeps the failing error's kind on the directive, so whoever
    reports a failed directive (the CLI that ran it, one that followed a
    worker, ``recover``) exits with the same code.
    """
    if not kind:
        return ExitCode.FAILURE
    known = _kinds(FleetPromptError)
    if kind not in known:
        # Error classes outside errors.py, imported here only when needed.
        from fleetprompt_cli.core import manifest  # noqa: F401

        known = _kinds(FleetPromptError)
    return known.get(kind, ExitCode.FAILURE)


def lease_seconds() -> float:
    """The lease length; FLEETPROMPT_LEASE_SECONDS shortens it (tests, impatient operators)."""
    return settings_lease_seconds()


def default_owner(role: str = "cli") -> str:
    """A lease owner name that says who and where: role@host:pid:random."""
    return f"{role}@{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@dataclass(frozen=True)
class StepEvent:
    """Progress of one step, for displays: slug, version and the new status."""

    position: int
    slug: str
    version: str | None
    action: str
    status: str
    message: str = ""


@dataclass
class RunOutcome:
    """How a run of a directive ended."""

    directive_id: str
    status: str  # succeeded, failed, lost (lease taken over), busy (someone else holds it)
    error: str | None = None
    exit_code: ExitCode = ExitCode.SUCCESS
    events: list[StepEvent] = field(default_factory=list)
    # False when the run knows the tenant has no active subscriber (nothing to dispatch).
    dispatch: bool = True


Progress = Callable[[StepEvent], None]


class _LeaseLost(Exception):
    pass


class _LeaseKeeper:
    """One thread per process that renews the leases its runners hold, when due.

    ``hold(renew, period)`` calls ``renew()`` every ``period`` seconds until
    ``drop``; ``renew`` returning False (the lease was lost) or raising (the
    store is down: the steps will say so) is not retried before the next
    period.  The thread runs only while some lease is held: the last
    ``drop`` stops it and waits for it, so a process that ran a directive is
    left with no thread of ours (the resolver pauses the garbage collector
    only when it runs alone).
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._held: dict[int, tuple[float, Callable[[], bool], float]] = {}
        self._tokens = iter(range(1, 1 << 62))
        self._thread: threading.Thread | None = None

    def hold(self, renew: Callable[[], bool], period: float) -> int:
        with self._cond:
            token = next(self._tokens)
            self._held[token] = (time.monotonic() + period, renew, period)
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="lease-keeper", daemon=True)
                self._thread.start()
            self._cond.notify()
        return token

    def drop(self, token: int) -> None:
        with self._cond:
            self._held.pop(token, None)
            thread = self._thread
            if self._held or thread is None:
                return
            self._thread = None  # Its loop sees it is no longer the keeper and ends.
            self._cond.notify()
        if thread is not threading.current_thread():
            thread.join()

    def _loop(self) -> None:
        me = threading.current_thread()
        while True:
            with self._cond:
                if self._thread is not me:
                    return
                now = time.monotonic()
                due = [(t, renew) for t, (at, renew, _) in self._held.items() if at <= now]
                for token, _ in due:
                    _, renew, period = self._held[token]
                    self._held[token] = (now + period, renew, period)
                if not due:
                    soonest = min((at for at, _, _ in self._held.values()), default=now + 60)
                    self._cond.wait(max(soonest - now, 0.001))
                    continue
            for token, renew in due:
                try:
                    alive = renew()
                except Exception:
                    continue  # The store is down: the steps will say so.
                if not alive:
                    with self._cond:
                        self._held.pop(token, None)  # Its runner finds out and drops it.


_keeper = _LeaseKeeper()


class _Runner:
    def __init__(
        self,
        settings: Settings,
        store: Store | DriverStore,
        tenant_id: int,
        directive_id: str,
        owner: str,
        progress: Progress | None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.tenant_id = tenant_id
        self.directive_id = directive_id
        self.owner = owner
        self.lease = lease_seconds()
        self.progress = progress
        self.events: list[StepEvent] = []
        self.cache = ArchiveCache(settings.archive_cache)
        self.actor = ""
        self.kind = ""
        # Set while the directive's last open step runs: its transaction then
        # also finishes the directive (one transaction fewer per directive).
        self.finishing = False
        self.finished = False
        # Whether the tenant may have subscribers to deliver this run's signals to.
        self.dispatch: bool | None = None
        # A fresh one-step install may be written in the claim's transaction.
        self.at_once = AT_ONCE
        # Whether a step of this run took the fast path (the next may too).
        self.fast_ran = False

    # -- plumbing -------------------------------------------------------------

    @property
    def repo(self) -> ModuleType:
        """The ORM repository, imported only when the general path runs."""
        from fleetprompt_cli.store import repository

        return repository

    def emit(self, step: DirectiveStep, status: str, message: str = "") -> None:
        event = StepEvent(step.position, step.slug, step.version, step.action, status, message)
        self.events.append(event)
        if self.progress:
            self.progress(event)

    @contextmanager
    def held(self) -> Iterator[Session]:
        """A transaction that commits only while this runner holds the lease.

        Its first statement renews the lease (a conditional UPDATE that locks
        the directive's row), so a runner whose lease was taken over cannot
        commit a step, a failure or the directive's end behind the new
        holder's back: it rolls back and stops.
        """
        with self.store.session() as s:
            alive = self.repo.heartbeat(
                s, self.tenant_id, self.directive_id, self.owner, lease_seconds=self.lease
            )
            if not alive:
                raise _LeaseLost()
            yield s

    def finish_with(self, session: Session) -> None:
        """In the last step's transaction: the directive succeeded with it.

        Committed with the step or not at all, so a crash anywhere leaves the
        step and the directive open together, as before (recover re-runs it).
        """
        if self.finishing:
            self.repo.finish_directive(session, self.tenant_id, self.directive_id, "succeeded")

    def beat(self) -> None:
        with self.held():
            pass

    def load(self) -> tuple[Directive, list[DirectiveStep]]:
        with self.store.session() as s:
            directive = self.repo.get_directive(s, self.tenant_id, self.directive_id)
            steps = self.repo.list_steps(s, self.tenant_id, self.directive_id)
        return directive, steps

    def plan_step(self, directive: Directive, step: DirectiveStep) -> dict[str, Any]:
        return directive.plan["steps"][step.position]

    # -- files ------------------------------------------------------------------

    def package_files(self, info: dict[str, Any]) -> dict[str, str]:
        """Fetch, verify and extract a version's archive; return its files' text."""
        label = f"{info.get('slug', '')} {info.get('version', '')}".strip()
        if info.get("origin"):
            label += f" ({info['origin']})"
        digest = info["sha256"]
        files = _remembered(digest)
        cached = None
        if files is None:
            cached = self.cache.fetch(info["archive"], digest, size=info.get("size"), label=label)
        faults.checkpoint("fetched")
        if files is None:
            assert cached is not None
            files = read_archive_texts(cached)
            _remember(digest, files)
        target = self.settings.data_dir / "packages" / digest
        if not target.is_dir():
            if cached is None:
                cached = self.cache.fetch(
                    info["archive"], digest, size=info.get("size"), label=label
                )
            extract_archive(cached, target)
        faults.checkpoint("extracted")
        return files

    # -- steps ------------------------------------------------------------------

    def start(self, step: DirectiveStep, info: dict[str, Any]) -> str:
        """Mark the step running and the installation in progress; return what to do.

        The step is marked running (counting the attempt) in a transaction of
        its own, so an attempt whose start is then refused, or whose process
        dies, still counts toward the limit; the step can always fail from
        ``running``.  Re-running a step found ``running`` is idempotent.
        """
        with self.held() as s:
            self.repo.update_step(s, self.tenant_id, self.repo.saved_id(step), "running")
        with self.held() as s:
            inst = self.repo.find_installation(s, self.tenant_id, step.slug, for_update=True)
            action = step.action
            if action == "uninstall":
                if inst is None:
                    return "already"
                if inst.status != lifecycle.UNINSTALLING:
                    self.repo.apply_transition(
                        s,
                        self.tenant_id,
                        step.slug,
                        "start_uninstall",
                        actor=self.actor,
                        directive_id=self.directive_id,
                    )
                return "run"
            if inst is None:
                raise FleetPromptError(
                    f"{step.slug}: the installation planned by this directive is missing"
                )
            if inst.status == lifecycle.FAILED:
                # A new install of a package whose install failed before:
                # the failed row is taken up again, as `recover --retry-failed` does.
                inst = self.repo.apply_transition(
                    s,
                    self.tenant_id,
                    step.slug,
                    "retry",
                    actor=self.actor,
                    directive_id=self.directive_id,
                )
            if inst.status == lifecycle.QUEUED:
                self.repo.apply_transition(
                    s,
                    self.tenant_id,
                    step.slug,
                    "start_install",
                    actor=self.actor,
                    directive_id=self.directive_id,
                )
            elif inst.status in (lifecycle.ACTIVE, lifecycle.PAUSED):
                if inst.pending_version is None and inst.version == info["version"]:
                    return "already"
                self.repo.apply_transition(
                    s,
                    self.tenant_id,
                    step.slug,
                    "start_upgrade",
                    actor=self.actor,
                    directive_id=self.directive_id,
                )
            elif inst.status not in (lifecycle.INSTALLING, lifecycle.UPGRADING):
                raise FleetPromptError(f"{step.slug} is {inst.status}: cannot apply this step")
            return "run"

    def apply(self, step: DirectiveStep, info: dict[str, Any]) -> None:
        """Do the work of one step and commit its result in one transaction."""
        if step.action == "uninstall":
            with self.held() as s:
                inst = self.repo.find_installation(s, self.tenant_id, step.slug, for_update=True)
                if inst is not None:
                    signals.remove_subscriptions(s, self.tenant_id, self.repo.saved_id(inst))
                    self.repo.delete_resources(s, self.tenant_id, self.repo.saved_id(inst))
                    self.repo.apply_transition(
                        s,
                        self.tenant_id,
                        step.slug,
                        "complete_uninstall",
                        actor=self.actor,
                        directive_id=self.directive_id,
                    )
                    self.repo.mark_uninstalled(s, self.tenant_id, step.slug)
                self.repo.update_step(s, self.tenant_id, self.repo.saved_id(step), "done")
                self._signal(s, "fleetprompt.package.uninstalled", step, info)
                self.finish_with(s)
                faults.checkpoint("before-commit")
            return
        rollback_to = info.get("rollback_to")
        # A rollback restores a revision's snapshot from the store: no index,
        # no archive.  Anything else installs its version's archive.
        fetched: list[Resource] = (
            []
            if rollback_to is not None
            else resources_of(info["manifest"], self.package_files(info))
        )
        with self.held() as s:
            inst = self.repo.get_installation(s, self.tenant_id, step.slug, for_update=True)
            resources = (
                fetched if rollback_to is None else self._snapshot(s, step.slug, rollback_to)
            )
            self.put_resources(s, self.repo.saved_id(inst), resources)
            name = "complete_install" if inst.status == lifecycle.INSTALLING else "complete_upgrade"
            inst = self.repo.apply_transition(
                s, self.tenant_id, step.slug, name, actor=self.actor, directive_id=self.directive_id
            )
            self._release(s, inst, step, info, resources)
            if info.get("manifest") is not None:
                # (A revision recorded without its manifest, which only a
                # package installed before revisions existed can have, keeps
                # the subscriptions it has.)
                self._subscribe(s, inst, info["manifest"])
            self.repo.update_step(
                s, self.tenant_id, self.repo.saved_id(step), "done", installation_id=inst.id
            )
            kind = "installed" if name == "complete_install" else "upgraded"
            if rollback_to is not None:
                kind = "rolled_back"
            self._signal(s, f"fleetprompt.package.{kind}", step, info)
            self.finish_with(s)
            faults.checkpoint("before-commit")

    def put_resources(
        self, session: Session, installation_id: int, resources: list[Resource]
    ) -> None:
        """Make the installation's resources exactly ``resources`` (upserts: idempotent).

        One bulk upsert and one delete in the step's transaction; a failure
        at ``resource-written`` (after the resources are written, before the
        transition) must leave the previous revision whole: it rolls back.
        """
        self.repo.put_resources(
            session,
            self.tenant_id,
            installation_id,
            [(r.kind, r.name, r.definition, r.content) for r in resources],
        )
        faults.checkpoint("resource-written")

    def _snapshot(self, session: Session, slug: str, number: int) -> list[Resource]:
        """The resources revision ``number`` of ``slug`` recorded (a rollback's target)."""
        from fleetprompt_cli.core.install_rules import Resource

        release = self.repo.get_release(session, self.tenant_id, slug, number)
        if release is None or release.status == "failed":
            raise FleetPromptError(f"{slug}: revision {number} has no snapshot to restore")
        return [
            Resource(r["kind"], r["name"], dict(r.get("definition") or {}), r.get("content"))
            for r in release.resources
        ]

    def _release(
        self,
        session: Session,
        inst: Any,
        step: DirectiveStep,
        info: dict[str, Any],
        resources: list[Resource],
        *,
        failed: str | None = None,
    ) -> None:
        """Record the step's numbered revision of its package (see store/repository/releases.py)."""
        action = step.action if step.action in ("install", "upgrade", "downgrade") else "upgrade"
        if self.kind in ("sync", "rollback"):
            action = self.kind
        self.repo.record_release(
            session,
            self.tenant_id,
            inst,
            action=action,
            actor=self.actor,
            directive_id=self.directive_id,
            version=info.get("version"),
            config=dict(inst.config) if failed is None else dict(info.get("config") or {}),
            resources=[
                {"kind": r.kind, "name": r.name, "definition": r.definition, "content": r.content}
                for r in resources
            ],
            manifest=info.get("manifest"),
            sha256=info.get("sha256"),
            rollback_to=info.get("rollback_to"),
            failed=failed,
        )

    def _signal(
        self,
        session: Session,
        type_: str,
        step: DirectiveStep,
        info: dict[str, Any],
        data: dict[str, Any] | None = None,
    ) -> None:
        signals.emit_package_event(
            session,
            self.tenant_id,
            type_.removeprefix("fleetprompt.package."),
            step.slug,
            version=info.get("version"),
            directive_id=self.directive_id,
            action=step.action,
            data=data,
        )

    def _subscribe(self, session: Session, inst: Any, manifest: dict[str, Any]) -> None:
        """The installation's subscriptions become the manifest's (install, upgrade, undo)."""
        signals.sync_subscriptions(
            session,
            self.tenant_id,
            self.repo.saved_id(inst),
            inst.slug,
            manifest,
            paused=inst.status == lifecycle.PAUSED,
        )

    def fail(self, step: DirectiveStep, error: str, info: dict[str, Any] | None = None) -> None:
        with self.held() as s:
            self.repo.update_step(
                s, self.tenant_id, self.repo.saved_id(step), "failed", error_message=error
            )
            self._signal(s, "fleetprompt.package.failed", step, info or {}, {"error": error})
            inst = self.repo.find_installation(s, self.tenant_id, step.slug, for_update=True)
            if inst is not None:
                name = {
                    lifecycle.INSTALLING: "fail_install",
                    lifecycle.UPGRADING: "fail_upgrade",
                    lifecycle.UNINSTALLING: "fail_uninstall",
                    lifecycle.QUEUED: "cancel",
                }.get(inst.status)
                if name is None:
                    # The step failed before its transition (active, paused or
                    # failed row): drop the change it planned, so the package
                    # is not left looking busy.
                    self.repo.clear_pending(s, self.tenant_id, step.slug)
                else:
                    inst = self.repo.apply_transition(
                        s,
                        self.tenant_id,
                        step.slug,
                        name,
                        actor=self.actor,
                        directive_id=self.directive_id,
                        error_message=error,
                    )
                    if info is not None and name in ("fail_install", "fail_upgrade"):
                        # The attempt is a revision too (helm's "failed"); the
                        # deployed revision, if any, stays deployed.
                        self._release(s, inst, step, info, [], failed=error)

    def cancel_rest(self, steps: list[DirectiveStep]) -> None:
        with self.held() as s:
            for step in steps:
                if step.status not in ("pending", "running", "failed"):
                    continue
                self.repo.update_step(
                    s,
                    self.tenant_id,
                    self.repo.saved_id(step),
                    "cancelled",
                    error_message="an earlier step failed",
                )
                inst = self.repo.find_installation(s, self.tenant_id, step.slug, for_update=True)
                if inst is None:
                    continue
                if inst.status == lifecycle.QUEUED:
                    self.repo.apply_transition(
                        s,
                        self.tenant_id,
                        step.slug,
                        "cancel",
                        actor=self.actor,
                        directive_id=self.directive_id,
                    )
                else:
                    self.repo.clear_pending(s, self.tenant_id, step.slug)
                self.emit(step, "cancelled")

    def undo(self, directive: Directive, done: list[DirectiveStep]) -> None:
        """Undo the done steps of an atomic directive, newest first."""
        for step in reversed(done):
            info = self.plan_step(directive, step)
            previous = info.get("previous_entry")
            if step.installation_id is None and step.action != "uninstall":
                # The step found its package already there (another directive
                # put it there) and changed nothing: nothing to undo.
                with self.held() as s:
                    self.repo.update_step(s, self.tenant_id, self.repo.saved_id(step), "undone")
            elif step.action == "install":
                with self.held() as s:
                    inst = self.repo.get_installation(s, self.tenant_id, step.slug, for_update=True)
                    actor = self.actor
                    self.repo.apply_transition(
                        s,
                        self.tenant_id,
                        step.slug,
                        "start_uninstall",
                        actor=actor,
                        directive_id=self.directive_id,
                    )
                    signals.remove_subscriptions(s, self.tenant_id, self.repo.saved_id(inst))
                    self.repo.delete_resources(s, self.tenant_id, self.repo.saved_id(inst))
                    self.repo.apply_transition(
                        s,
                        self.tenant_id,
                        step.slug,
                        "complete_uninstall",
                        actor=actor,
                        directive_id=self.directive_id,
                    )
                    self.repo.mark_uninstalled(s, self.tenant_id, step.slug)
                    self.repo.update_step(s, self.tenant_id, self.repo.saved_id(step), "undone")
                    self._signal(s, "fleetprompt.package.uninstalled", step, info, {"undo": True})
            elif previous is not None:
                files = self.package_files(previous)
                resources = resources_of(previous["manifest"], files)
                with self.held() as s:
                    actor = self.actor
                    self.repo.plan_installation(
                        s,
                        self.tenant_id,
                        step.slug,
                        previous["version"],
                        actor=actor,
                        config=previous.get("config"),
                        directive_id=self.directive_id,
                    )
                    self.repo.apply_transition(
                        s,
                        self.tenant_id,
                        step.slug,
                        "start_upgrade",
                        actor=actor,
                        directive_id=self.directive_id,
                    )
                    inst = self.repo.get_installation(s, self.tenant_id, step.slug)
                    self.put_resources(s, self.repo.saved_id(inst), resources)
                    inst = self.repo.apply_transition(
                        s,
                        self.tenant_id,
                        step.slug,
                        "complete_upgrade",
                        actor=actor,
                        directive_id=self.directive_id,
                    )
                    self.repo.record_release(
                        s,
                        self.tenant_id,
                        inst,
                        action="undo",
                        actor=actor,
                        directive_id=self.directive_id,
                        version=previous["version"],
                        config=dict(inst.config),
                        resources=[
                            {
                                "kind": r.kind,
                                "name": r.name,
                                "definition": r.definition,
                                "content": r.content,
                            }
                            for r in resources
                        ],
                        manifest=previous.get("manifest"),
                        sha256=previous.get("sha256"),
                    )
                    self._subscribe(s, inst, previous["manifest"])
                    self.repo.update_step(s, self.tenant_id, self.repo.saved_id(step), "undone")
                    self._signal(s, "fleetprompt.package.upgraded", step, previous, {"undo": True})
            self.emit(step, "undone")

    # -- the loop ---------------------------------------------------------------

    def run(self) -> RunOutcome:
        # The claim and the read of the directive and its steps share one
        # transaction (one round trip fewer); the rows read are the claimed
        # ones.  A fresh install step is marked running in it too (the fast
        # path: see _fast).
        from fleetprompt_cli.store import install_step

        at_once: bool | None = None
        try:
            with driver_transaction(self.store) as tx:
                claimed = install_step.claim_and_read(
                    tx,
                    self.tenant_id,
                    self.directive_id,
                    self.owner,
                    lease_seconds=self.lease,
                    fast=self._fast_allowed if FAST_PATH else None,
                )
                if claimed is not None and claimed.fast_step is not None and self.at_once:
                    at_once = self._at_once(tx, claimed)
        except (StoreUnavailable, _LeaseLost):
            raise
        except Exception:
            if at_once is not None or not self.at_once:
                raise
            # The write in the claim's transaction failed: nothing was
            # committed, not even the claim.  Again, the usual way.
            self.at_once = False
            self.events.clear()
            return self.run()
        if claimed is None:
            return RunOutcome(self.directive_id, "busy")
        faults.checkpoint("claimed")
        if at_once:
            faults.checkpoint("after-commit")
            step = next(s for s in claimed.steps if s.id == claimed.fast_step)
            self.emit(step, "active")
            return RunOutcome(
                self.directive_id, "succeeded", events=self.events, dispatch=bool(self.dispatch)
            )
        try:
            with self._heartbeats():
                outcome = self._steps(claimed.directive, claimed.steps, claimed.fast_step)
        except _LeaseLost:
            return RunOutcome(
                self.directive_id,
                "lost",
                "another process took over the lease",
                ExitCode.FAILURE,
                self.events,
            )
        outcome.dispatch = self.dispatch is not False
        return outcome

    def _fast_allowed(self, directive: Directive, step: DirectiveStep) -> bool:
        """Whether a pending install step may take the fast path (see _fast)."""
        try:
            info = self.plan_step(directive, step)
        except (KeyError, IndexError, TypeError):
            return False  # The general path reports a damaged plan.
        manifest = info.get("manifest")
        return (
            directive.kind != "rollback"
            and info.get("rollback_to") is None
            and isinstance(manifest, dict)
            and info.get("version") == step.version
            and isinstance(info.get("sha256"), str)
        )

    def _fresh_work(self, step: Any, info: dict[str, Any], files: dict[str, str]) -> Any:
        """What install_step.install_fresh writes for this step."""
        from fleetprompt_cli.store import install_step

        resources = resources_of(info["manifest"], files)
        action = "install" if self.kind not in ("sync", "rollback") else self.kind
        return install_step.FreshInstall(
            step_id=step.id,
            slug=step.slug,
            version=info["version"],
            resources=[(r.kind, r.name, r.definition, r.content) for r in resources],
            manifest=info.get("manifest"),
            sha256=info.get("sha256"),
            actor=self.actor,
            release_action=action,
            signal_type="fleetprompt.package.installed",
            signal_source=signals.INSTALLER_SOURCE,
            signal_data={"slug": step.slug, "version": info.get("version"), "action": step.action},
            finishing=self.finishing,
            subscriptions=tuple(
                (spec.handler, spec.kind, spec.patterns)
                for spec in signals.subscription_specs(info["manifest"])
            ),
        )

    def _at_once(self, tx: Any, claimed: Any) -> bool:
        """A one-step fresh install whose archive this process has read: in the claim's transaction.

        The archive's risky part (fetching, decompressing, extracting) is
        behind this process already, so the step is written in the claim's
        own transaction, one write transaction fewer.  Should the process
        die in it, nothing is committed, not even the claim, and the next
        process, which remembers no archive, runs the step the usual way,
        counting its attempts.  False (nothing written) when it does not apply.
        """
        from fleetprompt_cli.store import install_step

        open_steps = [s for s in claimed.steps if s.status not in ("done", "cancelled", "undone")]
        if len(open_steps) != 1 or open_steps[0].id != claimed.fast_step:
            return False
        step = open_steps[0]
        info = self.plan_step(claimed.directive, step)
        files = _remembered(info["sha256"])
        if files is None or not (self.settings.data_dir / "packages" / info["sha256"]).is_dir():
            return False
        self.actor, self.kind = claimed.directive.actor, claimed.directive.kind
        self.finishing = True
        self.emit(step, "installing")
        for point in ("step-started", "fetched", "extracted"):
            faults.checkpoint(point)
        subscribers = install_step.install_fresh(
            tx,
            self.tenant_id,
            self.directive_id,
            self._fresh_work(step, info, files),
            checkpoint=faults.checkpoint,
        )
        faults.checkpoint("before-commit")
        self.dispatch = subscribers
        return True

    def _fast(self, step: DirectiveStep, info: dict[str, Any]) -> tuple[str | None, str | None]:
        """A fresh install step in one transaction (store/install_step.py).

        The claim (or, for a later step, :meth:`_start_fast`) marked the step
        running, counting this attempt, after checking that its installation
        is a fresh queued row.  The same checkpoints fire as on the general
        path.  Anything that goes wrong is a failed attempt: the step
        goes back to pending and the general path retries it.
        """
        from fleetprompt_cli.store import install_step

        self.emit(step, "installing")
        try:
            faults.checkpoint("step-started")
            work = self._fresh_work(step, info, self.package_files(info))
            with driver_transaction(self.store) as tx:
                alive = install_step.renew_lease(
                    tx,
                    self.tenant_id,
                    self.directive_id,
                    self.owner,
                    lease_seconds=self.lease,
                )
                if not alive:
                    raise _LeaseLost()
                subscribers = install_step.install_fresh(
                    tx,
                    self.tenant_id,
                    self.directive_id,
                    work,
                    checkpoint=faults.checkpoint,
                )
                faults.checkpoint("before-commit")
        except (StoreUnavailable, _LeaseLost):
            raise
        except Exception as error:
            message = _describe(error)
            self.emit(step, "retrying", message)
            with self.held() as s:
                self.repo.update_step(
                    s, self.tenant_id, self.repo.saved_id(step), "pending", error_message=message
                )
            step.status, step.attempts = "pending", 1
            return self._attempts(step, info)
        # (True stays True: an earlier step may have added the first subscriber.)
        self.dispatch = bool(self.dispatch) or subscribers
        self.fast_ran = True
        self.finished = self.finishing
        faults.checkpoint("after-commit")
        self.emit(step, "active")
        return None, None

    def _start_fast(self, directive: Directive, step: DirectiveStep) -> bool:
        """Whether a later step of a fast directive takes the fast path too.

        A directive of several fresh installs (a package and its new
        dependencies) takes it step after step: the step is marked running
        in a transaction of its own, counting its attempt, as the claim
        marks the first (``install_step.start_fresh``).
        """
        from fleetprompt_cli.store import install_step

        if not (
            self.fast_ran and install_step.startable(step) and self._fast_allowed(directive, step)
        ):
            return False
        with driver_transaction(self.store) as tx:
            started = install_step.start_fresh(
                tx, self.tenant_id, self.directive_id, self.owner, step, lease_seconds=self.lease
            )
        if started is None:
            raise _LeaseLost()
        if started:
            step.status, step.attempts = "running", 1
        return started

    @contextmanager
    def _heartbeats(self) -> Iterator[None]:
        """Renew the lease in the background while the steps run.

        A fetch or an extraction can outlast the lease; without this another
        process would take the directive over and run the step twice.  The
        renewal is the same conditional UPDATE as every held() transaction's
        first statement, so it never extends a lease this runner lost.  One
        thread per process renews every lease it holds (:class:`_LeaseKeeper`):
        a directive that ends within a third of its lease costs no renewal.
        """
        if self.lease <= 0:
            yield
            return
        ids = (self.tenant_id, self.directive_id, self.owner)

        def renew() -> bool:
            from fleetprompt_cli.store import install_step

            with driver_transaction(self.store) as tx:
                return install_step.renew_lease(tx, *ids, lease_seconds=self.lease)

        token = _keeper.hold(renew, self.lease / 3)
        try:
            yield
        finally:
            _keeper.drop(token)

    def _steps(
        self, directive: Directive, steps: list[DirectiveStep], fast_step: int | None = None
    ) -> RunOutcome:
        self.actor = directive.actor
        self.kind = directive.kind
        done: list[DirectiveStep] = [s for s in steps if s.status == "done"]
        todo = [i for i, s in enumerate(steps) if s.status not in ("done", "cancelled", "undone")]
        for index, step in enumerate(steps):
            if step.status in ("done", "cancelled", "undone"):
                continue
            info = self.plan_step(directive, step)
            self.finishing = index == todo[-1]
            # No separate lease renewal here: every path of _attempts opens
            # with a held() transaction, whose first statement renews it.
            if step.id is not None and (step.id == fast_step or self._start_fast(directive, step)):
                error, kind = self._fast(step, info)
            else:
                error, kind = self._attempts(step, info)
            if error is None:
                done.append(step)
                continue
            _, fresh = self.load()
            self.cancel_rest(fresh[index + 1 :])
            reason = f"{step.slug}: {error}"
            if directive.atomic and done:
                # The steps as stored now (installation_id says what each did).
                ids = {s.id for s in done}
                try:
                    self.undo(directive, [s for s in fresh if s.id in ids])
                except (StoreUnavailable, _LeaseLost):
                    raise
                except Exception as undo_error:
                    # The directive still ends failed, saying what is left as is.
                    reason += f"; undoing the earlier steps failed: {_describe(undo_error)}"
            with self.held() as s:
                self.repo.finish_directive(
                    s, self.tenant_id, self.directive_id, "failed", error=reason, error_kind=kind
                )
            code = exit_code_of(kind)
            return RunOutcome(self.directive_id, "failed", reason, code, self.events)
        if not self.finished:
            # No step was left to run (a re-run after the last one committed).
            with self.held() as s:
                self.repo.finish_directive(s, self.tenant_id, self.directive_id, "succeeded")
        return RunOutcome(self.directive_id, "succeeded", events=self.events)

    def _attempts(self, step: DirectiveStep, info: dict[str, Any]) -> tuple[str | None, str | None]:
        """Run one step until it is done or out of attempts; return (error, its kind).

        Attempts are counted in the store when the step starts running, so
        attempts whose process died (OOM, SIGKILL) count too: a step found
        ``running`` with no attempt left is failed here without running it
        again, and its directive ends ``failed`` (a dead letter that
        ``recover --retry-failed`` re-opens).
        """
        self.dispatch = True  # The general path does not ask about subscribers.
        attempts = step.attempts
        if step.status == "running" and attempts >= MAX_ATTEMPTS:
            message = (
                f"the process running this step died {attempts} times "
                f"(attempt limit {MAX_ATTEMPTS}); retry with 'fleetprompt recover --retry-failed'"
            )
            self.fail(step, message, info)
            self.emit(step, "failed", message)
            return message, UNEXPECTED
        while True:
            attempts += 1
            self.emit(step, _WORKING.get(step.action, "installing"))
            try:
                if self.start(step, info) == "already":
                    # Done without an installation_id: this step changed
                    # nothing, so an atomic undo leaves the package alone.
                    with self.held() as s:
                        self.repo.update_step(s, self.tenant_id, self.repo.saved_id(step), "done")
                        self.finish_with(s)
                else:
                    faults.checkpoint("step-started")
                    self.apply(step, info)
                self.finished = self.finishing
                faults.checkpoint("after-commit")
                self.emit(step, "active" if step.action != "uninstall" else "uninstalled")
                return None, None
            except (StoreUnavailable, _LeaseLost):
                raise
            except Exception as error:
                # Anything else a step raises (a refused transition, a bad
                # archive, or a bug: KeyError, a database DataError) is a
                # failure of this attempt, never an escape that leaves the
                # directive running under a dead lease.
                message = _describe(error)
                kind = error.kind if isinstance(error, FleetPromptError) else UNEXPECTED
                if attempts >= MAX_ATTEMPTS:
                    self.fail(step, message, info)
                    self.emit(step, "failed", message)
                    return message, kind
                self.emit(step, "retrying", message)
                with self.held() as s:
                    self.repo.update_step(
                        s,
                        self.tenant_id,
                        self.repo.saved_id(step),
                        "pending",
                        error_message=message,
                    )
                self.beat()


def _describe(error: BaseException) -> str:
    """One line for a step's failure: our messages as they are, others with their type."""
    if isinstance(error, FleetPromptError):
        return str(error)
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def run_directive(
    settings: Settings,
    store: Store | DriverStore,
    tenant_id: int,
    directive_id: str,
    *,
    owner: str | None = None,
    progress: Progress | None = None,
) -> RunOutcome:
    """Claim the directive's lease and apply its steps; ``busy`` if someone else holds it."""
    return _Runner(
        settings, store, tenant_id, directive_id, owner or default_owner(), progress
    ).run()


def archive_source(index_root: Path, archive: str, where: str = "the index") -> str:
    """Where a version's archive is: an http(s) URL as is, or a path inside the index folder.

    The index is untrusted: an absolute path, a ``file://`` URL, ``..`` or a
    symlink that leads outside the index folder is refused.
    """
    from fleetprompt_cli.core.archive import check_archive_path

    reason = check_archive_path(archive)
    if reason is None and "://" in archive:
        return archive
    root = index_root.resolve()
    target = (root / archive).resolve() if reason is None else None
    if target is None or not target.is_relative_to(root):
        raise IntegrityError(
            f"{where}: archive {archive!r} refused: "
            f"{reason or 'it leads outside the index folder'}",
            details={"archive": archive, "reason": "outside the index"},
        )
    return str(target)
