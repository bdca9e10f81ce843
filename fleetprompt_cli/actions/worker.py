"""The worker's policy: claim and run woken directives, sweep the store for lost work.

A wake-up names a directive; the worker claims its lease in the store and
runs it with :func:`fleetprompt_cli.actions.directive_runner.run_directive`, the same
function an inline ``fleetprompt install`` uses.  A wake-up for a directive
that is finished, unknown, or held by a live lease is a no-op.

The sweep finds open directives whose lease expired (a CLI or worker died)
or that nobody claimed in time (a lost wake-up) and enqueues a wake-up for
each; every worker sweeps every ``FLEETPROMPT_SWEEP_SECONDS`` (default 5).
One sweep wakes each directive (``reserve_wakeup``), again only if nobody
claimed it within a lease.  Duplicate wake-ups would be harmless anyway:
only one claimer wins a lease.

When the queue is unreachable the store still is the queue of record: the
sweep runs what it finds in the worker itself, ``--once`` stops reading the
queue and finishes, and the queue's worker threads back off between reads.

The queue itself is a port (:class:`WorkQueue`): ``fleetprompt_cli.queue``
adapts huey to it and is handed :func:`handle_wakeup` and :func:`sweep_once`
to call; it imports nothing of this package.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from fleetprompt_cli.errors import FleetPromptError, InvalidInput, NotFound
from fleetprompt_cli.queue import QueueUnreachable
from fleetprompt_cli.settings import (
    DEFAULT_SWEEP_SECONDS as SETTINGS_SWEEP_SECONDS,
)
from fleetprompt_cli.settings import Settings, claim_grace_seconds, sweep_seconds

if TYPE_CHECKING:
    from fleetprompt_cli.store.driverstore import DriverStore
    from fleetprompt_cli.store.engine import Store

__all__ = [
    "DEFAULT_SWEEP_SECONDS",
    "MAX_WORKERS",
    "QueueUnreachable",
    "WorkQueue",
    "WorkerContext",
    "WorkerStats",
    "claim_grace",
    "directive_record",
    "handle_dispatch",
    "handle_wakeup",
    "run_worker",
    "sweep_interval",
    "sweep_once",
]

DEFAULT_SWEEP_SECONDS = SETTINGS_SWEEP_SECONDS
logger = logging.getLogger("fleetprompt.worker")


class WorkQueue(Protocol):
    """What the worker needs of a queue (``fleetprompt_cli.queue.worker.HueyQueue``)."""

    def open(self) -> None:
        """Connect (fails early, before the worker says it is ready)."""

    def enqueue_run(self, tenant_id: int, directive_id: str) -> None:
        """Put a wake-up for (tenant, directive) on the queue."""

    def bind(
        self,
        run: Callable[[int, str], Any] | None,
        sweep: Callable[[], Any] | None,
        dispatch: Callable[[int], Any] | None = None,
    ) -> None:
        """What the queue's tasks call (``None``: nothing, the worker stopped)."""

    def drain(self, workers: int) -> int:
        """Run queued tasks until the queue is empty; raise QueueUnreachable if it is down."""

    def serve(
        self,
        *,
        workers: int,
        sweep: Callable[[], Any],
        sweep_seconds: float,
        on_ready: Callable[[], None] | None = None,
    ) -> None:
        """Run tasks on ``workers`` threads, sweeping every ``sweep_seconds``, until stopped."""


def sweep_interval() -> float:
    """Seconds between a worker's sweeps (FLEETPROMPT_SWEEP_SECONDS)."""
    return sweep_seconds()


def claim_grace() -> float:
    """How long an unclaimed directive waits for its wake-up before a sweep takes it.

    FLEETPROMPT_CLAIM_GRACE_SECONDS.
    """
    return claim_grace_seconds()


@dataclass
class WorkerStats:
    """What a worker did, counted by outcome (thread-safe)."""

    outcomes: Counter = field(default_factory=Counter)
    swept: int = 0
    delivered: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count(self, outcome: str) -> None:
        with self._lock:
            self.outcomes[outcome] += 1

    def add_swept(self, n: int) -> None:
        with self._lock:
            self.swept += n

    def add_delivered(self, n: int) -> None:
        with self._lock:
            self.delivered += n

    @property
    def wakeups(self) -> int:
        return sum(self.outcomes.values())

    def to_json(self) -> dict[str, Any]:
        return {
            "wakeups": self.wakeups,
            "swept": self.swept,
            "outcomes": dict(self.outcomes),
            "signals_delivered": self.delivered,
        }


