"""fleetprompt yank SLUG@VERSION [--undo] [--reason TEXT]"""

from __future__ import annotations

import typer

from fleetprompt_cli.cli.context import get_app
from fleetprompt_cli.cli.options import JsonOption
from fleetprompt_cli.cli.publish import IndexTargetOption

__all__ = ["register"]


def yank(
    ctx: typer.Context,
    package: str = typer.Argument(..., metavar="SLUG@VERSION", help="The version to yank."),
    version: str = typer.Argument(
        None, metavar="[VERSION]", help="The version, when not given as SLUG@VERSION."
    ),
    undo: bool = typer.Option(False, "--undo", help="Un-yank the version."),
    reason: str = typer.Option(None, "--reason", help="Why (recorded in the index)."),
    index: str = IndexTargetOption,
    json_output: bool = JsonOption,
) -> None:
    """Mark a version yanked: kept for those who pinned it, skipped by resolution."""
    from fleetprompt_cli.actions.publish import yank as run_yank
    from fleetprompt_cli.errors import UsageError

    app = get_app(ctx, json_output=json_output)
    slug, at, given = package.partition("@")
    if at and version is not None:
        raise UsageError(f"give the version once: {package!r} or {version!r}, not both")
    if not at:
        if version is None:
            raise UsageError(f"name a version: {package}@VERSION")
        given = version
    result = run_yank(app.settings, slug, given, index_dir=index, undo=undo, reason=reason)
    if json_output:
        app.emit_json(
            "yank",
            {
                "slug": result.slug,
                "version": result.version,
                "yanked": result.yanked,
                "reason": result.reason,
                "changed": result.changed,
                "commit": result.commit,
                "pushed": result.pushed,
            },
        )
        return
    state = "yanked" if result.yanked else "not yanked"
    if not result.changed:
        app.out.print(f"{result.slug} {result.version} is already {state}", highlight=False)
        return
    app.out.print(
        f"{'un-yanked' if undo else 'yanked'} {result.slug} {result.version}", highlight=False
    )
    if result.pushed and result.commit:
        app.note(f"pushed {result.commit[:12]} to {result.index}")


def register(app: typer.Typer) -> None:
    app.command()(yank)
