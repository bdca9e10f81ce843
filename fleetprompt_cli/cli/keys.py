"""fleetprompt keys: generate and show the publisher's signing key."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from fleetprompt_cli.cli.context import App, get_app
from fleetprompt_cli.cli.options import JsonOption

if TYPE_CHECKING:
    from fleetprompt_cli.actions.keys import KeyInfo

__all__ = ["app"]

app = typer.Typer(help="Your ed25519 key for signing what you publish.", no_args_is_help=True)


def _render(app_: App, info: KeyInfo, json_output: bool, kind: str) -> None:
    for warning in info.warnings:
        app_.warn(warning)
    if json_output:
        app_.emit_json(kind, {"key": info.to_json()})
        return
    app_.out.print(f"identity    {info.identity}", highlight=False)
    app_.out.print(f"key id      {info.id}", highlight=False)
    app_.out.print(f"public key  {info.public}", highlight=False)
    app_.out.print(f"file        {info.path}", highlight=False)
    if info.rotated_from:
        app_.out.print(f"endorsed by {info.rotated_from}", highlight=False)


@app.command()
def generate(
    ctx: typer.Context,
    rotate: bool = typer.Option(
        False, "--rotate", help="Replace the key; the old key signs the new one."
    ),
    json_output: bool = JsonOption,
) -> None:
    """Create your signing key (private key file mode 0600)."""
    from fleetprompt_cli.actions.keys import generate_key

    app_ = get_app(ctx, json_output=json_output)
    info = generate_key(app_.settings, rotate=rotate)
    _render(app_, info, json_output, "key")
    if not json_output:
        app_.note("publish signs with it; the next publish adds it to the index's keys/")


@app.command()
def show(ctx: typer.Context, json_output: bool = JsonOption) -> None:
    """Show your signing key's identity, id and public half."""
    from fleetprompt_cli.actions.keys import show_key

    app_ = get_app(ctx, json_output=json_output)
    _render(app_, show_key(app_.settings), json_output, "key")
