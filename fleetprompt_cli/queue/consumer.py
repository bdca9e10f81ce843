"""huey's consumer, with the lease sweep folded into its scheduler thread.

Imported only by :meth:`fleetprompt_cli.queue.worker.HueyQueue.serve` (it imports
huey at module level).  Settings checked against huey 3.5's consumer:

* ``graceful_signal="TERM"``: SIGTERM sets the stop flag and joins the
  workers, so a running directive finishes and its lease is released by
  completion; SIGINT (and a second SIGTERM) stops at once.  huey's default is
  the other way round (SIGINT graceful), which would make ``kill`` and
  systemd's stop abandon directives mid-step.
* thread workers: a directive is I/O-bound (store, archive cache), and the
  threads share one store engine and its connection pool.
* ``periodic=False``: huey's periodic tasks run at minute granularity; the
  sweep runs every few seconds from the scheduler's one-second loop instead.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from huey.consumer import Consumer, Scheduler

__all__ = ["make_consumer"]

logger = logging.getLogger("fleetprompt.worker")


class _SweepingScheduler(Scheduler):
    """huey's scheduler (delayed retries) plus the sweep it is handed, every ``sweep_seconds``."""

    sweep: Callable[[], Any] | None = None
    sweep_seconds: float = 5.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Sweep at start-up: work a previous worker left behind is found at once.
        self._next_sweep = time.monotonic()

    def loop(self, now: Any = None) -> None:
        if time.monotonic() >= self._next_sweep:
            self._next_sweep = time.monotonic() + self.sweep_seconds
            try:
                if self.sweep is not None:
                    self.sweep()
            except Exception as error:  # A store that is down must not kill the thread.
                logger.warning("sweep failed: %s: %s", type(error).__name__, error)
        super().loop(now)


class _Consumer(Consumer):
    sweep: Callable[[], Any] | None = None
    sweep_seconds: float = 5.0

    # Set when a second SIGTERM (or a SIGINT) cut a graceful stop short.
    _cut_short: bool = False

    def stop(self, graceful: bool = False) -> None:
        # Said before huey joins the worker threads (which may take a while).
        if graceful:
            logger.info(
                "stopping: finishing the running directives "
                "(SIGTERM again or SIGINT: stop now and release them)"
            )
        else:
            logger.info("stopping now: running directives are released")
        super().stop(graceful)
        # huey swallows the KeyboardInterrupt of a second signal during the
        # join (and a stop-now signal never raises one): the process must
        # still end as interrupted (exit 130), wherever the signal landed.
        if self._cut_short or (not graceful and getattr(self, "_signum", None) is not None):
            raise KeyboardInterrupt

    def _join_workers(self) -> bool:
        try:
            return bool(super()._join_workers())
        except KeyboardInterrupt:
            self._cut_short = True
            raise

    def _create_scheduler(self) -> Scheduler:
        scheduler = _SweepingScheduler(
            huey=self.huey,
            stop_flag=self.stop_flag,
            interval=self.scheduler_interval,
            periodic=False,
        )
        scheduler.sweep = type(self).sweep
        scheduler.sweep_seconds = self.sweep_seconds
        return scheduler


def make_consumer(
    huey: Any, sweep: Callable[[], Any], *, workers: int, interval: float
) -> Consumer:
    """A consumer with ``workers`` threads, SIGTERM as the graceful stop, calling ``sweep``."""

    class Bound(_Consumer):
        pass

    Bound.sweep = staticmethod(sweep)
    Bound.sweep_seconds = max(interval, 0.1)
    return Bound(
        huey,
        workers=workers,
        periodic=False,
        worker_type="thread",
        graceful_signal="TERM",
        # An idle thread polls a SQLite queue (Redis and PostgreSQL block on
        # the server instead): every 10 ms at first, backing off to 250 ms,
        # so a wake-up waits at most a quarter second for an idle worker.
        initial_delay=0.01,
        max_delay=0.25,
        backoff=1.15,
        scheduler_interval=1,
        check_worker_health=True,
    )
