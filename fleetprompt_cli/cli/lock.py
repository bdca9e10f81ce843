"""fleetprompt lock [--upgrade | --upgrade-package SLUG] [--check]"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from fleetprompt_cli.cli.context import App, get_app
from fleetprompt_cli.cli.options import DryRunOption, JsonOption

__all__ = ["ProjectOption", "register", "show_result"]

ProjectOption = typer.Option(
    None,
    "--project",
    metavar="PATH",
    help="The project file (or its folder) [default: ./fleetprompt.project.toml].",
)


def lock(
    ctx: typer.Context,
    upgrade: bool = typer.Option(
        False, "--upgrade", "-U", help="Take the newest allowed version of every package."
    ),
    upgrade_package: list[str] = typer.Option(
        None,
        "--upgrade-package",
        "-P",
        metavar="SLUG",
        help="Take the newest allowed version of this package (repeatable).",
    ),
    check: bool = typer.Option(
        False, "--check", help="Write nothing; exit 7 if the lock is not up to date."
    ),
    dry_run: bool = DryRunOption,
    project: Path | None = ProjectOption,
    json_output: bool = JsonOption,
) -> None:
    """Resolve the project file into fleetprompt.lock (locked versions are kept)."""
    from fleetprompt_cli.actions.lock import lock_project, project_path

    app = get_app(ctx, json_output=json_output)
    wanted: bool | list[str] = True if upgrade else list(upgrade_package or [])
    with app.err.status("Locking…", spinner="dots") as status:
        result = lock_project(
            app.settings,
            project_path(project),
            upgrade=wanted,
            check=check,
            dry_run=dry_run,
            progress=status.update,
        )
    show_result(app, result, "lock", checked=check)


def show_result(app: App, result: Any, kind: str, *, checked: bool = False) -> None:
    """Print a lock result: the JSON document, or the changes and one summary line."""
    if app.json_output:
        app.emit_json(kind, result.to_json())
        return
    for warning in result.warnings:
        app.warn(warning)
    changes = [c for c in result.changes if c.action != "keep"]
    if changes:
        app.out.print(_table(changes))
    name = result.lock_path.name
    count = len(result.lock.packages)
    packages = f"{count} package" + ("" if count == 1 else "s")
    if checked:
        app.note(f"{name} is up to date ({packages})")
    elif not result.changed:
        app.note(f"{name} is up to date ({packages}); nothing to write")
    elif result.written:
        app.note(f"Wrote {name} ({packages})")
    else:
        app.note(f"Would write {name} ({packages}); --dry-run changed nothing")


def _table(changes: list[Any]):
    from rich.table import Table
    from rich.text import Text

    styles = {
        "add": "green",
        "upgrade": "yellow",
        "downgrade": "magenta",
        "reconfigure": "cyan",
        "remove": "red",
    }
    table = Table(box=None, pad_edge=False, show_edge=False)
    table.add_column("Package", style="bold", no_wrap=True)
    table.add_column("Version", style="cyan", no_wrap=True)
    table.add_column("Change", no_wrap=True)
    table.add_column("Why", overflow="fold")
    for change in changes:
        if change.action in ("upgrade", "downgrade"):
            version = f"{change.previous} → {change.version}"
        else:
            version = change.version or change.previous or ""
        table.add_row(
            Text(change.slug),
            Text(version),
            Text(change.action, style=styles.get(change.action, "")),
            Text(change.reason),
        )
    return table


def register(app: typer.Typer) -> None:
    app.command()(lock)
