"""fleetprompt status [DIRECTIVE|SLUG]"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer

from fleetprompt_cli.cli.context import get_app
from fleetprompt_cli.cli.directives.show import directive_view
from fleetprompt_cli.cli.formats import STATUS_STYLES, change_text, config_value, when
from fleetprompt_cli.cli.list import resource_summary
from fleetprompt_cli.cli.options import JsonOption, TenantOption, complete_installed

if TYPE_CHECKING:
    from collections.abc import Callable

    from rich.console import Group
    from rich.text import Text

__all__ = ["register"]


def _summary_view(summary: Any) -> Group:
    from rich.console import Group
    from rich.text import Text

    parts: list[Any] = [Text(f"Tenant {summary.tenant} ({summary.tier} tier)", style="bold")]
    if summary.by_status:
        for status, count in summary.by_status.items():
            line = Text("  ")
            line.append(f"{count:>4} ")
            line.append(status, style=STATUS_STYLES.get(status, ""))
            parts.append(line)
    else:
        parts.append(Text("  nothing installed"))
    parts.append(Text())
    if summary.open_directives:
        parts.append(Text("Open directives", style="bold"))
        for d in summary.open_directives:
            slugs = ", ".join(s.slug for s in d.steps)
            parts.append(Text(f"  {d.id[:8]}  {d.operation}  {d.status}  {slugs}"))
    else:
        parts.append(Text("No open directives."))
    if summary.failed_directives:
        parts.append(Text())
        parts.append(
            Text("Failed directives (retry: fleetprompt recover --retry-failed)", style="bold")
        )
        for d in summary.failed_directives:
            slugs = ", ".join(s.slug for s in d.steps)
            parts.append(Text(f"  {d.id[:8]}  {d.operation}  {slugs}: {d.error or 'failed'}"))
    return Group(*parts)


def _revision_line(r: Any) -> Text:
    from rich.text import Text

    change = change_text(r.from_status, r.to_status, r.from_version, r.to_version)
    return Text(f"  {when(r.at)}  {r.transition}  {change}  by {r.actor}")


def _installation_view(detail: Any) -> Group:
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    item = detail.installation
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="bold", no_wrap=True)
    facts.add_column(overflow="fold")
    rows = [
        ("Package", item.slug),
        ("Tenant", item.tenant),
        ("Version", item.version or "(none yet)"),
        ("Pending", item.pending_version),
        ("Status", Text(item.status, style=STATUS_STYLES.get(item.status, ""))),
        ("Why", "requested" if item.requested else "dependency"),
        ("Installed", when(item.installed_at) + " UTC" if item.installed_at else ""),
        ("Error", item.error_message),
        ("Next", detail.next_step),
        ("Resources", resource_summary(item.resources)),
    ]
    for key, value in rows:
        if value:
            facts.add_row(key, value)
    parts: list[Any] = [facts]
    if item.config:
        parts.append(Text("Config", style="bold"))
        for key, value in sorted(item.config.items()):
            parts.append(Text(f"  {key} = {config_value(value)}"))
    if detail.resource_list:
        parts.append(Text("Installed resources", style="bold"))
        for resource in detail.resource_list:
            parts.append(Text(f"  {resource['kind']:<9} {resource['name']}"))
    if detail.revisions:
        parts.append(Text("Last changes", style="bold"))
        parts.extend(_revision_line(r) for r in detail.revisions)
    return Group(*parts)


def status(
    ctx: typer.Context,
    target: str = typer.Argument(
        None,
        metavar="[DIRECTIVE|SLUG]",
        help="A package, or a directive id (prefix ok).",
        autocompletion=complete_installed,
    ),
    tenant: str = TenantOption,
    json_output: bool = JsonOption,
) -> None:
    """The tenant at a glance, one installation, or one directive."""
    from fleetprompt_cli.actions.inspecting import DirectiveInfo, InstallationDetail
    from fleetprompt_cli.actions.inspecting import status as run_status
    from fleetprompt_cli.actions.state import StateSource

    app = get_app(ctx, json_output=json_output)
    settings = app.settings.with_overrides(tenant=tenant)
    result = run_status(
        StateSource(app.settings.database_url, lambda: app.store), settings.tenant, target
    )
    view: Callable[[Any], Group]
    if isinstance(result, DirectiveInfo):
        kind, view = "directive", directive_view
        payload = {"directive": result.to_json()}
    elif isinstance(result, InstallationDetail):
        kind, view, payload = "installation", _installation_view, result.to_json()
    else:
        kind, view, payload = "tenant_status", _summary_view, result.to_json()
    if json_output:
        app.emit_json(kind, payload)
        return
    app.out.print(view(result))


def register(app: typer.Typer) -> None:
    app.command()(status)
