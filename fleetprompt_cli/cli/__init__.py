"""The typer application: one command per module, groups as packages."""

from __future__ import annotations

import sys
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
    # reproducible installs
    "lock",
    "add",
    "remove",
    "sync",
    "outdated",
    # lifecycle commands
    "list",
    "status",
    "uninstall",
    "pause",
    "resume",
    "configure",
    "history",
    "rollback",
    "subscriptions",
    # queue commands
    "worker",
    "recover",
    "doctor",
    "audit",
    "approve",
    # authors
    "new",
    "validate",
    "pack",
    "publish",
    "yank",
]
GROUPS = [
    "index",
    "keys",
    "reviews",
    "owner",
    # more groups
    "directives",
    "signals",
    "tenant",
    "policy",
    "db",
]


def _version(value: bool) -> None:
    if value:
        print(f"fleetprompt {__version__} (platform {PLATFORM_VERSION})")
        raise typer.Exit()


def build_app(only: str | None = None) -> typer.Typer:
    """The application with every command, or with just the one being run.

    Building only the invoked command skips importing the other command
    modules and building their click commands (~50 ms of every run).
    """
    app = typer.Typer(
        name="fleetprompt",
        cls=FleetPromptGroup,
        help="Find, install and publish FleetPrompt agent packages.",
        no_args_is_help=True,
        # --install-completion / --show-completion (bash, zsh, fish): typer's,
        # costing ~0.5 ms and no imports on the --help path (a test checks).
        add_completion=True,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,
        context_settings={"help_option_names": ["-h", "--help"]},
    )

    @app.callback()
    def _root(
        version: bool = typer.Option(
            False, "--version", callback=_version, is_eager=True, help="Show the version and exit."
        ),
    ) -> None:
        """Find, install and publish FleetPrompt agent packages."""

    for name in COMMANDS:
        if only in (None, name):
            import_module(f"fleetprompt_cli.cli.{name}").register(app)
    for name in GROUPS:
        if only in (None, name):
            app.add_typer(import_module(f"fleetprompt_cli.cli.{name}").app, name=name)
    return app


def __getattr__(name: str) -> typer.Typer:
    # ``app`` (the whole application, for tests and tools) is built on first use.
    if name == "app":
        app = build_app()
        globals()["app"] = app
        return app
    raise AttributeError(name)


def run() -> None:
    """Run the application (the console script)."""
    name = sys.argv[1] if len(sys.argv) > 1 else None
    build_app(name if name in COMMANDS or name in GROUPS else None)()
