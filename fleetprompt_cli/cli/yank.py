"""fleetprompt yank SLUG VERSION"""

from __future__ import annotations

from pathlib import Path

import typer

from fleetprompt_cli.cli.context import get_app
from fleetprompt_cli.cli.options import IndexDirOption, JsonOption

__all__ = ["register"]


def yank(
    ctx: typer.Context,
    slug: str = typer.Argument(..., help="The package."),
    version: str = typer.Argument(..., help="The version to yank."),
    undo: bool = typer.Option(False, "--undo", help="Un-yank the version."),
    index: Path = IndexDirOption,
    json_output: bool = JsonOption,
) -> None:
    """Mark a version yanked: kept for those who pinned it, skipped by resolution."""
    from fleetprompt_cli.actions.publish import yank as run_yank

    app = get_app(ctx, json_output=json_output)
    entry = run_yank(app.settings, slug, version, index_dir=index, undo=undo)
    if json_output:
        app.emit_json(
            "yank", {"slug": entry.slug, "version": entry.version, "yanked": entry.yanked}
        )
        return
    app.out.print(
        f"{'un-yanked' if undo else 'yanked'} {entry.slug} {entry.version}", highlight=False
    )


def register(app: typer.Typer) -> None:
    app.command()(yank)
