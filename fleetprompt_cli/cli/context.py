"""The one context object every command gets, and the top-level error handling."""

from __future__ import annotations

import json
import math
import os
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NoReturn

import typer
from typer.core import TyperGroup

from fleetprompt_cli.errors import INTERRUPTED, ExitCode, FleetPromptError, UsageError

if TYPE_CHECKING:
    from rich.console import Console

    # typer vendors click: the Context its Group methods take lives there.
    from typer._click import Context as ClickContext

    from fleetprompt_cli.settings import Settings

__all__ = ["JSON_SCHEMA", "App", "FleetPromptGroup", "get_app"]

# The version of every --json document's envelope (the "schema" key).
JSON_SCHEMA = 1


def _console(stderr: bool) -> Console:
    # rich costs ~40 ms to import: only commands that print pay for it.
    from fleetprompt_cli.cli.terminal import InertConsole

    stream = sys.stderr if stderr else sys.stdout
    if stream is None:
        # Started with the stream closed (``2>&-``): say nothing rather than crash.
        stream = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the process
    width = None
    if not stream.isatty():
        # Without a terminal, rich would pick 80 anyway; COLUMNS still wins.
        width = int(os.environ.get("COLUMNS") or 80)
    return InertConsole(
        file=stream,
        stderr=stderr,
        width=width,
        no_color="NO_COLOR" in os.environ,
        highlight=False,
        # Messages on stderr are not wrapped by us: a path or a command in an
        # error must stay whole for copying and grepping; the terminal wraps.
        soft_wrap=stderr,
    )


@dataclass
class App:
    """Console, settings and output mode, shared by every command."""

    json_output: bool = False
    _settings: Settings | None = None
    _out: Console | None = None
    _err: Console | None = None
    _store: Any = None
    overrides: dict[str, Any] = field(default_factory=dict)
    # Whether the run's one JSON document was printed (a later error adds none).
    emitted: bool = False

    @property
    def store(self) -> Any:
        """The state store, opened (and migrated, for SQLite) on first use.

        On its plain drivers when it is at this code's schema (the install
        path then imports no ORM); the ORM store behind it opens on demand.
        """
        if self._store is None:
            from fleetprompt_cli.actions.state import open_quick

            self._store = open_quick(self.settings)
        return self._store

    def close(self) -> None:
        """Release what the command opened (database connections)."""
        if self._store is not None:
            self._store.dispose()
            self._store = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            # Imported here: --help needs no settings (tomllib, getpass).
            from fleetprompt_cli.settings import load_settings

            self._settings = load_settings().with_overrides(**self.overrides)
        return self._settings

    @property
    def out(self) -> Console:
        """Where results go (stdout)."""
        if self._out is None:
            self._out = _console(stderr=False)
        return self._out

    @property
    def err(self) -> Console:
        """Where messages and progress go (stderr)."""
        if self._err is None:
            self._err = _console(stderr=True)
        return self._err

    @property
    def interactive(self) -> bool:
        # A closed stdin (``<&-``) is None: not a terminal, nobody to ask.
        stdin = sys.stdin
        return stdin is not None and not stdin.closed and stdin.isatty() and not self.json_output

    def emit_json(self, kind: str, payload: dict[str, Any]) -> None:
        """Print the one JSON document of a --json command on stdout."""
        if self.emitted:
            return  # one document per run: an error after the result adds nothing
        self.emitted = True
        document = {"schema": JSON_SCHEMA, "kind": kind, **payload}
        sys.stdout.write(json_document(document) + "\n")
        sys.stdout.flush()

    def _labelled(self, label: str, style: str, message: str) -> None:
        from rich.text import Text

        line = Text(label, style=style)
        line.append(f" {message}")
        self.err.print(line)

    def warn(self, message: str) -> None:
        self._labelled("warning:", "yellow", message)

    def note(self, message: str) -> None:
        self.err.print(message)

    def abort(self, message: str, code: ExitCode = ExitCode.FAILURE) -> NoReturn:
        """Print an error line on stderr and exit with ``code``."""
        if self.json_output:
            self.emit_json("error", {"error": {"kind": "error", "message": message}})
        self._labelled("error:", "red", message)
        raise typer.Exit(int(code))

    def report(self, error: FleetPromptError) -> None:
        if self.json_output:
            self.emit_json("error", {"error": error.to_json()})
        self._labelled("error:", "red", str(error))


