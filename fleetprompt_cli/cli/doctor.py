"""fleetprompt doctor [--json]"""

from __future__ import annotations

import typer

from fleetprompt_cli.cli.context import get_app
from fleetprompt_cli.cli.options import JsonOption

__all__ = ["register"]


def doctor(ctx: typer.Context, json_output: bool = JsonOption) -> None:
    """Check the index, catalog, store, queue and stranded work; say how to fix each problem."""
    from rich.text import Text

    from fleetprompt_cli.actions.doctor import doctor as run_doctor

    app = get_app(ctx, json_output=json_output)
    report = run_doctor(app.settings)
    if json_output:
        app.emit_json("doctor", report.to_json())
        raise typer.Exit(int(report.exit_code))
    for check in report.checks:
        line = Text(f"{'ok' if check.ok else 'FAIL':<5}", style="green" if check.ok else "red")
        line.append(f"{check.name:<14}{check.summary}")
        app.out.print(line)
        for finding in check.findings:
            app.out.print(Text(f"     {finding.severity}: {finding.problem}"))
            if finding.fix:
                app.out.print(Text(f"       fix: {finding.fix}", style="bold"))
    if report.healthy:
        app.note("All checks passed.")
    else:
        app.note("Problems found; run: " + "; ".join(report.fixes or ["(see above)"]))
    raise typer.Exit(int(report.exit_code))


def register(app: typer.Typer) -> None:
    app.command()(doctor)
