"""fleetprompt worker [--workers N] [--once] [--log-format text|json]"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

import typer

from fleetprompt_cli.cli.context import get_app
from fleetprompt_cli.cli.options import MAX_WORKERS, JsonOption
from fleetprompt_cli.settings import safe_url

__all__ = ["JsonLogFormatter", "register"]

LOG_FORMATS = ("text", "json")


class JsonLogFormatter(logging.Formatter):
    """One JSON object per line: a directive's record (tenant, directive, kind,
    duration, outcome, attempts), or any other line as ``event: log``.

    ``json.dumps`` escapes control characters, so nothing raw reaches a terminal.
    """

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
        }
        details = getattr(record, "fleetprompt", None)
        if isinstance(details, dict):
            data.update(details)
        else:
            data.update(event="log", logger=record.name, message=record.getMessage())
        return json.dumps(data, separators=(",", ":"), default=str)


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
    log_format: str = typer.Option(
        "text",
        "--log-format",
        metavar="text|json",
        help="Log lines on stderr: text, or json (one object per directive).",
    ),
    json_output: bool = JsonOption,
) -> None:
    """Run installer directives from the queue; SIGTERM stops after the running ones.

    Every worker also sweeps the state store every FLEETPROMPT_SWEEP_SECONDS
    (default 5) for directives whose lease expired, and takes them over.
    A second SIGTERM (or SIGINT) stops at once and releases the running
    directives to other workers.
    """
    if log_format not in LOG_FORMATS:
        raise typer.BadParameter(
            f"must be one of {', '.join(LOG_FORMATS)}, not {log_format[:40]!r}",
            param_hint="'--log-format'",
        )
    structured = log_format == "json"
    # The wiring: the worker's policy (actions) runs on the huey queue (queue).
    from fleetprompt_cli.actions.worker import run_worker
    from fleetprompt_cli.queue.worker import HueyQueue

    app = get_app(ctx, json_output=json_output)
    settings = app.settings
    # Our log lines (one per directive run) go to stderr; huey's own INFO
    # chatter stays off, its warnings and errors reach stderr as usual.
    log = logging.getLogger("fleetprompt.worker")
    handler = logging.StreamHandler(sys.stderr)
    if structured:
        handler.setFormatter(JsonLogFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    # huey's warnings and errors in the same format (its INFO chatter stays off).
    huey_log = logging.getLogger("huey")
    if structured:
        huey_log.addHandler(handler)
        huey_log.propagate = False

    def say(message: str, **fields: Any) -> None:
        if structured:
            log.info(message, extra={"fleetprompt": {**fields, "message": message}})
        else:
            app.note(message)

    def ready() -> None:
        mode = "once" if once else "until SIGTERM"
        say(
            f"worker ready: {workers} thread(s), queue {safe_url(settings.queue_url)}, "
            f"store {safe_url(settings.database_url)} ({mode})",
            event="ready",
            workers=workers,
        )

    try:
        stats = run_worker(
            settings,
            HueyQueue(settings),
            workers=workers,
            once=once,
            on_ready=ready,
            details=structured,
        )
        outcomes = ", ".join(f"{n} {k}" for k, n in sorted(stats.outcomes.items())) or "nothing"
        if not json_output:
            say(
                f"worker stopped: {stats.wakeups} wake-up(s) ({outcomes}); swept {stats.swept}",
                event="stopped",
                **stats.to_json(),
            )
    finally:
        log.removeHandler(handler)
        if structured:
            huey_log.removeHandler(handler)
            huey_log.propagate = True
    if json_output:
        app.emit_json("worker", stats.to_json())


def register(app: typer.Typer) -> None:
    app.command()(worker)
