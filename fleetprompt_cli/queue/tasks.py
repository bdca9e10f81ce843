"""huey tasks under fixed names: adapters that call the installer."""

from __future__ import annotations

import functools
import os
from typing import Any

from fleetprompt_cli.queue import TASK_RUN, TASK_SWEEP
from fleetprompt_cli.settings import Settings

__all__ = ["enqueue_run", "huey_for"]


def _sqlite_path(url: str) -> str:
    if not url.startswith("sqlite:///"):
        raise ValueError(f"unsupported queue URL {url!r}: use sqlite:///PATH or redis://...")
    return url.removeprefix("sqlite:///")


@functools.cache
def _huey(queue_url: str) -> Any:
    from huey import RedisHuey, SqliteHuey

    # results=False: the state store keeps the results; a wake-up carries ids only.
    options = {
        "results": False,
        "store_none": False,
        "store_intermediate_errors": False,
        "utc": True,
    }
    if queue_url.startswith(("redis://", "rediss://", "unix://")):
        prefix = os.environ.get("FLEETPROMPT_QUEUE_NAME", "fleetprompt")
        huey = RedisHuey(prefix, url=queue_url, **options)
    else:
        path = _sqlite_path(queue_url)
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        huey = SqliteHuey("fleetprompt", filename=path, **options)
    _register(huey)
    return huey


def huey_for(settings: Settings) -> Any:
    """The (cached) huey instance of the settings' queue."""
    return _huey(settings.queue_url)


def _register(huey: Any) -> None:
    @huey.task(name=TASK_RUN)
    def run_directive_task(tenant_id: int, directive_id: str) -> None:
        from fleetprompt_cli.queue.worker import handle_wakeup

        handle_wakeup(tenant_id, directive_id)

    @huey.task(name=TASK_SWEEP)
    def sweep_task() -> None:
        from fleetprompt_cli.queue.worker import sweep_once

        sweep_once()

    huey.fleetprompt_run = run_directive_task
    huey.fleetprompt_sweep = sweep_task


def enqueue_run(settings: Settings, tenant_id: int, directive_id: str) -> None:
    """Put a wake-up for (tenant, directive) on the queue."""
    huey = huey_for(settings)
    huey.fleetprompt_run(tenant_id, directive_id)
