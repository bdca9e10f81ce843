"""The worker: run wake-ups from the queue and sweep the store for lost work.

A wake-up names a directive; the worker claims its lease in the store and
runs it with :func:`fleetprompt_cli.actions.installer.run_directive`, the same
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
queue and finishes, and huey's worker threads back off between reads.

huey is imported only by the functions that run a queue, never at import.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fleetprompt_cli.errors import FleetPromptError, InvalidInput, NotFound
from fleetprompt_cli.settings import Settings

__all__ = [
    "DEFAULT_SWEEP_SECONDS",
    "QueueUnreachable",
    "WorkerContext",
    "WorkerStats",
    "claim_grace",
    "drain",
    "handle_wakeup",
    "run_worker",
    "sweep_interval",
    "sweep_once",
]

DEFAULT_SWEEP_SECONDS = 5.0
logger = logging.getLogger("fleetprompt.worker")


def _seconds(variable: str, default: float) -> float:
    raw = os.environ.get(variable)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise InvalidInput(f"{variable} must be a number of seconds, not {raw!r}") from None
    if value < 0:
        raise InvalidInput(f"{variable} must not be negative")
    return value


def sweep_interval() -> float:
    """Seconds between a worker's sweeps (FLEETPROMPT_SWEEP_SECONDS)."""
    return _seconds("FLEETPROMPT_SWEEP_SECONDS", DEFAULT_SWEEP_SECONDS)


def claim_grace() -> float:
    """How long an unclaimed directive waits for its wake-up before a sweep takes it.

    FLEETPROMPT_CLAIM_GRACE_SECONDS; the default is the repository's.
    """
    from fleetprompt_cli.store.repository import DEFAULT_CLAIM_GRACE

    return _seconds("FLEETPROMPT_CLAIM_GRACE_SECONDS", DEFAULT_CLAIM_GRACE)


@dataclass
class WorkerStats:
    """What a worker did, counted by outcome (thread-safe)."""

    outcomes: Counter = field(default_factory=Counter)
    swept: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count(self, outcome: str) -> None:
        with self._lock:
            self.outcomes[outcome] += 1

    def add_swept(self, n: int) -> None:
        with self._lock:
            self.swept += n

    @property
    def wakeups(self) -> int:
        return sum(self.outcomes.values())

    def to_json(self) -> dict[str, Any]:
        return {"wakeups": self.wakeups, "swept": self.swept, "outcomes": dict(self.outcomes)}


@dataclass
class WorkerContext:
    """The settings, store and counters a worker's tasks share."""

    settings: Settings
    store: Any
    stats: WorkerStats = field(default_factory=WorkerStats)
    on_outcome: Callable[[int, str, Any], None] | None = None


_context: WorkerContext | None = None
_context_lock = threading.Lock()


def _current() -> WorkerContext:
    """The running worker's context, or one built from the environment (a bare task call)."""
    global _context
    with _context_lock:
        if _context is None:
            from fleetprompt_cli.actions.install import open_state
            from fleetprompt_cli.settings import load_settings

            settings = load_settings()
            _context = WorkerContext(settings, open_state(settings))
        return _context


def _install(context: WorkerContext | None) -> None:
    global _context
    with _context_lock:
        _context = context


def handle_wakeup(tenant_id: int, directive_id: str) -> str:
    """Claim and run a directive; return the outcome (``busy``/``unknown`` are no-ops)."""
    from fleetprompt_cli.actions.installer import default_owner, run_directive

    context = _current()
    try:
        outcome = run_directive(
            context.settings,
            context.store,
            tenant_id,
            directive_id,
            owner=default_owner("worker"),
        )
    except NotFound:
        # A wake-up for a directive this store does not have (another store's
        # queue, or a tenant that was removed): nothing to do.
        logger.warning("wake-up for unknown directive %s (tenant %s)", directive_id, tenant_id)
        context.stats.count("unknown")
        return "unknown"
    context.stats.count(outcome.status)
    if outcome.status != "busy":
        logger.info(
            "directive %s %s%s",
            directive_id,
            outcome.status,
            f": {outcome.error}" if outcome.error else "",
        )
    if context.on_outcome is not None:
        context.on_outcome(tenant_id, directive_id, outcome)
    return outcome.status


