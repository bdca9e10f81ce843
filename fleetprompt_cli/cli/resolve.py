"""fleetprompt resolve SPEC..."""

from __future__ import annotations

import typer

from fleetprompt_cli.cli.context import get_app
from fleetprompt_cli.cli.options import JsonOption

__all__ = ["register"]


def resolve(
    ctx: typer.Context,
    specs: list[str] = typer.Argument(
        ..., metavar="SPEC...", help="slug, slug==1.2.0, 'slug>=1,<2' or slug@1.2.0"
    ),
    pre: bool = typer.Option(False, "--pre", help="Allow pre-releases of every package."),
    upgrade: bool = typer.Option(False, "--upgrade", "-U", help="Prefer the newest versions."),
    json_output: bool = JsonOption,
) -> None:
    """Resolve packages and their dependencies and print the plan; changes nothing."""
    from rich.text import Text

    from fleetprompt_cli.actions.planning import plan_request
    from fleetprompt_cli.cli.render import plan_table

    app = get_app(ctx, json_output=json_output)
    with app.err.status("Resolving…", spinner="dots") as status:
        plan = plan_request(
            app.settings,
            specs,
            upgrade=upgrade,
            allow_prerelease=pre,
            progress=lambda message: status.update(Text(message)),
        )
    if json_output:
        app.emit_json("plan", plan.to_json())
        return
    for warning in plan.warnings:
        app.warn(warning)
    app.out.print(plan_table(plan.steps))


def register(app: typer.Typer) -> None:
    app.command()(resolve)
