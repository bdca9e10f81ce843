"""fleetprompt featured"""

from __future__ import annotations

import typer

from fleetprompt_cli.cli.context import get_app
from fleetprompt_cli.cli.options import INT64_MAX, JsonOption

__all__ = ["register"]


def featured(
    ctx: typer.Context,
    limit: int = typer.Option(
        6, "--limit", "-n", min=1, max=INT64_MAX, help="Show at most this many packages."
    ),
    json_output: bool = JsonOption,
) -> None:
    """The packages the index's maintainers feature."""
    from fleetprompt_cli.actions.search import featured as run_featured

    app = get_app(ctx, json_output=json_output)
    result = run_featured(app.settings, limit=limit)
    if json_output:
        app.emit_json("featured", result.to_json())
        return
    for warning in result.warnings:
        app.warn(warning)
    if not result.packages:
        app.note("No featured packages.")
        return
    from fleetprompt_cli.cli.render import package_table

    app.out.print(package_table(result.packages, app.out.width, title="Featured packages"))


def register(app: typer.Typer) -> None:
    app.command()(featured)
