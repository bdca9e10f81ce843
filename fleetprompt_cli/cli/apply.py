"""Carry out a previewed change: confirm, write the directive, run or queue it.

Shared by install, upgrade, uninstall and rollback, which differ only in
their preview (and rollback in how its directive is written).
"""

from __future__ import annotations

import shlex
import sys
from typing import Any

import typer

from fleetprompt_cli.cli.context import App
from fleetprompt_cli.errors import ExitCode

__all__ = ["apply_preview"]


def apply_preview(
    app: App,
    settings: Any,
    preview: Any,
    *,
    json_kind: str,
    question: str,
    done: str,
    yes: bool,
    dry_run: bool,
    no_wait: bool,
    atomic: bool = False,
    confirm_default: bool = True,
    submit_with: Any = None,
) -> None:
    """After the preview was shown: ask, submit, then run in-process or leave to workers."""
    from fleetprompt_cli.actions.preview import submit
    from fleetprompt_cli.cli.progress import follow, run_inline

    def emit(directive: str | None, status: str, error: str | None = None) -> None:
        app.emit_json(
            json_kind,
            {**preview.to_json(), "directive": directive, "status": status, "error": error},
        )

    if dry_run:
        if app.json_output:
            emit(None, "dry_run")
        return
    # Never ask when stdin is not a terminal (CI) or --yes/--json says not to.
    if (
        app.interactive
        and not yes
        and not typer.confirm(
            f"{question} tenant {preview.tenant}?", default=confirm_default, err=True
        )
    ):
        app.note(f"declined: nothing changed in tenant {preview.tenant}")
        raise typer.Exit(int(ExitCode.DECLINED))
    command = "fleetprompt " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    if submit_with is not None:
        submitted = submit_with(settings, app.store, preview, actor=settings.actor, command=command)
    else:
        # Run here at once: the queue is told only when workers are to run it.
        submitted = submit(
            settings,
            app.store,
            preview,
            actor=settings.actor,
            command=command,
            atomic=atomic,
            wake=no_wait,
        )
    directive_id = submitted.directive_id
    if submitted.warning:
        app.warn(submitted.warning)
    if no_wait:
        if app.json_output:
            emit(directive_id, "queued")
        else:
            app.out.print(f"queued directive {directive_id}", highlight=False)
        return
    outcome = run_inline(app, settings, app.store, preview.tenant_id, directive_id)
    while outcome.status == "busy":
        # A worker claimed it first: follow it, and take over if it dies.
        outcome = follow(app, app.store, preview.tenant_id, directive_id)
        if outcome.status == "busy":
            outcome = run_inline(app, settings, app.store, preview.tenant_id, directive_id)
    if app.json_output:
        emit(directive_id, outcome.status, outcome.error)
    elif outcome.status == "succeeded":
        app.out.print(f"{done} tenant {preview.tenant} (directive {directive_id})", highlight=False)
    if outcome.status != "succeeded":
        if not app.json_output:
            app.abort(
                f"directive {directive_id} {outcome.status}: {outcome.error}", outcome.exit_code
            )
        raise typer.Exit(int(outcome.exit_code))