@dataclass
class WorkerContext:
    """The settings, store, queue and counters a worker's tasks share.

    ``queue`` defaults to the configured huey queue.
    """

    settings: Settings
    # The ORM store, or (as the worker opens it) a DriverStore in front of it.
    store: Store | DriverStore
    stats: WorkerStats = field(default_factory=WorkerStats)
    on_outcome: Callable[[int, str, Any], None] | None = None
    queue: WorkQueue | None = None
    # Log each directive with its tenant, kind and attempts (``--log-format json``).
    details: bool = False
    # Directives this worker's threads are running: lease owner -> (tenant id, directive id).
    running: dict[str, tuple[int, str]] = field(default_factory=dict)
    _tenants: dict[int, str] = field(default_factory=dict, repr=False)
    _running_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def work_queue(self) -> WorkQueue:
        if self.queue is None:
            from fleetprompt_cli.queue.worker import HueyQueue

            self.queue = HueyQueue(self.settings)
        return self.queue


_context: WorkerContext | None = None
_context_lock = threading.Lock()


def _current() -> WorkerContext:
    """The running worker's context, or one built from the environment (a bare task call)."""
    global _context
    with _context_lock:
        if _context is None:
            from fleetprompt_cli.actions.state import open_quick
            from fleetprompt_cli.settings import load_settings

            settings = load_settings()
            _context = WorkerContext(settings, open_quick(settings))
        return _context


def _install(context: WorkerContext | None) -> None:
    global _context
    with _context_lock:
        _context = context


def directive_record(
    context: WorkerContext, tenant_id: int, directive_id: str, outcome: Any, duration: float
) -> dict[str, Any]:
    """One directive's run as a log record: tenant, directive, kind, duration, outcome, attempts."""
    record: dict[str, Any] = {
        "event": "directive",
        "tenant": context._tenants.get(tenant_id, str(tenant_id)),
        "directive": directive_id,
        "kind": None,
        "duration": round(duration, 4),
        "outcome": outcome.status,
        "attempts": None,
    }
    if outcome.error:
        record["error"] = outcome.error
    if not context.details:
        return record
    from fleetprompt_cli.store import repository as repo

    try:
        with context.store.session(readonly=True) as s:
            if tenant_id not in context._tenants:
                context._tenants.update(
                    {t.id: t.slug for t in repo.list_tenants(s) if t.id is not None}
                )
            directive = repo.get_directive(s, tenant_id, directive_id)
            record.update(
                tenant=context._tenants.get(tenant_id, str(tenant_id)),
                kind=directive.kind,
                attempts=directive.attempts,
            )
    except Exception as error:  # The run is over; a log line never fails it.
        record["log_error"] = one_line(error)
    return record


def handle_wakeup(tenant_id: int, directive_id: str) -> str:
    """Claim and run a directive; return the outcome (``busy``/``unknown`` are no-ops)."""
    from fleetprompt_cli.actions.directive_runner import default_owner, run_directive

    context = _current()
    owner = default_owner("worker")
    started = time.monotonic()
    with context._running_lock:
        context.running[owner] = (tenant_id, directive_id)
    try:
        outcome = run_directive(
            context.settings,
            context.store,
            tenant_id,
            directive_id,
            owner=owner,
        )
    except NotFound:
        # A wake-up for a directive this store does not have (another store's
        # queue, or a tenant that was removed): nothing to do.
        logger.warning("wake-up for unknown directive %s (tenant %s)", directive_id, tenant_id)
        context.stats.count("unknown")
        return "unknown"
    finally:
        with context._running_lock:
            context.running.pop(owner, None)
    context.stats.count(outcome.status)
    if outcome.status != "busy":
        logger.info(
            "directive %s %s%s",
            directive_id,
            outcome.status,
            f": {outcome.error}" if outcome.error else "",
            extra={
                "fleetprompt": directive_record(
                    context, tenant_id, directive_id, outcome, time.monotonic() - started
                )
            },
        )
    if context.on_outcome is not None:
        context.on_outcome(tenant_id, directive_id, outcome)
    # The run may have written signals: deliver them now, not at the next
    # sweep (unless the run saw that the tenant has no subscriber to deliver to).
    if outcome.dispatch:
        handle_dispatch(tenant_id)
    return outcome.status


def handle_dispatch(tenant_id: int) -> int:
    """Deliver a tenant's pending signals (a dispatch wake-up); how many were handed over.

    A failure is logged, never raised: the signals stay pending and the next
    wake-up or sweep delivers them.
    """
    from fleetprompt_cli.actions.signals import dispatch_tenant_id

    context = _current()
    try:
        result = dispatch_tenant_id(context.store, tenant_id)
    except Exception as error:
        logger.warning("signal dispatch for tenant %s failed: %s", tenant_id, one_line(error))
        return 0
    n = result.delivered + result.dead
    context.stats.add_delivered(n)
    return n


def _dispatch_all(context: WorkerContext) -> None:
    from fleetprompt_cli.actions.signals import dispatch_all

    try:
        result = dispatch_all(context.store)
    except Exception as error:
        logger.warning("signal dispatch failed: %s", one_line(error))
        return
    context.stats.add_delivered(result.delivered + result.dead)


