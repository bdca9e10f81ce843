"""The typer application: one command per module, groups as packages."""

from __future__ import annotations

import typer

from fleetprompt_cli import PLATFORM_VERSION, __version__
from fleetprompt_cli.cli import featured, publish, resolve, search, show, validate, yank
from fleetprompt_cli.cli.context import FleetPromptGroup
from fleetprompt_cli.cli.index import app as index_app

__all__ = ["app", "run"]

app = typer.Typer(
    name="fleetprompt",
    cls=FleetPromptGroup,
    help="Find, install and publish FleetPrompt agent packages.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        print(f"fleetprompt {__version__} (platform {PLATFORM_VERSION})")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version and exit."
    ),
) -> None:
    """Find, install and publish FleetPrompt agent packages."""


for module in (search, featured, show, resolve, validate, publish, yank):
    module.register(app)
app.add_typer(index_app, name="index")


def run() -> None:
    """Run the application (the console script)."""
    app()
