"""Worker-side handlers of the queue's tasks (placeholder for the worker command)."""

from __future__ import annotations

__all__ = ["handle_wakeup", "sweep_once"]


def handle_wakeup(tenant_id: int, directive_id: str) -> None:
    """Claim and run a directive (a no-op when another process holds it)."""
    from fleetprompt_cli.actions.install import open_state
    from fleetprompt_cli.actions.installer import default_owner, run_directive
    from fleetprompt_cli.settings import load_settings

    settings = load_settings()
    run_directive(
        settings, open_state(settings), tenant_id, directive_id, owner=default_owner("worker")
    )


def sweep_once() -> None:
    """Re-enqueue open directives whose lease expired."""