def _finite(value: Any) -> Any:
    # NaN and infinities have no JSON spelling: they are written as null.
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def json_document(document: Any) -> str:
    """``document`` as strict JSON text: no bare NaN/Infinity, nothing a terminal acts on."""
    from fleetprompt_cli.cli.formats import json_inert

    try:
        text = json.dumps(document, indent=2, ensure_ascii=False, default=str, allow_nan=False)
    except ValueError:
        text = json.dumps(_finite(document), indent=2, ensure_ascii=False, default=str)
    return json_inert(text)


def get_app(ctx: typer.Context, *, json_output: bool = False) -> App:
    """The App of this invocation, with the command's --json choice recorded."""
    root = ctx.find_root()
    if not isinstance(root.obj, App):
        root.obj = App()
    app: App = root.obj
    app.json_output = json_output
    return app


def _wants_json(args: list[str]) -> bool:
    """Whether a command line asks for --json (before any ``--``)."""
    if "--" in args:
        args = args[: args.index("--")]
    return "--json" in args


class FleetPromptGroup(TyperGroup):
    """The top-level group: turns FleetPromptError into one line and an exit code.

    Under ``--json`` every outcome is exactly one JSON document on stdout:
    results, our errors, click's usage errors (also when the command line
    could not be parsed far enough to know the command), internal errors.
    """

    _json_requested = False

    def list_commands(self, ctx: ClickContext) -> list[str]:
        return list(self.commands)  # Keep registration order in --help.

    def main(self, args: Any = None, *pargs: Any, **kwargs: Any) -> Any:
        args = list(sys.argv[1:] if args is None else args)
        self._json_requested = _wants_json(args)
        return super().main(args, *pargs, **kwargs)

    def parse_args(self, ctx: ClickContext, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except typer.exceptions.TyperException as error:
            self._json_error(ctx, error)
            raise

    def invoke(self, ctx: ClickContext) -> Any:
        try:
            return self._invoke(ctx)
        finally:
            if isinstance(ctx.obj, App):
                ctx.obj.close()

    def _app(self, ctx: ClickContext) -> App:
        if not isinstance(ctx.obj, App):
            ctx.obj = App()
        app: App = ctx.obj
        app.json_output = app.json_output or self._json_requested
        return app

    def _json_error(self, ctx: ClickContext, error: Exception) -> None:
        """click's error as the --json document (click still prints its usage text)."""
        if not self._json_requested:
            return
        code = getattr(error, "exit_code", ExitCode.USAGE)
        format_message = getattr(error, "format_message", None)
        message = format_message() if format_message else str(error)
        cls = UsageError if code == ExitCode.USAGE else FleetPromptError
        self._app(ctx).emit_json("error", {"error": cls(message).to_json()})

    def _invoke(self, ctx: ClickContext) -> Any:
        try:
            return super().invoke(ctx)
        except FleetPromptError as error:
            self._app(ctx).report(error)
            raise typer.Exit(int(error.exit_code)) from None
        except OSError as error:
            # The machine said no (a full disk, a folder we may not write):
            # not a bug of ours, so no "internal error", but one clear line.
            where = f": {error.filename}" if error.filename else ""
            self._app(ctx).report(FleetPromptError(f"{error.strerror or error}{where}"))
            raise typer.Exit(int(ExitCode.FAILURE)) from None
        except KeyboardInterrupt:
            sys.stderr.write("interrupted\n")
            raise typer.Exit(INTERRUPTED) from None
        except (typer.Exit, typer.Abort):
            raise
        except typer.exceptions.TyperException as error:
            # Usage errors are click's to report (exit 2 and so on).
            if hasattr(error, "exit_code"):
                self._json_error(ctx, error)
            raise
        except Exception as error:
            # A bug, not bad input: say so in one line unless asked for the
            # traceback (the test suite sets FLEETPROMPT_DEBUG).
            from fleetprompt_cli.settings import debug

            if debug():
                raise
            from fleetprompt_cli.cli.formats import inert

            if self._json_requested:
                self._app(ctx).emit_json(
                    "error",
                    {"error": {"kind": "internal", "message": f"{type(error).__name__}: {error}"}},
                )

            sys.stderr.write(
                f"error: internal error: {type(error).__name__}: {inert(str(error))}\n"
                "Run again with FLEETPROMPT_DEBUG=1 for a traceback, and please report it.\n"
            )
            raise typer.Exit(int(ExitCode.FAILURE)) from None
