"""Options shared by several commands."""

from __future__ import annotations

from pathlib import Path

import typer

__all__ = [
    "ActorOption",
    "AtomicOption",
    "ConfigOption",
    "DryRunOption",
    "IndexDirOption",
    "JsonOption",
    "NoWaitOption",
    "TenantOption",
    "YesOption",
]

JsonOption = typer.Option(False, "--json", help="Print one JSON document on stdout.")
TenantOption = typer.Option(
    None, "--tenant", "-t", help="Tenant (organization) to act on [env: FLEETPROMPT_TENANT]."
)
IndexDirOption = typer.Option(
    None,
    "--index",
    help="Index folder to write to (a clone of the index repository, or a plain folder).",
    file_okay=False,
    path_type=Path,
)
ActorOption = typer.Option(
    None, "--actor", help="Who does it, for the audit trail [env: FLEETPROMPT_ACTOR]."
)
ConfigOption = typer.Option(
    None, "--config", "-c", metavar="[SLUG:]KEY=VALUE", help="Set a config value."
)
YesOption = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation.")
DryRunOption = typer.Option(False, "--dry-run", help="Show the plan; change nothing.")
NoWaitOption = typer.Option(False, "--no-wait", help="Queue it for workers and return.")
AtomicOption = typer.Option(False, "--atomic", help="Undo every step if one fails.")
