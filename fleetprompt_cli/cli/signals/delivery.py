"""fleetprompt signals dispatch | deliveries | dead-letters | retry | replay"""

from __future__ import annotations

from typing import Any

import typer

from fleetprompt_cli.cli.context import App, get_app
from fleetprompt_cli.cli.options import INT64_MAX, JsonOption, TenantOption

__all__ = ["register"]


def dispatch(
    ctx: typer.Context,
    batch: int = typer.Option(500, "--batch", min=1, max=10_000, help="Signals per transaction."),
    tenant: str = TenantOption,
    json_output: bool = JsonOption,
) -> None:
    """Deliver pending signals to the tenant's subscribers, in sequence order."""
    from fleetprompt_cli.actions.signals import dispatch as run

    app = get_app(ctx, json_output=json_output)
    settings = app.settings.with_overrides(tenant=tenant)
    result = run(app.store, settings.tenant, batch=batch)
    if json_output:
        app.emit_json("dispatch", result.to_json())
        return
    app.note(
        f"Delivered {result.delivered} signal(s), dead-lettered {result.dead}"
        f" ({result.batches} batch(es))."
    )


def _rows(app: App, rows: list[Any]) -> None:
    from rich.table import Table

    table = Table(box=None, pad_edge=False)
    table.add_column("Id", no_wrap=True, justify="right")
    table.add_column("Subscriber", overflow="fold", max_width=24)
    table.add_column("Seq", no_wrap=True, justify="right")
    table.add_column("Type", overflow="fold", max_width=26)
    table.add_column("Gen", no_wrap=True, justify="right")
    table.add_column("Status", no_wrap=True)
    table.add_column("Tries", no_wrap=True, justify="right")
    for row in rows:
        table.add_row(
            str(row.id),
            row.subscriber,
            str(row.sequence),
            row.type,
            str(row.generation),
            row.status,
            str(row.attempts),
        )
    app.out.print(table)
    for row in rows:
        if row.error:
            app.out.print(f"#{row.id}: {row.error}", highlight=False, markup=False)


def deliveries(
    ctx: typer.Context,
    subscriber: str = typer.Option(
        None, "--subscriber", help="Only this subscriber (slug:handler)."
    ),
    limit: int = typer.Option(200, "--limit", "-n", min=1, max=100_000, help="At most this many."),
    tenant: str = TenantOption,
    json_output: bool = JsonOption,
) -> None:
    """What was delivered to whom (the built-in handler's notifications)."""
    from fleetprompt_cli.actions.signals import deliveries as read

    app = get_app(ctx, json_output=json_output)
    settings = app.settings.with_overrides(tenant=tenant)
    name, rows = read(app.store, settings.tenant, subscriber=subscriber, limit=limit)
    if json_output:
        app.emit_json("deliveries", {"tenant": name, "deliveries": [r.to_json() for r in rows]})
        return
    if not rows:
        app.note(f"No deliveries in tenant {name}.")
        return
    _rows(app, rows)


def dead_letters(
    ctx: typer.Context,
    tenant: str = TenantOption,
    json_output: bool = JsonOption,
) -> None:
    """Deliveries whose handler kept failing (retry one with 'signals retry ID')."""
    from fleetprompt_cli.actions.signals import dead_letters as read

    app = get_app(ctx, json_output=json_output)
    settings = app.settings.with_overrides(tenant=tenant)
    name, rows = read(app.store, settings.tenant)
    if json_output:
        app.emit_json("dead_letters", {"tenant": name, "deliveries": [r.to_json() for r in rows]})
        return
    if not rows:
        app.note(f"No dead letters in tenant {name}.")
        return
    _rows(app, rows)


def retry(
    ctx: typer.Context,
    delivery_id: int = typer.Argument(..., metavar="ID", min=1, max=INT64_MAX),
    tenant: str = TenantOption,
    json_output: bool = JsonOption,
) -> None:
    """Run a dead letter's handler again, once."""
    from fleetprompt_cli.actions.signals import retry as run

    app = get_app(ctx, json_output=json_output)
    settings = app.settings.with_overrides(tenant=tenant)
    row = run(app.store, settings.tenant, delivery_id)
    if json_output:
        app.emit_json("delivery", {"delivery": row.to_json()})
    elif row.status == "delivered":
        app.note(f"Delivery {row.id} delivered on retry.")
    else:
        app.warn(f"delivery {row.id} failed again: {row.error}")
    if row.status != "delivered":
        raise typer.Exit(1)


def replay(
    ctx: typer.Context,
    subscriber: str = typer.Option(..., "--subscriber", help="The subscriber (slug:handler)."),
    from_sequence: int = typer.Option(
        ..., "--from", min=1, max=INT64_MAX, help="First sequence to deliver again."
    ),
    tenant: str = TenantOption,
    json_output: bool = JsonOption,
) -> None:
    """Deliver again from a sequence on, as a new generation (then: signals dispatch)."""
    from fleetprompt_cli.actions.signals import replay as run

    app = get_app(ctx, json_output=json_output)
    settings = app.settings.with_overrides(tenant=tenant)
    info = run(app.store, settings.tenant, subscriber, from_sequence)
    if json_output:
        app.emit_json("subscription", {"subscription": info.to_json()})
        return
    app.note(
        f"{info.name}: generation {info.generation} from #{from_sequence}, "
        f"{info.pending} signal(s) pending."
    )


def register(app: typer.Typer) -> None:
    app.command("dispatch")(dispatch)
    app.command("deliveries")(deliveries)
    app.command("dead-letters")(dead_letters)
    app.command("retry")(retry)
    app.command("replay")(replay)
