"""fleetprompt owner list|add|remove SLUG [IDENTITY] [--index DIR|URL]"""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from fleetprompt_cli.cli.context import get_app
from fleetprompt_cli.cli.options import JsonOption
from fleetprompt_cli.cli.publish import IndexTargetOption

if TYPE_CHECKING:
    from fleetprompt_cli.actions.owners import OwnersResult

__all__ = ["app"]

app = typer.Typer(help="Who may publish and yank a package in an index.", no_args_is_help=True)


def _show(ctx: typer.Context, json_output: bool, result: OwnersResult, verb: str | None) -> None:
    cli = get_app(ctx, json_output=json_output)
    if json_output:
        cli.emit_json(
            "owners",
            {
                "index": result.index,
                "slug": result.slug,
                "owners": result.owners,
                "commit": result.commit,
                "pushed": result.pushed,
            },
        )
        return
    if verb:
        cli.note(verb)
    if not result.owners:
        cli.note(f"{result.slug} has no recorded owner: its next publisher claims it")
    for owner in result.owners:
        cli.out.print(owner, highlight=False)


@app.command("list")
def list_(
    ctx: typer.Context,
    slug: str = typer.Argument(..., help="The package."),
    index: str = IndexTargetOption,
    json_output: bool = JsonOption,
) -> None:
    """The owners of a package."""
    from fleetprompt_cli.actions.owners import list_owners

    settings = get_app(ctx, json_output=json_output).settings
    _show(ctx, json_output, list_owners(settings, slug, index=index), None)


@app.command()
def add(
    ctx: typer.Context,
    slug: str = typer.Argument(..., help="The package."),
    identity: str = typer.Argument(..., help="Who to add (a publisher identity)."),
    index: str = IndexTargetOption,
    json_output: bool = JsonOption,
) -> None:
    """Let someone else publish and yank a package you own."""
    from fleetprompt_cli.actions.owners import change_owner

    settings = get_app(ctx, json_output=json_output).settings
    result = change_owner(settings, slug, identity, add=True, index=index)
    _show(ctx, json_output, result, f"added {identity} as an owner of {result.slug}")


@app.command()
def remove(
    ctx: typer.Context,
    slug: str = typer.Argument(..., help="The package."),
    identity: str = typer.Argument(..., help="Who to remove."),
    index: str = IndexTargetOption,
    json_output: bool = JsonOption,
) -> None:
    """Remove an owner of a package you own (the last owner stays)."""
    from fleetprompt_cli.actions.owners import change_owner

    settings = get_app(ctx, json_output=json_output).settings
    result = change_owner(settings, slug, identity, add=False, index=index)
    _show(ctx, json_output, result, f"removed {identity} from the owners of {result.slug}")
