"""fleetprompt rollback SLUG [REVISION]"""

from __future__ import annotations

from typing import Any

import typer

from fleetprompt_cli.cli.context import get_app
from fleetprompt_cli.cli.options import (
    INT64_MAX,
    ActorOption,
    DryRunOption,
    JsonOption,
    NoWaitOption,
    TenantOption,
    YesOption,
    complete_installed,
)

__all__ = ["register"]


def rollback(
    ctx: typer.Context,
    slug: str = typer.Argument(
        ..., help="The installed package to roll back.", autocompletion=complete_installed
    ),
    revision: int = typer.Argument(
        None,
        min=1,
        max=INT64_MAX,
        help="The revision to return to ('fleetprompt history SLUG'; default: the previous).",
    ),
    tenant: str = TenantOption,
    yes: bool = YesOption,
    dry_run: bool = DryRunOption,
    no_wait: bool = NoWaitOption,
    actor: str = ActorOption,
    json_output: bool = JsonOption,
) -> None:
    """Return an installed package to an earlier revision: its version, config and resources."""
    from fleetprompt_cli.actions.rollback import preview_rollback, submit_rollback
    from fleetprompt_cli.cli.apply import apply_preview

    app = get_app(ctx, json_output=json_output)
    settings = app.settings.with_overrides(tenant=tenant, actor=actor)
    preview = preview_rollback(settings, app.store, settings.tenant, slug, revision)
    for warning in preview.warnings:
        app.warn(warning)
    target = preview.target
    if preview.nothing_to_do:
        if json_output:
            app.emit_json(
                "rollback", {**preview.to_json(), "directive": None, "status": "nothing_to_do"}
            )
            return
        app.note(
            f"{preview.slug} is at revision {target.number} ({target.version}) in tenant "
            f"{preview.tenant} already. Nothing to do."
        )
        return
    if not json_output:
        app.out.print(_plan(preview))
    apply_preview(
        app,
        settings,
        preview,
        json_kind="rollback",
        question=f"Roll {preview.slug} back to revision {target.number} in",
        done=f"rolled {preview.slug} back to revision {target.number} in",
        yes=yes,
        dry_run=dry_run,
        no_wait=no_wait,
        submit_with=submit_rollback,
    )


def _plan(preview: Any) -> Any:
    """The rollback's plan: from which revision to which, the version, config and resources."""
    from rich.console import Group
    from rich.padding import Padding
    from rich.text import Text

    from fleetprompt_cli.cli.history import diff_text

    current, target, step = preview.current, preview.target, preview.step
    parts: list[Any] = [
        Text(f"Rollback plan for tenant {preview.tenant} ({preview.tier} tier)", style="bold")
    ]
    line = Text("  ")
    line.append(preview.slug, style="bold")
    version = target.version
    if current.version != target.version:
        version = f"{current.version} → {target.version}"
    line.append(f" {version} ", style="cyan")
    line.append(step["action"], style="magenta" if step["action"] == "downgrade" else "yellow")
    parts.append(line)
    details = [
        Text(
            f"why: rollback to revision {target.number} ({target.description}, "
            f"{target.status}); revision {current.number} is deployed",
            style="dim",
        ),
        Text(f"resources: {target.resources} restored from revision {target.number}"),
    ]
    changes = diff_text(step["config_changes"])
    if changes:
        details.append(Text(f"config: {changes}"))
    parts.append(Padding(Group(*details), (0, 0, 0, 4)))
    return Group(*parts)


def register(app: typer.Typer) -> None:
    app.command()(rollback)
