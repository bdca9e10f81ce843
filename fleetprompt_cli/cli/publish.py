"""fleetprompt publish PATH... [--index FOLDER|URL]"""

from __future__ import annotations

from pathlib import Path

import typer

from fleetprompt_cli.cli.context import get_app
from fleetprompt_cli.cli.options import JsonOption

__all__ = ["IndexTargetOption", "register"]

# publish, yank and owner write to a folder index or push to a git one.
IndexTargetOption = typer.Option(
    None,
    "--index",
    metavar="DIR|URL",
    help="Index to write to: a folder, or a git URL to push to (file://, https://, ssh).",
)


def publish(
    ctx: typer.Context,
    paths: list[Path] = typer.Argument(..., help="Package folders to publish."),
    index: str = IndexTargetOption,
    sign: bool = typer.Option(
        None,
        "--sign/--no-sign",
        help="Sign with your key (default: when 'fleetprompt keys generate' made one).",
    ),
    allow_hidden_unicode: bool = typer.Option(
        False,
        "--allow-hidden-unicode",
        help="Publish despite hidden-Unicode errors (recorded in the index line).",
    ),
    json_output: bool = JsonOption,
) -> None:
    """Validate and archive packages and add them to an index as new versions."""
    from fleetprompt_cli.actions.publish import publish as run_publish

    app = get_app(ctx, json_output=json_output)
    with app.err.status("Publishing…", spinner="dots"):
        result = run_publish(
            app.settings,
            paths,
            index_dir=index,
            sign=sign,
            allow_hidden_unicode=allow_hidden_unicode,
        )
    for warning in result.warnings:
        app.warn(warning)
    if json_output:
        app.emit_json(
            "publish",
            {
                "index": result.index,
                "commit": result.commit,
                "pushed": result.pushed,
                "attempts": result.attempts,
                "publisher": app.settings.actor,
                "owners_claimed": result.owners_claimed,
                "signed_by": result.signed_by,
                "published": [p.__dict__ for p in result.published],
            },
        )
        return
    for item in result.published:
        app.out.print(
            f"published {item.slug} {item.version}  sha256:{item.sha256[:16]}…", highlight=False
        )
    if result.signed_by:
        app.note(f"signed with key {result.signed_by}")
    for slug in result.owners_claimed:
        app.note(f"{app.settings.actor} now owns {slug}")
    if result.pushed and result.commit:
        tries = f" (attempt {result.attempts})" if result.attempts > 1 else ""
        app.note(f"pushed {result.commit[:12]} to {result.index}{tries}")
    elif result.commit:
        app.note(f"committed {result.commit[:12]} in {result.index}")


def register(app: typer.Typer) -> None:
    app.command()(publish)
