"""fleetprompt signals list | tail"""

from __future__ import annotations

from typing import Any

import typer

from fleetprompt_cli.cli.context import App, get_app
from fleetprompt_cli.cli.options import INT64_MAX, JsonOption, TenantOption

__all__ = ["register", "show_signals", "signal_line"]

TypeOption = typer.Option(
    None, "--type", metavar="PATTERN", help="Only this type, or a prefix ending in '.*'."
)


def signal_line(event: dict[str, Any]) -> str:
    """One signal on one line: sequence, time, type, subject."""
    when = event["time"].replace("T", " ").removesuffix("Z")[:19]
    return f"{event['sequence']:>5}  {when}  {event['type']}  {event.get('subject') or ''}"


def _print(app: App, event: dict[str, Any]) -> None:
    app.out.print(signal_line(event), highlight=False, markup=False, overflow="fold")


def show_signals(
    ctx: typer.Context,
    type_pattern: str | None,
    since: int,
    limit: int,
    tenant: str | None,
    json_output: bool,
) -> None:
    from fleetprompt_cli.actions.signals import list_signals
    from fleetprompt_cli.actions.source import StateSource

    app = get_app(ctx, json_output=json_output)
    settings = app.settings.with_overrides(tenant=tenant)
    name, events = list_signals(
        StateSource(app.settings.database_url, lambda: app.store),
        settings.tenant,
        type_pattern=type_pattern,
        since=since,
        limit=limit,
    )
    if json_output:
        app.emit_json("signals", {"tenant": name, "signals": events})
        return
    if not events:
        app.note(f"No signals in tenant {name}" + (f" after {since}." if since else "."))
        return
    for event in events:
        _print(app, event)


def list_(
    ctx: typer.Context,
    type_pattern: str = TypeOption,
    since: int = typer.Option(
        0, "--since", "--after", min=0, max=INT64_MAX, help="Only signals after this sequence."
    ),
    limit: int = typer.Option(
        50, "--limit", "-n", min=1, max=100_000, help="Show at most this many."
    ),
    tenant: str = TenantOption,
    json_output: bool = JsonOption,
) -> None:
    """The tenant's signals, oldest first (--json: CloudEvents JSON)."""
    show_signals(ctx, type_pattern, since, limit, tenant, json_output)


def tail(
    ctx: typer.Context,
    type_pattern: str = TypeOption,
    since: int = typer.Option(
        None, "--since", min=0, max=INT64_MAX, help="Start after this sequence (default: now)."
    ),
    limit: int = typer.Option(
        None, "--limit", "-n", min=1, max=100_000, help="Stop after this many signals."
    ),
    timeout: float = typer.Option(
        None, "--timeout", min=0, max=86_400, help="Stop after this many seconds."
    ),
    tenant: str = TenantOption,
    json_lines: bool = typer.Option(
        False, "--jsonl", help="One CloudEvents JSON document per line (JSON Lines)."
    ),
) -> None:
    """Follow the signal log, printing each new signal, until Ctrl-C."""
    import json

    from fleetprompt_cli.actions.signals import tail as follow

    app = get_app(ctx)
    settings = app.settings.with_overrides(tenant=tenant)
    events = follow(
        app.store,
        settings.tenant,
        type_pattern=type_pattern,
        since=since,
        limit=limit,
        timeout=timeout,
    )
    # Ctrl-C ends it as it ends every command (exit 130, docs/cli.md).
    for event in events:
        if json_lines:
            print(json.dumps(event, ensure_ascii=False, separators=(",", ":")), flush=True)
        else:
            _print(app, event)


def register(app: typer.Typer) -> None:
    app.command("list")(list_)
    app.command("tail")(tail)
