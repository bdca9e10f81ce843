"""fleetprompt signals emit TYPE"""

from __future__ import annotations

import typer

from fleetprompt_cli.cli.context import get_app
from fleetprompt_cli.cli.options import ActorOption, JsonOption, TenantOption

__all__ = ["register"]


def emit(
    ctx: typer.Context,
    type_: str = typer.Argument(..., metavar="TYPE", help="e.g. crm.lead.qualified"),
    data: str = typer.Option(None, "--data", metavar="JSON", help="The signal's data (JSON)."),
    subject: str = typer.Option(None, "--subject", help="What the signal is about."),
    tenant: str = TenantOption,
    actor: str = ActorOption,
    json_output: bool = JsonOption,
) -> None:
    """Publish a custom signal (types under fleetprompt are reserved)."""
    from fleetprompt_cli.actions.signals import emit as publish

    app = get_app(ctx, json_output=json_output)
    settings = app.settings.with_overrides(tenant=tenant, actor=actor)
    result = publish(
        settings,
        app.store,
        settings.tenant,
        type_,
        data=data,
        subject=subject,
        actor=settings.actor,
    )
    if result.warning:
        app.warn(result.warning)
    if json_output:
        app.emit_json("signal", result.to_json())
        return
    event = result.event
    app.note(
        f"Published {event['type']} as #{event['sequence']} in tenant {event['tenant']}."
        if result.created
        else f"Already published as #{event['sequence']}: nothing stored."
    )


def register(app: typer.Typer) -> None:
    app.command("emit")(emit)
