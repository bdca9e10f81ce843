"""fleetprompt approve SLUG [--tenant T] | approve --list"""

from __future__ import annotations

import typer

from fleetprompt_cli.cli.context import get_app
from fleetprompt_cli.cli.options import JsonOption, TenantOption

__all__ = ["register"]


def approve(
    ctx: typer.Context,
    slug: str = typer.Argument(None, help="The package to approve."),
    list_: bool = typer.Option(False, "--list", help="List the approved packages."),
    tenant: str = TenantOption,
    json_output: bool = JsonOption,
) -> None:
    """Approve a package that installs tools (when the policy sets require_approval)."""
    from fleetprompt_cli.actions.policy import approve as run_approve
    from fleetprompt_cli.actions.policy import list_approvals
    from fleetprompt_cli.errors import UsageError

    app = get_app(ctx, json_output=json_output)
    settings = app.settings.with_overrides(tenant=tenant)
    if list_ == (slug is not None):
        raise UsageError("give a SLUG to approve, or --list")
    if list_:
        approvals = list_approvals(app.store, settings.tenant)
        if json_output:
            app.emit_json("approvals", {"tenant": settings.tenant, "approvals": approvals})
            return
        if not approvals:
            app.note(f"No approved packages in tenant {settings.tenant}.")
        for item in approvals:
            app.out.print(f"{item['slug']}  by {item['actor']}  {item['at'][:16]}", highlight=False)
        return
    approved, new = run_approve(settings, app.store, settings.tenant, slug)
    if json_output:
        app.emit_json("approval", {"tenant": settings.tenant, "slug": approved, "new": new})
        return
    state = "approved" if new else "was already approved"
    app.out.print(f"{approved} {state} in tenant {settings.tenant}", highlight=False)


def register(app: typer.Typer) -> None:
    app.command()(approve)
