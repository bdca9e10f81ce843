"""fleetprompt signals"""

from __future__ import annotations

import typer

from fleetprompt_cli.cli.context import get_app
from fleetprompt_cli.cli.formats import when
from fleetprompt_cli.cli.options import INT64_MAX, JsonOption, TenantOption

__all__ = ["register"]


def signals(
    ctx: typer.Context,
    after: int = typer.Option(
        0, "--after", min=0, max=INT64_MAX, help="Only signals with a higher sequence number."
    ),
    limit: int = typer.Option(
        50, "--limit", "-n", min=1, max=INT64_MAX, help="Show at most this many."
    ),
    tenant: str = TenantOption,
    json_output: bool = JsonOption,
) -> None:
    """The tenant's signal log: what installs, upgrades and uninstalls announced."""
    from fleetprompt_cli.actions.inspecting import list_signals
    from fleetprompt_cli.actions.state import StateSource

    app = get_app(ctx, json_output=json_output)
    settings = app.settings.with_overrides(tenant=tenant)
    rows = list_signals(
        StateSource(app.settings.database_url, lambda: app.store),
        settings.tenant,
        after=after,
        limit=limit,
    )
    if json_output:
        app.emit_json(
            "signals", {"tenant": settings.tenant, "signals": [r.to_json() for r in rows]}
        )
        return
    if not rows:
        app.note(f"No signals in tenant {settings.tenant}" + (f" after {after}." if after else "."))
        return
    for row in rows:
        app.out.print(
            f"{row.sequence:>5}  {when(row.time)}  {row.type}  {row.subject or ''}",
            highlight=False,
            markup=False,
        )


def register(app: typer.Typer) -> None:
    app.command()(signals)
