"""fleetprompt publish PATH..."""

from __future__ import annotations

from pathlib import Path

import typer

from fleetprompt_cli.cli.context import get_app
from fleetprompt_cli.cli.options import IndexDirOption, JsonOption

__all__ = ["register"]


def publish(
    ctx: typer.Context,
    paths: list[Path] = typer.Argument(..., help="Package folders to publish."),
    index: Path = IndexDirOption,
    json_output: bool = JsonOption,
) -> None:
    """Validate and archive packages and add them to an index as new versions."""
    from fleetprompt_cli.actions.publish import publish as run_publish

    app = get_app(ctx, json_output=json_output)
    with app.err.status("Publishing…", spinner="dots"):
        result = run_publish(app.settings, paths, index_dir=index)
    if json_output:
        app.emit_json(
            "publish",
            {
                "index": str(result.index),
                "commit": result.commit,
                "published": [p.__dict__ for p in result.published],
            },
        )
        return
    for item in result.published:
        app.out.print(
            f"published {item.slug} {item.version}  sha256:{item.sha256[:16]}…", highlight=False
        )
    if result.commit:
        app.note(f"committed {result.commit[:12]} in {result.index}")


def register(app: typer.Typer) -> None:
    app.command()(publish)
