"""fleetprompt index update"""

from __future__ import annotations

import time

import typer

from fleetprompt_cli.cli.context import get_app
from fleetprompt_cli.cli.options import JsonOption

__all__ = ["register"]


def update(ctx: typer.Context, json_output: bool = JsonOption) -> None:
    """Fetch git indexes and re-read what changed into the local catalog."""
    from fleetprompt_cli.actions.indexes import open_catalog

    app = get_app(ctx, json_output=json_output)
    started = time.perf_counter()
    with app.err.status("Updating indexes…", spinner="dots"):
        view = open_catalog(app.settings, update=True)
        count = view.catalog.count()
        view.catalog.close()
    elapsed = time.perf_counter() - started
    problems = [str(p) for p in view.problems]
    if json_output:
        app.emit_json(
            "index_update",
            {
                "packages": count,
                "files_read": view.report.files_read,
                "packages_changed": view.report.packages_changed,
                "problems": problems,
                "warnings": view.warnings,
                "seconds": round(elapsed, 3),
            },
        )
        return
    for warning in view.warnings:
        app.warn(warning)
    for problem in problems:
        app.warn(f"skipped {problem}")
    app.out.print(
        f"{count} packages; re-read {view.report.files_read} changed files in {elapsed:.2f} s",
        highlight=False,
    )


def register(app: typer.Typer) -> None:
    app.command()(update)
