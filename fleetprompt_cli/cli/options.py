"""Options shared by several commands."""

from __future__ import annotations

import typer

__all__ = [
    "INT64_MAX",
    "MAX_WORKERS",
    "ActorOption",
    "AllowUnsignedOption",
    "AtomicOption",
    "ConfigOption",
    "DryRunOption",
    "IndexDirOption",
    "JsonOption",
    "NoWaitOption",
    "TenantOption",
    "YesOption",
    "complete_installed",
]

# Integers on the command line end up in SQL: past a 64-bit integer the
# database driver fails, so click refuses them first (exit 2, naming the option).
INT64_MAX = 2**63 - 1
# Worker threads of one `fleetprompt worker` process (each holds a connection).
MAX_WORKERS = 64

JsonOption = typer.Option(False, "--json", help="Print one JSON document on stdout.")
TenantOption = typer.Option(
    None, "--tenant", "-t", help="Tenant (organization) to act on [env: FLEETPROMPT_TENANT]."
)
IndexDirOption = typer.Option(
    None,
    "--index",
    help="Index folder to write to (a clone of the index repository, or a plain folder).",
    file_okay=False,
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
AllowUnsignedOption = typer.Option(
    False,
    "--allow-unsigned",
    help="Accept unsigned versions even from an index whose policy is 'require'.",
)


def complete_installed(ctx: typer.Context, incomplete: str) -> list[str]:
    """Shell completion: the slugs installed in the tenant (``--tenant`` if given).

    Runs on every TAB: reads the state store with the plain driver (no
    sqlmodel), and completes nothing rather than fail.
    """
    try:
        from fleetprompt_cli.settings import load_settings
        from fleetprompt_cli.store.stats_reader import read_installed_slugs

        settings = load_settings()
        tenant = ctx.params.get("tenant") or settings.tenant
        slugs = read_installed_slugs(settings.database_url, tenant)
    except Exception:  # a completion must never print a traceback into the shell
        return []
    return [slug for slug in slugs if slug.startswith(incomplete)]