def sweep_once(context: WorkerContext | None = None, *, enqueue: bool = True) -> list[Any]:
    """Find directives whose lease expired or that nobody claimed; wake (or run) each.

    With ``enqueue`` the wake-ups go to the queue so that every worker shares
    the work; without it they are run here, one after the other.
    """
    from fleetprompt_cli.actions.directive_runner import lease_seconds
    from fleetprompt_cli.store import repository as repo

    context = context or _current()
    # A woken directive nobody claimed within a lease is woken again.
    grace, rewake = claim_grace(), lease_seconds()
    with context.store.session(readonly=True) as s:
        found = repo.expired_directives(s, grace_seconds=grace, rewake_seconds=rewake)
    context.stats.add_swept(len(found))
    for ref in found:
        with context.store.session() as s:
            mine = repo.reserve_wakeup(
                s,
                ref.tenant_id,
                ref.directive_id,
                seen_owner=ref.lease_owner,
                grace_seconds=grace,
                rewake_seconds=rewake,
            )
        if not mine:
            continue  # Another worker's sweep woke it (or it was claimed) meanwhile.
        logger.info(
            "sweep: directive %s (tenant %s) %s",
            ref.directive_id,
            ref.tenant_id,
            f"lease of {ref.lease_owner} expired" if ref.lease_owner else "was never claimed",
        )
        if enqueue:
            try:
                context.work_queue().enqueue_run(ref.tenant_id, ref.directive_id)
                continue
            except Exception as error:
                # The store is the queue of record: with the queue down, the
                # sweeping worker runs what it found itself.
                logger.warning(
                    "queue unreachable (%s): running stranded directives from the store",
                    one_line(error),
                )
                enqueue = False
        handle_wakeup(ref.tenant_id, ref.directive_id)
    # Workers deliver signals continuously: on wake-ups, and here for any
    # whose wake-up was lost.
    _dispatch_all(context)
    return found


def one_line(error: BaseException) -> str:
    """An exception as ``Type: first line`` for a log line."""
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__


# Threads per worker process; each holds a store connection (the CLI caps it too).
MAX_WORKERS = 64


def run_worker(
    settings: Settings,
    queue: WorkQueue | None = None,
    *,
    workers: int = 1,
    once: bool = False,
    on_outcome: Callable[[int, str, Any], None] | None = None,
    on_ready: Callable[[], None] | None = None,
    details: bool = False,
) -> WorkerStats:
    """Run a worker on the queue until SIGTERM/SIGINT (or, ``once``, until idle).

    ``once``: process what is queued, sweep once, process what the sweep
    found, and return.  Otherwise the queue runs ``workers`` threads and
    sweeps every FLEETPROMPT_SWEEP_SECONDS; SIGTERM finishes the running
    directives and stops, SIGINT (or a second SIGTERM) stops at once and
    releases the leases of the directives still running, so that another
    worker takes them over at once (a step's transaction that did not commit
    leaves nothing behind).  ``details``: log lines carry the tenant's name,
    the directive's kind and attempts (one more read per directive).
    """
    from fleetprompt_cli.actions.state import open_quick
    from fleetprompt_cli.store.driverstore import DriverStore

    if not 1 <= workers <= MAX_WORKERS:
        raise InvalidInput(f"--workers must be from 1 to {MAX_WORKERS}, not {workers}")
    store = open_quick(settings)
    if isinstance(store, DriverStore):
        # A worker lives long and its sweep needs the ORM store at once:
        # import and open it now, not while the first directives run.
        store.open_orm()
    context = WorkerContext(settings, store, on_outcome=on_outcome, queue=queue, details=details)
    work = context.work_queue()
    _install(context)
    try:
        work.open()
        work.bind(handle_wakeup, sweep_once, handle_dispatch)
        if once:
            if on_ready is not None:
                on_ready()
            try:
                work.drain(workers)
                sweep_once(context)
                work.drain(workers)
            except QueueUnreachable as error:
                # Finish anyway: run what the store says is stranded, here.
                logger.warning(
                    "queue unreachable (%s): running stranded directives from the store", error
                )
                sweep_once(context, enqueue=False)
            return context.stats
        work.serve(
            workers=workers,
            sweep=lambda: sweep_once(context),
            sweep_seconds=sweep_interval(),
            on_ready=on_ready,
        )
        return context.stats
    except FleetPromptError:
        raise
    finally:
        work.bind(None, None)
        _release_running(context)
        _install(None)
        store.dispose()


def _release_running(context: WorkerContext) -> None:
    """Give up the leases of directives still running when the worker stops at once."""
    from fleetprompt_cli.store import repository as repo

    with context._running_lock:
        running = dict(context.running)
    for owner, (tenant_id, directive_id) in running.items():
        try:
            with context.store.session() as s:
                released = repo.release(s, tenant_id, directive_id, owner)
        except Exception as error:  # The store is down: the lease expires instead.
            logger.warning(
                "could not release directive %s: %s (its lease expires instead)",
                directive_id,
                one_line(error),
            )
            continue
        if released:
            logger.info("released directive %s (tenant %s) unfinished", directive_id, tenant_id)
