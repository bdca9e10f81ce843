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
    allow_hidden_unicode: bool = typer.Option(
        False,
        "--allow-hidden-unicode",
        help="Report hidden-Unicode errors as warnings (as publish would accept them).",
    ),
    json_output: bool = JsonOption,
) -> None:
    """Check manifests and report every problem, with file and field.

    Also reports hidden Unicode in the package's files (see 'fleetprompt
    audit'): errors fail validation unless --allow-hidden-unicode.
    """
    from fleetprompt_cli.actions.audit import audit_folder
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
        findings = audit_folder(root)
        blocking = [f for f in findings if f.severity == "error" and not allow_hidden_unicode]
        results.append(
            {
                "path": str(path),
                "valid": not blocking,
                "slug": manifest.slug,
                "version": str(manifest.version),
                "problems": [],
                "findings": [f.to_json() for f in findings],
            }
        )
        if not json_output:
            for finding in findings:
                mark = "[red]✗[/red] " if finding in blocking else "[yellow]![/yellow] "
                app.err.print(mark, end="", markup=True)
                app.err.print(
                    f"{root / finding.where()}: {finding.severity} {finding.code}: "
                    f"{finding.message}",
                    markup=False,
                    highlight=False,
                )
        if blocking:
            continue
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
