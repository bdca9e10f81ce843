"""fleetprompt new SLUG [--category C] [--path DIR]"""

from __future__ import annotations

from pathlib import Path

import typer

from fleetprompt_cli.cli.context import get_app
from fleetprompt_cli.cli.options import JsonOption

__all__ = ["register"]


def new(
    ctx: typer.Context,
    slug: str = typer.Argument(..., help="The package name, e.g. field-service."),
    category: str = typer.Option(
        None, "--category", help="operations (default), customer_service, sales, data, ..."
    ),
    path: Path = typer.Option(None, "--path", help="The folder to create [default: ./SLUG]."),
    json_output: bool = JsonOption,
) -> None:
    """Create a package folder to start from: manifest, README, a sample agent."""
    from fleetprompt_cli.actions.scaffold import new_package

    app = get_app(ctx, json_output=json_output)
    result = new_package(
        slug, category=category, path=path, author=app.settings.actor, cwd=Path.cwd()
    )
    if json_output:
        app.emit_json(
            "new",
            {
                "slug": result.slug,
                "version": result.version,
                "folder": str(result.folder),
                "files": list(result.files),
            },
        )
        return
    app.out.print(f"created {result.slug} {result.version} in {result.folder}", highlight=False)
    app.note("next: edit fleetprompt.toml, then 'fleetprompt validate' and 'fleetprompt pack'")


def register(app: typer.Typer) -> None:
    app.command()(new)
