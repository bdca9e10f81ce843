"""Progress displays for directives: run one in-process, or follow a worker."""

from __future__ import annotations

from typing import Any

from rich.live import Live
from rich.table import Table
from rich.text import Text

from fleetprompt_cli.cli.context import App
from fleetprompt_cli.cli.formats import PROGRESS_STYLES

__all__ = ["follow", "run_inline"]

_STYLES = PROGRESS_STYLES


class _Board:
    """Per package: its status, redrawn on stderr as steps move."""

    def __init__(self) -> None:
        self.rows: dict[str, tuple[str, str, str]] = {}

    def update(self, slug: str, version: str | None, status: str, message: str = "") -> None:
        self.rows[slug] = (version or "", status, message)

    def render(self) -> Table:
        table = Table(box=None, pad_edge=False, show_header=False)
        table.add_column(no_wrap=True)
        table.add_column(no_wrap=True)
        table.add_column(no_wrap=True)
        table.add_column(overflow="fold")
        for slug, (version, status, message) in self.rows.items():
            table.add_row(slug, version, Text(status, style=_STYLES.get(status, "")), message)
        return table


def run_inline(app: App, settings: Any, store: Any, tenant_id: int, directive_id: str) -> Any:
    """Claim the directive and run it here, drawing each package's status."""
    from fleetprompt_cli.actions.directive_runner import run_directive
    from fleetprompt_cli.actions.progress import planned_rows

    board = _Board()
    for row in planned_rows(store, tenant_id, directive_id):
        board.update(row.slug, row.version, row.status)
    with Live(
        board.render(), console=app.err, transient=False, auto_refresh=False, redirect_stdout=False
    ) as live:

        def progress(event: Any) -> None:
            board.update(event.slug, event.version, event.status, event.message)
            live.update(board.render(), refresh=True)

        outcome = run_directive(settings, store, tenant_id, directive_id, progress=progress)
    _end_line(app)
    return outcome


def _end_line(app: App) -> None:
    # Off a terminal rich's Live leaves its last line unterminated, and the
    # next message ("error: ...") would be glued to the board's last row.
    if not app.err.is_terminal:
        app.err.line()


def follow(app: App, store: Any, tenant_id: int, directive_id: str, interval: float = 0.5) -> Any:
    """Draw a directive another process runs, until it finishes (or its runner died)."""
    from fleetprompt_cli.actions.progress import follow as poll

    app.note(f"a worker is running directive {directive_id}; following its progress")
    board = _Board()
    with Live(board.render(), console=app.err, auto_refresh=False) as live:
        for event in poll(store, tenant_id, directive_id, interval):
            for row in event.rows:
                board.update(row.slug, row.version, row.status, row.message)
            live.update(board.render(), refresh=True)
            if event.outcome is None:
                continue
            if event.outcome.status == "busy":
                _end_line(app)
                app.note(f"the worker's lease on {directive_id} expired; taking over")
                return event.outcome
            outcome = event.outcome
            break
    _end_line(app)
    return outcome
