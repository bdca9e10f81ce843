"""fleetprompt uninstall SLUG..."""

from __future__ import annotations

import shlex
import sys

import typer
from rich.console import Group
from rich.text import Text

from fleetprompt_cli.cli.context import get_app
from fleetprompt_cli.cli.options import JsonOption, TenantOption

__all__ = ["register"]


def _plan_view(preview) -> Group:
    lines = [Text(f"Uninstall plan for tenant {preview.tenant}", style="bold")]
    for step in preview.removed:
        line = Text("  ")
        line.append(step["slug"], style="bold")
        line.append(f" {step['version'] or ''} ", style="cyan")
        line.append("uninstall", style="red")
        line.append(f"  ({step['reason']})", style="dim")
        lines.append(line)
    return Group(*lines)


def uninstall(
    ctx: typer.Context,
    slugs: list[str] = typer.Argument(..., metavar="SLUG...", help="Packages to remove."),
    tenant: str = TenantOption,
    force: bool = typer.Option(False, "--force", help="Remove it even if other packages need it."),
    keep_deps: bool = typer.Option(
        False, "--keep-deps", help="Keep dependencies that nothing else needs."
    ),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show the plan; change nothing."),
    no_wait: bool = typer.Option(False, "--no-wait", help="Queue it for workers and return."),
    actor: str = typer.Option(None, "--actor", help="Who does it, for the audit trail."),
    json_output: bool = JsonOption,
) -> None:
    """Uninstall packages (and dependencies nothing else needs) from a tenant."""
    from fleetprompt_cli.actions.install import preview_uninstall, submit
    from fleetprompt_cli.cli.progress import follow, run_inline

    app = get_app(ctx, json_output=json_output)
    settings = app.settings.with_overrides(tenant=tenant, actor=actor)
    store = app.store
    preview = preview_uninstall(store, settings.tenant, slugs, force=force, keep_deps=keep_deps)

    def emit(directive: str | None, status: str, error: str | None = None) -> None:
        app.emit_json(
            "uninstall",
            {**preview.to_json(), "directive": directive, "status": status, "error": error},
        )

    if not json_output:
        app.out.print(_plan_view(preview))
    if dry_run:
        if json_output:
            emit(None, "dry_run")
        return
    if (
        app.interactive
        and not yes
        and not typer.confirm(f"Uninstall from tenant {preview.tenant}?", default=False, err=True)
    ):
        raise typer.Exit(1)
    command = "fleetprompt " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    directive_id = submit(settings, store, preview, actor=settings.actor, command=command)
    if no_wait:
        if json_output:
            emit(directive_id, "queued")
        else:
            app.out.print(f"queued directive {directive_id}", highlight=False)
        return
    outcome = run_inline(app, settings, store, preview.tenant_id, directive_id)
    if outcome.status == "busy":
        outcome = follow(app, store, preview.tenant_id, directive_id)
    if json_output:
        emit(directive_id, outcome.status, outcome.error)
    elif outcome.status == "succeeded":
        app.out.print(
            f"uninstalled from tenant {preview.tenant} (directive {directive_id})",
            highlight=False,
        )
    if outcome.status != "succeeded":
        if not json_output:
            app.abort(
                f"directive {directive_id} {outcome.status}: {outcome.error}", outcome.exit_code
            )
        raise typer.Exit(int(outcome.exit_code))


def register(app: typer.Typer) -> None:
    app.command()(uninstall)
