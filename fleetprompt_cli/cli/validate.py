"""fleetprompt validate PATH..."""

from __future__ import annotations

from pathlib import Path

import typer

from fleetprompt_cli.cli.context import get_app
from fleetprompt_cli.cli.options import JsonOption
from fleetprompt_cli.errors import ExitCode

__all__ = ["register"]


def validate(
    ctx: typer.Context,
    paths: list[Path] = typer.Argument(..., help="Package folders or fleetprompt.toml files."),
    json_output: bool = JsonOption,
) -> None:
    """Check manifests and report every problem, with file and field."""
    from fleetprompt_cli.core.manifest import ManifestError, load_manifest

    app = get_app(ctx, json_output=json_output)
    results = []
    for path in paths:
        try:
            manifest, root = load_manifest(path)
        except ManifestError as error:
            results.append(
                {"path": str(path), "valid": False, "problems": error.details["problems"]}
            )
            if not json_output:
                app.err.print("[red]✗[/red] ", end="", markup=True)
                app.err.print(str(error), markup=False, highlight=False)
            continue
        results.append(
            {
                "path": str(path),
                "valid": True,
                "slug": manifest.slug,
                "version": str(manifest.version),
                "problems": [],
            }
        )
        if not json_output:
            app.err.print("[green]✓[/green] ", end="", markup=True)
            app.err.print(
                f"{root}: {manifest.slug} {manifest.version} is valid",
                markup=False,
                highlight=False,
            )
    failed = sum(1 for r in results if not r["valid"])
    if json_output:
        app.emit_json("validate", {"valid": failed == 0, "results": results})
    if failed:
        raise typer.Exit(int(ExitCode.INVALID))


def register(app: typer.Typer) -> None:
    app.command()(validate)
