"""Options shared by several commands."""

from __future__ import annotations

from pathlib import Path

import typer

__all__ = ["IndexDirOption", "JsonOption", "TenantOption"]

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
