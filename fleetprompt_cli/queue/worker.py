"""The huey side of a worker: drain the queue, or run huey's consumer, calling what it is handed.

:class:`HueyQueue` is the queue a worker (``fleetprompt_cli.actions.worker``)
runs on.  It knows huey and nothing of the installer: the worker hands it the
function a wake-up calls (claim and run a directive) and the sweep.

huey is imported only by the functions that run a queue, never at import.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

from fleetprompt_cli.queue import QueueUnreachable
from fleetprompt_cli.settings import Settings

__all__ = ["HueyQueue", "QueueUnreachable", "drain"]

logger = logging.getLogger("fleetprompt.worker")


def _one_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__


def drain(huey: Any, workers: int = 1) -> int:
    """Run queued tasks on ``workers`` threads until the queue is empty; return how many.

    Tasks whose retry was scheduled for later stay in huey's schedule (the
    directive itself is safe in the store and a later sweep finds it).
    """
    done: Counter = Counter()
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
    # Draining stops at the first empty read: no blocking wait (BRPOP, LISTEN) for more.
    storage = huey.storage
    blocking = getattr(storage, "blocking", False)
    storage.blocking = False
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        storage.blocking = blocking
    if failures:
        raise QueueUnreachable(_one_line(failures[0]))
    return done["tasks"]


class HueyQueue:
    """The configured huey queue, as the worker uses it."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def _huey(self) -> Any:
        from fleetprompt_cli.queue.tasks import huey_for

        return huey_for(self.settings)

    def open(self) -> None:
        self._huey()

    def enqueue_run(self, tenant_id: int, directive_id: str) -> None:
        from fleetprompt_cli.queue.tasks import enqueue_run

        enqueue_run(self.settings, tenant_id, directive_id)

    def bind(
        self,
        run: Callable[[int, str], Any] | None,
        sweep: Callable[[], Any] | None,
        dispatch: Callable[[int], Any] | None = None,
    ) -> None:
        from fleetprompt_cli.queue.tasks import set_handlers

        set_handlers(run, sweep, dispatch)

    def drain(self, workers: int) -> int:
        return drain(self._huey(), workers)

    def serve(
        self,
        *,
        workers: int,
        sweep: Callable[[], Any],
        sweep_seconds: float,
        on_ready: Callable[[], None] | None = None,
    ) -> None:
        from fleetprompt_cli.queue.consumer import make_consumer

        consumer = make_consumer(self._huey(), sweep, workers=workers, interval=sweep_seconds)
        if on_ready is not None:
            on_ready()
        consumer.run()
