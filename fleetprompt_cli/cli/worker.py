"""fleetprompt worker [--workers N] [--once]"""

from __future__ import annotations

import logging
import sys

import typer

from fleetprompt_cli.cli.context import get_app
from fleetprompt_cli.cli.options import MAX_WORKERS, JsonOption
from fleetprompt_cli.settings import safe_url

__all__ = ["register"]


def worker(
    ctx: typer.Context,
    workers: int = typer.Option(
        1,
        "--workers",
        "-w",
        min=1,
        max=MAX_WORKERS,
        help=f"Worker threads (at most {MAX_WORKERS}).",
    ),
    once: bool = typer.Option(
        False, "--once", help="Process what is queued, sweep once, then exit (tests, cron)."
    ),
    json_output: bool = JsonOption,
) -> None:
    """Run installer directives from the queue; SIGTERM stops after the running ones.

    Every worker also sweeps the state store every FLEETPROMPT_SWEEP_SECONDS
    (default 5) for directives whose lease expired, and takes them over.
    """
    # The wiring: the worker's policy (actions) runs on the huey queue (queue).
    from fleetprompt_cli.actions.worker import run_worker
    from fleetprompt_cli.queue.worker import HueyQueue

    app = get_app(ctx, json_output=json_output)
    settings = app.settings
    # Our log lines (one per directive run) go to stderr; huey's own INFO
    # chatter stays off, its warnings and errors reach stderr as usual.
    log = logging.getLogger("fleetprompt.worker")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False

    def ready() -> None:
        mode = "once" if once else "until SIGTERM"
        app.note(
            f"worker ready: {workers} thread(s), queue {safe_url(settings.queue_url)}, "
            f"store {safe_url(settings.database_url)} ({mode})"
        )

    try:
        stats = run_worker(
            settings, HueyQueue(settings), workers=workers, once=once, on_ready=ready
        )
    finally:
        log.removeHandler(handler)
    if json_output:
        app.emit_json("worker", stats.to_json())
        return
    outcomes = ", ".join(f"{n} {k}" for k, n in sorted(stats.outcomes.items())) or "nothing"
    app.note(f"worker stopped: {stats.wakeups} wake-up(s) ({outcomes}); swept {stats.swept}")


def register(app: typer.Typer) -> None:
    app.command()(worker)
