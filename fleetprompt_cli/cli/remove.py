"""fleetprompt remove SLUG..."""

from __future__ import annotations

from pathlib import Path

import typer

from fleetprompt_cli.cli.context import get_app
from fleetprompt_cli.cli.lock import ProjectOption, show_result
from fleetprompt_cli.cli.options import DryRunOption, JsonOption

__all__ = ["register"]


def remove(
    ctx: typer.Context,
    slugs: list[str] = typer.Argument(..., metavar="SLUG...", help="Packages to stop requiring."),
    dry_run: bool = DryRunOption,
    project: Path | None = ProjectOption,
    json_output: bool = JsonOption,
) -> None:
    """Remove packages (and their config) from the project file and re-lock."""
    from fleetprompt_cli.actions.lock import project_path, remove_requirements

    app = get_app(ctx, json_output=json_output)
    with app.err.status("Locking…", spinner="dots") as status:
        result = remove_requirements(
            app.settings, project_path(project), slugs, dry_run=dry_run, progress=status.update
        )
    show_result(app, result, "lock")


def register(app: typer.Typer) -> None:
    app.command()(remove)
