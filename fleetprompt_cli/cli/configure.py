"""fleetprompt configure SLUG KEY=VALUE..."""

from __future__ import annotations

import shlex
import sys

import typer

from fleetprompt_cli.cli.context import get_app
from fleetprompt_cli.cli.formats import config_value
from fleetprompt_cli.cli.options import ActorOption, JsonOption, TenantOption, complete_installed

__all__ = ["register"]


def configure(
    ctx: typer.Context,
    slug: str = typer.Argument(
        ..., help="The installed package.", autocompletion=complete_installed
    ),
    assignments: list[str] = typer.Argument(
        ..., metavar="KEY=VALUE...", help="Config values, checked against the package's schema."
    ),
    tenant: str = TenantOption,
    actor: str = ActorOption,
    json_output: bool = JsonOption,
) -> None:
    """Change an installed package's config."""
    from fleetprompt_cli.actions.adjust import configure as run_configure

    app = get_app(ctx, json_output=json_output)
    settings = app.settings.with_overrides(tenant=tenant, actor=actor)
    command = "fleetprompt " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    result = run_configure(
        settings,
        app.store,
        settings.tenant,
        slug,
        assignments,
        actor=settings.actor,
        command=command,
    )
    if json_output:
        app.emit_json("configure", result.to_json())
        return
    if not result.changes:
        app.note(f"{result.slug}: nothing changed.")
        return
    for key, (old, new) in result.changes.items():
        app.out.print(
            f"{result.slug}: {key} {config_value(old)} → {config_value(new)}", highlight=False
        )


def register(app: typer.Typer) -> None:
    app.command()(configure)
