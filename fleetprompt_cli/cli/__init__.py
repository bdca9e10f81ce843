"""The typer application: one command per module, groups as packages."""

from __future__ import annotations

from importlib import import_module

import typer

from fleetprompt_cli import PLATFORM_VERSION, __version__
from fleetprompt_cli.cli.context import FleetPromptGroup

__all__ = ["app", "run"]

# Commands in --help order; each module has register(app).  Groups are
# packages exposing a typer app as ``app``.
COMMANDS = [
    "search",
    "featured",
    "show",
    "resolve",
    "install",
    "upgrade",
    # lifecycle commands
    "list",
    "status",
    "uninstall",
    "pause",
    "resume",
    "configure",
    "history",
    # queue commands
    "worker",
    "recover",
    "validate",
    "publish",
    "yank",
]
GROUPS = [
    "index",
    "reviews",
    # more groups
    "directives",
    "tenant",
    "db",
]

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


for _name in COMMANDS:
    import_module(f"fleetprompt_cli.cli.{_name}").register(app)
for _name in GROUPS:
    app.add_typer(import_module(f"fleetprompt_cli.cli.{_name}").app, name=_name)


def run() -> None:
    """Run the application (the console script)."""
    app()
