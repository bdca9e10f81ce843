"""fleetprompt outdated"""

from __future__ import annotations

import typer

from fleetprompt_cli.cli.context import get_app
from fleetprompt_cli.cli.options import JsonOption, TenantOption

__all__ = ["register"]


def outdated(
    ctx: typer.Context,
    tenant: str = TenantOption,
    json_output: bool = JsonOption,
) -> None:
    """Installed packages with newer versions, and yanked ones."""
    from rich.table import Table
    from rich.text import Text

    from fleetprompt_cli.actions.outdated import outdated as find_outdated

    app = get_app(ctx, json_output=json_output)
    settings = app.settings.with_overrides(tenant=tenant)
    with app.err.status("Checking…", spinner="dots"):
        report = find_outdated(settings, app.store, settings.tenant)
    if json_output:
        app.emit_json("outdated", report.to_json())
        return
    for warning in report.warnings:
        app.warn(warning)
    shown = [item for item in report.items if item.outdated or item.yanked or item.note]
    if not shown:
        count = len(report.items)
        app.note(f"All {count} packages of tenant {report.tenant} are up to date.")
        return
    table = Table(box=None, pad_edge=False)
    table.add_column("Package", style="bold", no_wrap=True)
    table.add_column("Installed", no_wrap=True)
    table.add_column("Upgrade to", style="cyan", no_wrap=True)
    table.add_column("Latest", no_wrap=True)
    table.add_column("Note", overflow="fold")
    for item in shown:
        installed = Text(item.version)
        if item.yanked:
            installed.append(" (yanked)", style="red")
        wanted = item.wanted if item.wanted and item.wanted != item.version else "-"
        table.add_row(
            Text(item.slug), installed, Text(wanted), Text(item.latest or "-"), Text(item.note)
        )
    app.out.print(table)


def register(app: typer.Typer) -> None:
    app.command()(outdated)
