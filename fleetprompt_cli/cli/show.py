"""fleetprompt show SLUG[@VERSION]"""

from __future__ import annotations

import typer

from fleetprompt_cli.cli.context import get_app
from fleetprompt_cli.cli.options import JsonOption, TenantOption

__all__ = ["register"]


def show(
    ctx: typer.Context,
    package: str = typer.Argument(..., metavar="SLUG[@VERSION]", help="The package to show."),
    tenant: str = TenantOption,
    json_output: bool = JsonOption,
) -> None:
    """A package's detail page: description, pricing, what it installs, versions."""
    from fleetprompt_cli.actions.search import show as run_show

    app = get_app(ctx, json_output=json_output)
    detail = run_show(app.settings.with_overrides(tenant=tenant), package)
    if json_output:
        app.emit_json("package", {"package": detail.to_json()})
        return
    for warning in detail.warnings:
        app.warn(warning)
    from fleetprompt_cli.cli.render import package_detail

    app.out.print(package_detail(detail))


def register(app: typer.Typer) -> None:
    app.command()(show)
