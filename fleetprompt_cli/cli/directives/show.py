"""fleetprompt directives show ID"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer

from fleetprompt_cli.cli.context import get_app
from fleetprompt_cli.cli.formats import STATUS_STYLES, when
from fleetprompt_cli.cli.options import JsonOption, TenantOption

if TYPE_CHECKING:
    from rich.console import Group

__all__ = ["directive_view", "register"]


def directive_view(directive: Any) -> Group:
    """A directive's facts and its steps with status, attempts and error."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="bold", no_wrap=True)
    facts.add_column(overflow="fold")
    for key, value in (
        ("Directive", directive.id),
        ("Tenant", directive.tenant),
        ("Kind", directive.operation),
        ("Command", directive.command),
        ("By", directive.actor),
        ("Created", when(directive.created_at) + " UTC"),
        ("Finished", when(directive.finished_at)),
        ("Status", Text(directive.status, style=STATUS_STYLES.get(directive.status, ""))),
        ("Attempts", str(directive.attempts)),
        ("Error", directive.error),
    ):
        if value:
            facts.add_row(key, value)
    parts: list[Any] = [facts]
    if directive.steps:
        steps = Table(box=None, pad_edge=False, title=None)
        steps.add_column("#", justify="right", no_wrap=True)
        steps.add_column("Package", style="bold", no_wrap=True)
        steps.add_column("Version", no_wrap=True)
        steps.add_column("Action", no_wrap=True)
        steps.add_column("Status", no_wrap=True)
        steps.add_column("Tries", justify="right", no_wrap=True)
        steps.add_column("Error", overflow="fold")
        for step in directive.steps:
            steps.add_row(
                str(step.position + 1),
                step.slug,
                step.version or "",
                step.action,
                Text(step.status, style=STATUS_STYLES.get(step.status, "")),
                str(step.attempts),
                step.error_message or "",
            )
        parts.extend([Text(), steps])
    if directive.signals:
        parts.append(Text())
        parts.append(Text("Signals", style="bold"))
        for signal in directive.signals:
            parts.append(Text(f"  #{signal.sequence} {signal.type} {signal.subject or ''}"))
    return Group(*parts)


def show(
    ctx: typer.Context,
    directive: str = typer.Argument(..., metavar="ID", help="A directive id or its prefix."),
    tenant: str = TenantOption,
    json_output: bool = JsonOption,
) -> None:
    """One directive: who, when, the command, and its steps' status."""
    from fleetprompt_cli.actions.inspecting import directive_detail
    from fleetprompt_cli.actions.state import StateSource

    app = get_app(ctx, json_output=json_output)
    settings = app.settings.with_overrides(tenant=tenant)
    found = directive_detail(
        StateSource(app.settings.database_url, lambda: app.store), settings.tenant, directive
    )
    if json_output:
        app.emit_json("directive", {"directive": found.to_json()})
        return
    app.out.print(directive_view(found))


def register(app: typer.Typer) -> None:
    app.command()(show)
