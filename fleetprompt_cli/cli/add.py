"""fleetprompt add SPEC... [--config SLUG:KEY=VALUE]"""

from __future__ import annotations

from pathlib import Path

import typer

from fleetprompt_cli.cli.context import get_app
from fleetprompt_cli.cli.lock import ProjectOption, show_result
from fleetprompt_cli.cli.options import DryRunOption, JsonOption

__all__ = ["register"]


def add(
    ctx: typer.Context,
    specs: list[str] = typer.Argument(
        None, metavar="SPEC...", help="slug, slug==1.2.0, 'slug>=1,<2' or slug@1.2.0"
    ),
    config: list[str] = typer.Option(
        None, "--config", "-c", metavar="SLUG:KEY=VALUE", help="Set a package's config value."
    ),
    dry_run: bool = DryRunOption,
    project: Path | None = ProjectOption,
    json_output: bool = JsonOption,
) -> None:
    """Add packages (or config) to the project file and re-lock; nothing changes if it fails."""
    from fleetprompt_cli.actions.lock import add_requirements, project_path

    app = get_app(ctx, json_output=json_output)
    with app.err.status("Locking…", spinner="dots") as status:
        result = add_requirements(
            app.settings,
            project_path(project),
            specs or [],
            config=config or [],
            dry_run=dry_run,
            progress=status.update,
        )
    show_result(app, result, "lock")


def register(app: typer.Typer) -> None:
    app.command()(add)
