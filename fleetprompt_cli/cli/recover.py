"""fleetprompt recover [DIRECTIVE...] [--dry-run] [--retry-failed] [--now] [--tenant T] [--json]"""

from __future__ import annotations

import typer

from fleetprompt_cli.cli.context import get_app
from fleetprompt_cli.cli.options import JsonOption

__all__ = ["register"]


def recover(
    ctx: typer.Context,
    ids: list[str] = typer.Argument(
        None, metavar="[DIRECTIVE]...", help="Only these directives (ids or unique prefixes)."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="List what would be recovered."),
    retry_failed: bool = typer.Option(
        False, "--retry-failed", help="Also re-open failed directives and run them again."
    ),
    now: bool = typer.Option(
        False,
        "--now",
        help="Also take over directives still running, at once (their process died).",
    ),
    tenant: str = typer.Option(
        None, "--tenant", "-t", help="Only this tenant's directives (default: every tenant)."
    ),
    json_output: bool = JsonOption,
) -> None:
    """Finish directives whose process died (expired lease), here, with progress."""
    from fleetprompt_cli.actions.recover import recover as run_recover
    from fleetprompt_cli.cli.progress import run_inline

    app = get_app(ctx, json_output=json_output)
    settings = app.settings
    store = app.store

    def runner(tenant_id: int, directive_id: str):
        if json_output:
            from fleetprompt_cli.actions.directive_runner import default_owner, run_directive

            owner = default_owner("recover")
            return run_directive(settings, store, tenant_id, directive_id, owner=owner)
        return run_inline(app, settings, store, tenant_id, directive_id)

    def announce(item) -> None:
        if not json_output:
            app.note(
                f"recovering directive {item.id} (tenant {item.tenant}, {item.reason}, "
                f"attempt {item.attempts + 1})"
            )

    report = run_recover(
        settings,
        store,
        tenant=tenant,
        dry_run=dry_run,
        retry_failed=retry_failed,
        ids=ids or (),
        runner=runner,
        on_item=announce,
        now=now,
    )
    if json_output:
        app.emit_json("recover", report.to_json())
        if report.exit_code:
            raise typer.Exit(int(report.exit_code))
        return
    if not report.items:
        app.note("No directives to recover.")
    elif dry_run:
        for item in report.items:
            app.out.print(
                f"{item.id}  {item.tenant}  {item.status}  attempts {item.attempts}  {item.reason}",
                highlight=False,
            )
    else:
        for item in report.items:
            tail = f": {item.error}" if item.error and item.outcome != "succeeded" else ""
            app.out.print(f"directive {item.id} {item.outcome}{tail}", highlight=False)
    for item in report.running:
        if item.reason == "running":
            app.note(
                f"directive {item.id} (tenant {item.tenant}) is running: {item.lease_owner} "
                f"holds its lease for {_seconds(item.due_in)} more"
            )
        else:
            app.note(
                f"directive {item.id} (tenant {item.tenant}) waits for a worker: a sweep "
                f"takes it in {_seconds(item.due_in)}"
            )
    if report.running:
        app.note(
            "if its process died, 'fleetprompt recover --now' takes it over at once"
            if len(report.running) == 1
            else "if their processes died, 'fleetprompt recover --now' takes them over at once"
        )
    if report.exit_code:
        raise typer.Exit(int(report.exit_code))


def _seconds(value: float | None) -> str:
    return f"{round(value or 0)} s"


def register(app: typer.Typer) -> None:
    app.command()(recover)
