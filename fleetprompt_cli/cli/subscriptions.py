"""fleetprompt subscriptions"""

from __future__ import annotations

import typer

from fleetprompt_cli.cli.context import get_app
from fleetprompt_cli.cli.options import JsonOption, TenantOption

__all__ = ["register"]


def subscriptions(
    ctx: typer.Context,
    tenant: str = TenantOption,
    json_output: bool = JsonOption,
) -> None:
    """The tenant's signal subscribers, with offset and pending count."""
    from rich.table import Table

    from fleetprompt_cli.actions.signals import subscriptions as read

    app = get_app(ctx, json_output=json_output)
    settings = app.settings.with_overrides(tenant=tenant)
    name, rows = read(app.store, settings.tenant)
    if json_output:
        app.emit_json(
            "subscriptions", {"tenant": name, "subscriptions": [r.to_json() for r in rows]}
        )
        return
    if not rows:
        app.note(f"No subscriptions in tenant {name}.")
        return
    table = Table(box=None, pad_edge=False)
    table.add_column("Subscriber", overflow="fold", max_width=28)
    table.add_column("Kind", no_wrap=True)
    table.add_column("Types", overflow="fold")
    table.add_column("Status", no_wrap=True)
    table.add_column("Offset", no_wrap=True, justify="right")
    table.add_column("Pending", no_wrap=True, justify="right")
    for row in rows:
        table.add_row(
            row.name,
            row.handler_kind,
            ", ".join(row.patterns),
            row.status,
            str(row.offset),
            str(row.pending),
        )
    app.out.print(table)


def register(app: typer.Typer) -> None:
    app.command()(subscriptions)
