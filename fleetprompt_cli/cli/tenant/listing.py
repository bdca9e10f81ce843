"""fleetprompt tenant list"""

from __future__ import annotations

import typer

from fleetprompt_cli.cli.context import get_app
from fleetprompt_cli.cli.formats import when
from fleetprompt_cli.cli.options import JsonOption

__all__ = ["register"]


def list_(ctx: typer.Context, json_output: bool = JsonOption) -> None:
    """Every tenant: tier, when it was created, how many installations it has."""
    from rich.table import Table

    from fleetprompt_cli.actions.state import StateSource
    from fleetprompt_cli.actions.tenants import list_tenants

    app = get_app(ctx, json_output=json_output)
    tenants = list_tenants(StateSource(app.settings.database_url, lambda: app.store))
    if json_output:
        app.emit_json("tenants", {"tenants": [t.to_json() for t in tenants]})
        return
    if not tenants:
        app.note("No tenants yet; 'default' is created on first use.")
        return
    table = Table(box=None, pad_edge=False)
    table.add_column("Tenant", style="bold", no_wrap=True)
    table.add_column("Tier", no_wrap=True)
    table.add_column("Created", no_wrap=True)
    table.add_column("Installations", justify="right", no_wrap=True)
    for tenant in tenants:
        created = when(tenant.created_at, short=True)
        table.add_row(tenant.slug, tenant.tier, created, str(tenant.installations))
    app.out.print(table)


def register(app: typer.Typer) -> None:
    app.command("list")(list_)
