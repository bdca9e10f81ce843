"""fleetprompt index verify"""

from __future__ import annotations

import time

import typer

from fleetprompt_cli.cli.context import get_app
from fleetprompt_cli.cli.options import JsonOption

__all__ = ["register"]

# At most this many violations are listed on a terminal (--json has them all).
_SHOWN = 50


def verify(
    ctx: typer.Context,
    index: str = typer.Option(
        None,
        "--index",
        metavar="NAME|URL|DIR",
        help="A configured index's name, a folder or a git URL.",
    ),
    allow_unsigned: bool = typer.Option(
        False, "--allow-unsigned", help="Do not count unsigned versions as violations."
    ),
    json_output: bool = JsonOption,
) -> None:
    """Check every version line, archive and signature, and the index's git history."""
    from rich.text import Text

    from fleetprompt_cli.actions.verification import verify_index
    from fleetprompt_cli.errors import ExitCode

    app = get_app(ctx, json_output=json_output)
    started = time.perf_counter()
    with app.err.status(Text("Verifying…"), spinner="dots"):
        result = verify_index(app.settings, index, allow_unsigned=allow_unsigned)
    elapsed = time.perf_counter() - started
    report = result.report
    if json_output:
        app.emit_json("index_verify", {**result.to_json(), "seconds": round(elapsed, 3)})
    else:
        for violation in report.violations[:_SHOWN]:
            app.out.print(Text(f"✗ {violation}"), overflow="fold")
        hidden = len(report.violations) - _SHOWN
        if hidden > 0:
            app.out.print(f"… and {hidden} more (--json lists them all)", highlight=False)
        history = f", {report.commits} commits" if result.history_checked else ", no git history"
        app.out.print(
            f"index {result.name} (trust: {result.policy}): {report.packages} packages, "
            f"{report.versions} versions ({report.signed} signed), "
            f"{report.archives_checked} archives{history}: "
            f"{len(report.violations)} violations in {elapsed:.2f} s",
            highlight=False,
        )
    if report.violations:
        raise typer.Exit(ExitCode.INTEGRITY)


def register(app: typer.Typer) -> None:
    app.command()(verify)
