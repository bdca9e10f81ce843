"""fleetprompt upgrade [SLUG...]"""

from __future__ import annotations

import typer

from fleetprompt_cli.cli.context import get_app
from fleetprompt_cli.cli.options import (
    ActorOption,
    AllowUnsignedOption,
    AtomicOption,
    ConfigOption,
    DryRunOption,
    JsonOption,
    NoWaitOption,
    TenantOption,
    YesOption,
    complete_installed,
)

__all__ = ["register"]


def upgrade(
    ctx: typer.Context,
    slugs: list[str] = typer.Argument(
        None,
        metavar="[SLUG]...",
        help="Installed packages to upgrade (default: all requested).",
        autocompletion=complete_installed,
    ),
    tenant: str = TenantOption,
    config: list[str] = ConfigOption,
    yes: bool = YesOption,
    dry_run: bool = DryRunOption,
    no_wait: bool = NoWaitOption,
    atomic: bool = AtomicOption,
    pre: bool = typer.Option(False, "--pre", help="Allow pre-releases."),
    allow_unsigned: bool = AllowUnsignedOption,
    actor: str = ActorOption,
    json_output: bool = JsonOption,
) -> None:
    """Upgrade installed packages to the newest versions their constraints allow."""
    from fleetprompt_cli.actions.preview import upgrade_targets
    from fleetprompt_cli.cli.install import run_install

    app = get_app(ctx, json_output=json_output)
    settings = app.settings.with_overrides(tenant=tenant)
    targets = upgrade_targets(app.store, settings.tenant, slugs or [])
    if not targets:
        if json_output:
            # The document a non-empty upgrade prints.
            app.emit_json(
                "upgrade",
                {
                    "tenant": settings.tenant,
                    "request": [],
                    "plan": [],
                    "warnings": [],
                    "directive": None,
                    "status": "nothing_to_do",
                },
            )
            return
        app.note(f"Nothing is installed in tenant {settings.tenant}.")
        return
    # The same flow as install, preferring the newest versions of the targets.
    # Only install waits for a busy package; upgrade is refused at once (exit 11).
    run_install(
        ctx,
        targets,
        tenant=tenant,
        config=config,
        yes=yes,
        dry_run=dry_run,
        no_wait=no_wait,
        atomic=atomic,
        upgrade=set(targets),
        pre=pre,
        wait_timeout=0.0,
        no_wait_lock=True,
        actor=actor,
        json_output=json_output,
        kind="upgrade",
        allow_unsigned=allow_unsigned,
    )


def register(app: typer.Typer) -> None:
    app.command()(upgrade)
