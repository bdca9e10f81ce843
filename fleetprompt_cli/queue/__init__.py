"""The installer queue: huey carries wake-ups, the state store has the work.

A wake-up names a directive by (tenant id, directive id) and nothing else;
whoever receives it claims the directive's lease in the store and runs it
with the same installer function an inline install uses.  The queue URL
picks huey's storage: a SQLite file, Redis, or PostgreSQL
(:mod:`fleetprompt_cli.queue.pgstorage`, for deployments without Redis).
This package is a huey adapter: it is handed what a wake-up and a sweep call
(``fleetprompt_cli.actions.worker``) and imports nothing above it.  Losing a wake-up
(a worker killed after dequeuing it, a queue that was down) loses nothing:
every worker's periodic sweep, and ``fleetprompt recover``, re-enqueue open
directives whose lease expired.

This module stays import-light: huey is imported only when a queue is used.
"""

from __future__ import annotations

from typing import Any

from fleetprompt_cli.settings import Settings

__all__ = [
    "TASK_DISPATCH",
    "TASK_RUN",
    "TASK_SWEEP",
    "QueueUnreachable",
    "get_huey",
    "wake",
    "wake_dispatch",
]

TASK_RUN = "fleetprompt.run_directive"
TASK_SWEEP = "fleetprompt.sweep"
# A signal was written for a tenant: deliver its pending signals.
TASK_DISPATCH = "fleetprompt.dispatch_signals"


class QueueUnreachable(Exception):
    """The queue could not be read (as opposed to one unreadable message)."""


def get_huey(settings: Settings) -> Any:
    """The huey instance for the configured queue URL, with our tasks registered."""
    from fleetprompt_cli.queue.tasks import huey_for

    return huey_for(settings)


def _warning(error: Exception) -> str:
    from fleetprompt_cli.errors import FleetPromptError

    if isinstance(error, FleetPromptError):
        return f"could not notify the installer queue: {error}"
    return f"could not notify the installer queue ({type(error).__name__}: {error})"


def wake_dispatch(settings: Settings, tenant_id: int) -> str | None:
    """Ask a worker to deliver a tenant's pending signals; a warning instead of failing.

    The signal is committed already: a lost wake-up only delays delivery
    until a worker's next sweep or ``fleetprompt signals dispatch``.
    """
    from fleetprompt_cli.queue.tasks import enqueue_dispatch

    try:
        enqueue_dispatch(settings, tenant_id)
    except Exception as error:  # The queue is an optimisation; the store is the truth.
        return _warning(error)
    return None


def wake(settings: Settings, tenant_id: int, directive_id: str) -> str | None:
    """Enqueue a wake-up for a directive; return a warning instead of failing.

    The directive is already committed to the store, so a queue that is down
    delays the work (until a sweep or ``recover``) but never loses it.
    """
    from fleetprompt_cli.queue.tasks import enqueue_run

    try:
        enqueue_run(settings, tenant_id, directive_id)
    except Exception as error:  # The queue is an optimisation; the store is the truth.
        from fleetprompt_cli.errors import FleetPromptError

        if isinstance(error, FleetPromptError):
            return f"could not notify the installer queue: {error}"
        return f"could not notify the installer queue ({type(error).__name__}: {error})"
    return None
