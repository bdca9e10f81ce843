"""fleetprompt pack PATH [--out DIR]"""

from __future__ import annotations

from pathlib import Path

import typer

from fleetprompt_cli.cli.context import get_app
from fleetprompt_cli.cli.options import JsonOption

__all__ = ["register"]


def pack(
    ctx: typer.Context,
    path: Path = typer.Argument(..., help="The package folder."),
    out: Path = typer.Option(
        None, "--out", help="Where to write the archive [default: dist/ beside the package]."
    ),
    json_output: bool = JsonOption,
) -> None:
    """Validate a package and build its reproducible archive (what publish uploads)."""
    from fleetprompt_cli.actions.scaffold import pack as run_pack

    app = get_app(ctx, json_output=json_output)
    result = run_pack(path, out=out)
    if json_output:
        app.emit_json(
            "pack",
            {
                "slug": result.slug,
                "version": result.version,
                "path": str(result.path),
                "sha256": result.sha256,
                "size": result.size,
                "files": result.files,
            },
        )
        return
    # Never wrapped: a script reads these two lines.
    app.out.print(str(result.path), highlight=False, soft_wrap=True)
    app.out.print(f"sha256:{result.sha256}", highlight=False, soft_wrap=True)
    app.note(f"{result.slug} {result.version}: {result.files} files, {result.size} bytes")


def register(app: typer.Typer) -> None:
    app.command()(pack)
