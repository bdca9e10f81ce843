"""fleetprompt list"""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from fleetprompt_cli.cli.context import get_app
from fleetprompt_cli.cli.formats import STATUS_STYLES, when
from fleetprompt_cli.cli.options import JsonOption, TenantOption

if TYPE_CHECKING:
    pass

__all__ = ["register", "resource_summary"]

# One letter per resource kind keeps the counts column narrow at 80 columns.
_KIND_LETTERS = (("agent", "a"), ("workflow", "w"), ("skill", "s"), ("tool", "t"))


def resource_summary(counts: dict[str, int]) -> str:
    """{"agent": 2, "skill": 5} -> "2a 5s" (agents, workflows, skills, tools)."""
    return " ".join(f"{counts[k]}{letter}" for k, letter in _KIND_LETTERS if counts.get(k))


def list_(
    ctx: typer.Context,
    all_: bool = typer.Option(
        False, "--all", "-a", help="Include uninstalled and cancelled rows (history)."
    ),
    tenant: str = TenantOption,
    json_output: bool = JsonOption,
) -> None:
    """The tenant's installed packages."""
    from rich.table import Table
    from rich.text import Text

    from fleetprompt_cli.actions.inspecting import list_installations
    from fleetprompt_cli.actions.state import StateSource

    app = get_app(ctx, json_output=json_output)
    settings = app.settings.with_overrides(tenant=tenant)
    from fleetprompt_cli.actions.outdated import yanked_among

    result = list_installations(
        StateSource(app.settings.database_url, lambda: app.store), settings.tenant, include_all=all_
    )
    yanked, warnings = yanked_among(
        settings, [(i.slug, i.version) for i in result.installations if i.version]
    )
    if json_output:
        document = result.to_json()
        for item in document["installations"]:
            item["yanked"] = (item["slug"], item["version"]) in yanked
        app.emit_json("installations", document)
        return
    for warning in warnings:
        app.warn(warning)
    if not result.installations:
        app.note(f"Nothing installed in tenant {result.tenant}.")
        return
    table = Table(box=None, pad_edge=False)
    table.add_column("Package", style="bold", no_wrap=True)
    table.add_column("Version", style="cyan", no_wrap=True)
    table.add_column("Status", no_wrap=True)
    table.add_column("Why", no_wrap=True)
    table.add_column("Installed (UTC)", no_wrap=True)
    table.add_column("Resources", no_wrap=True)
    for item in result.installations:
        version = item.version or ""
        if item.pending_version and item.pending_version != item.version:
            version = f"{version}→{item.pending_version}" if version else item.pending_version
        shown = Text(version)
        if (item.slug, item.version) in yanked:
            shown.append(" (yanked)", style="red")
        table.add_row(
            item.slug,
            shown,
            Text(item.status, style=STATUS_STYLES.get(item.status, "")),
            "requested" if item.requested else "dependency",
            when(item.installed_at, short=True),
            resource_summary(item.resources),
        )
    app.out.print(table)
    app.note("resources: a=agents w=workflows s=skills t=tools")


def register(app: typer.Typer) -> None:
    app.command("list")(list_)
