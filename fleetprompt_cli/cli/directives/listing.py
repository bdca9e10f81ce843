"""fleetprompt directives list"""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from fleetprompt_cli.cli.context import get_app
from fleetprompt_cli.cli.formats import when
from fleetprompt_cli.cli.options import INT64_MAX, JsonOption, TenantOption

if TYPE_CHECKING:
    pass

__all__ = ["register"]


def list_(
    ctx: typer.Context,
    status: str = typer.Option(
        None, "--status", "-s", help="Only pending, running, succeeded, failed or cancelled."
    ),
    limit: int = typer.Option(
        20, "--limit", "-n", min=1, max=INT64_MAX, help="At most this many, newest first."
    ),
    tenant: str = TenantOption,
    json_output: bool = JsonOption,
) -> None:
    """The command log of a tenant, newest first."""
    from rich.table import Table
    from rich.text import Text

    from fleetprompt_cli.actions.inspecting import list_directives
    from fleetprompt_cli.actions.state import StateSource

    app = get_app(ctx, json_output=json_output)
    settings = app.settings.with_overrides(tenant=tenant)
    directives = list_directives(
        StateSource(app.settings.database_url, lambda: app.store),
        settings.tenant,
        status=status,
        limit=limit,
    )
    if json_output:
        app.emit_json(
            "directives",
            {"tenant": settings.tenant, "directives": [d.to_json() for d in directives]},
        )
        return
    if not directives:
        app.note(f"No directives in tenant {settings.tenant}.")
        return
    table = Table(box=None, pad_edge=False)
    table.add_column("Id", no_wrap=True)
    table.add_column("When (UTC)", no_wrap=True)
    table.add_column("By", no_wrap=True, max_width=12, overflow="ellipsis")
    table.add_column("Kind", no_wrap=True)
    table.add_column("Status", no_wrap=True)
    table.add_column("Packages", overflow="fold")
    for d in directives:
        packages = ", ".join(s.slug for s in d.steps) or ", ".join(d.arguments.get("request", []))
        table.add_row(
            d.id[:8], when(d.created_at, short=True), d.actor, d.operation, Text(d.status), packages
        )
    app.out.print(table)


def register(app: typer.Typer) -> None:
    app.command("list")(list_)
