"""fleetprompt recover [DIRECTIVE...] [--dry-run] [--retry-failed] [--tenant T] [--json]"""

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
            from fleetprompt_cli.actions.installer import default_owner, run_directive

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
    )
    if json_output:
        app.emit_json("recover", report.to_json())
    elif not report.items:
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
    if report.exit_code:
        raise typer.Exit(int(report.exit_code))


def register(app: typer.Typer) -> None:
    app.command()(recover)