def sweep_once(context: WorkerContext | None = None, *, enqueue: bool = True) -> list[Any]:
    """Find directives whose lease expired or that nobody claimed; wake (or run) each.

    With ``enqueue`` the wake-ups go to the queue so that every worker shares
    the work; without it they are run here, one after the other.
    """
    from fleetprompt_cli.actions.installer import lease_seconds
    from fleetprompt_cli.store import repository as repo

    context = context or _current()
    # A woken directive nobody claimed within a lease is woken again.
    timing = {"grace_seconds": claim_grace(), "rewake_seconds": lease_seconds()}
    with context.store.session(readonly=True) as s:
        found = repo.expired_directives(s, **timing)
    context.stats.add_swept(len(found))
    for ref in found:
        with context.store.session() as s:
            mine = repo.reserve_wakeup(
                s, ref.tenant_id, ref.directive_id, seen_owner=ref.lease_owner, **timing
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
            from fleetprompt_cli.queue.tasks import enqueue_run

            try:
                enqueue_run(context.settings, ref.tenant_id, ref.directive_id)
                continue
            except Exception as error:
                # The store is the queue of record: with the queue down, the
                # sweeping worker runs what it found itself.
                logger.warning(
                    "queue unreachable (%s): running stranded directives from the store",
                    _one_line(error),
                )
                enqueue = False
        handle_wakeup(ref.tenant_id, ref.directive_id)
    return found


class QueueUnreachable(Exception):
    """The queue could not be read (as opposed to one unreadable message)."""


def _one_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__


def drain(huey: Any, workers: int = 1) -> int:
    """Run queued tasks on ``workers`` threads until the queue is empty; return how many.

    Tasks whose retry was scheduled for later stay in huey's schedule (the
    directive itself is safe in the store and a later sweep finds it).
    """
    done = Counter()
    lock = threading.Lock()
    failures: list[BaseException] = []

    def loop() -> None:
        while True:
            try:
                task = huey.dequeue()
            except (ValueError, TypeError, KeyError) as error:
                # A message we cannot read (foreign or corrupt: the serializer
                # raises these) is dropped, as huey's own worker does; the
                # store still holds every directive.
                logger.warning("dropped an unreadable queue message: %s", error)
                continue
            except Exception as error:
                # The queue itself is down: stop reading it (never spin).
                with lock:
                    failures.append(error)
                return
            if task is None:
                return
            huey.execute(task)
            with lock:
                done["tasks"] += 1

    threads = [threading.Thread(target=loop, name=f"drain-{i}") for i in range(max(1, workers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise QueueUnreachable(_one_line(failures[0]))
    return done["tasks"]


# Threads per worker process; each holds a store connection (the CLI caps it too).
MAX_WORKERS = 64


def run_worker(
    settings: Settings,
    *,
    workers: int = 1,
    once: bool = False,
    on_outcome: Callable[[int, str, Any], None] | None = None,
    on_ready: Callable[[], None] | None = None,
) -> WorkerStats:
    """Run a worker on the configured queue until SIGTERM/SIGINT (or, ``once``, until idle).

    ``once``: process what is queued, sweep once, process what the sweep
    found, and return.  Otherwise a huey consumer runs ``workers`` threads and
    a scheduler thread that also sweeps; SIGTERM finishes the running
    directives and stops (huey's graceful signal), SIGINT stops at once.
    """
    from fleetprompt_cli.actions.install import open_state
    from fleetprompt_cli.queue.tasks import huey_for

    if not 1 <= workers <= MAX_WORKERS:
        raise InvalidInput(f"--workers must be from 1 to {MAX_WORKERS}, not {workers}")
    store = open_state(settings)
    context = WorkerContext(settings, store, on_outcome=on_outcome)
    _install(context)
    try:
        huey = huey_for(settings)
        if once:
            if on_ready is not None:
                on_ready()
            try:
                drain(huey, workers)
                sweep_once(context)
                drain(huey, workers)
            except QueueUnreachable as error:
                # Finish anyway: run what the store says is stranded, here.
                logger.warning(
                    "queue unreachable (%s): running stranded directives from the store", error
                )
                sweep_once(context, enqueue=False)
            return context.stats
        from fleetprompt_cli.queue.consumer import make_consumer

        consumer = make_consumer(huey, context, workers=workers, interval=sweep_interval())
        if on_ready is not None:
            on_ready()
        consumer.run()
        return context.stats
    except FleetPromptError:
        raise
    finally:
        _install(None)
        store.dispose()
