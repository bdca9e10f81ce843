"""fleetprompt sync [--locked | --frozen] [--inexact]"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from fleetprompt_cli.cli.context import get_app
from fleetprompt_cli.cli.lock import ProjectOption
from fleetprompt_cli.cli.options import (
    ActorOption,
    DryRunOption,
    JsonOption,
    TenantOption,
    YesOption,
)
from fleetprompt_cli.errors import UsageError

__all__ = ["register"]


def sync(
    ctx: typer.Context,
    locked: bool = typer.Option(
        False, "--locked", help="Exit 7 if the lock is out of date instead of locking again."
    ),
    frozen: bool = typer.Option(
        False, "--frozen", help="Install the lock as it is: never read the project, never resolve."
    ),
    inexact: bool = typer.Option(
        False, "--inexact", help="Keep installed packages that the lock does not name."
    ),
    tenant: str = TenantOption,
    yes: bool = YesOption,
    dry_run: bool = DryRunOption,
    project: Path | None = ProjectOption,
    actor: str = ActorOption,
    json_output: bool = JsonOption,
) -> None:
    """Make a tenant exactly match fleetprompt.lock (locking first if needed)."""
    from rich.text import Text

    from fleetprompt_cli.actions.lock import project_path
    from fleetprompt_cli.actions.sync import prepare_sync
    from fleetprompt_cli.cli.apply import apply_preview

    if locked and frozen:
        raise UsageError("--locked and --frozen exclude each other: choose one")
    app = get_app(ctx, json_output=json_output)
    settings = app.settings.with_overrides(actor=actor)
    mode = "locked" if locked else "frozen" if frozen else "default"
    with app.err.status("Reading the lock…", spinner="dots") as status:
        preview = prepare_sync(
            settings,
            lambda: app.store,
            project_path(project),
            tenant=tenant,
            mode=mode,
            inexact=inexact,
            dry_run=dry_run,
            progress=lambda message: status.update(Text(message)),
        )
    settings = settings.with_overrides(tenant=preview.tenant)
    relocked = preview.relocked
    if relocked is not None and not json_output:
        for warning in relocked.warnings:
            app.warn(warning)
        verb = "Wrote" if relocked.written else "Would write"
        count = len(relocked.lock.packages)
        app.note(f"{verb} {relocked.lock_path.name} ({_packages(count)}) before syncing")
    for warning in preview.warnings:
        app.warn(warning)
    name = preview.lock_path.name
    if preview.nothing_to_do:
        if json_output:
            app.emit_json(
                "sync", {**preview.to_json(), "directive": None, "status": "nothing_to_do"}
            )
            return
        count = len(preview.lock.packages)
        app.note(f"{preview.tenant} already matches {name}: {_packages(count)}")
        return
    if not json_output:
        app.out.print(_table(preview.rows(), preview.tenant, name))
    apply_preview(
        app,
        settings,
        preview,
        json_kind="sync",
        question="Sync",
        done="synced",
        yes=yes,
        dry_run=dry_run,
        no_wait=False,
    )
    if dry_run and not json_output:
        app.note(f"--dry-run: nothing changed in tenant {preview.tenant}")


def _packages(count: int) -> str:
    return f"{count} package" + ("" if count == 1 else "s")


def _table(rows: list[dict[str, Any]], tenant: str, lock_name: str):
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    styles = {
        "install": "green",
        "upgrade": "yellow",
        "downgrade": "magenta",
        "reconfigure": "cyan",
        "uninstall": "red",
    }
    table = Table(box=None, pad_edge=False, show_edge=False)
    table.add_column("Package", style="bold", no_wrap=True)
    table.add_column("Version", no_wrap=True)
    table.add_column("Change", no_wrap=True)
    table.add_column("Why", overflow="fold")
    for row in rows:
        old, new = row["from"], row["to"]
        version = f"{old} → {new}" if old and new and old != new else new or old or ""
        table.add_row(
            Text(row["slug"]),
            Text(version, style="cyan"),
            Text(row["action"], style=styles.get(row["action"], "")),
            Text(row["reason"]),
        )
    title = Text(f"Sync plan for tenant {tenant} (from {lock_name})", style="bold")
    return Group(title, table)


def register(app: typer.Typer) -> None:
    app.command()(sync)
