"""fleetprompt uninstall SLUG..."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from fleetprompt_cli.cli.context import get_app
from fleetprompt_cli.cli.options import (
    ActorOption,
    DryRunOption,
    JsonOption,
    NoWaitOption,
    TenantOption,
    YesOption,
    complete_installed,
)

if TYPE_CHECKING:
    from rich.console import Group

__all__ = ["register"]


def _plan_view(preview) -> Group:
    from rich.console import Group
    from rich.text import Text

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
    slugs: list[str] = typer.Argument(
        ..., metavar="SLUG...", help="Packages to remove.", autocompletion=complete_installed
    ),
    tenant: str = TenantOption,
    force: bool = typer.Option(False, "--force", help="Remove it even if other packages need it."),
    keep_deps: bool = typer.Option(
        False, "--keep-deps", help="Keep dependencies that nothing else needs."
    ),
    yes: bool = YesOption,
    dry_run: bool = DryRunOption,
    no_wait: bool = NoWaitOption,
    actor: str = ActorOption,
    json_output: bool = JsonOption,
) -> None:
    """Uninstall packages (and dependencies nothing else needs) from a tenant."""
    from fleetprompt_cli.actions.preview import preview_uninstall
    from fleetprompt_cli.cli.apply import apply_preview

    app = get_app(ctx, json_output=json_output)
    settings = app.settings.with_overrides(tenant=tenant, actor=actor)
    store = app.store
    preview = preview_uninstall(store, settings.tenant, slugs, force=force, keep_deps=keep_deps)

    if not json_output:
        app.out.print(_plan_view(preview))
    apply_preview(
        app,
        settings,
        preview,
        json_kind="uninstall",
        question="Uninstall from",
        done="uninstalled from",
        yes=yes,
        dry_run=dry_run,
        no_wait=no_wait,
        confirm_default=False,
    )


def register(app: typer.Typer) -> None:
    app.command()(uninstall)
