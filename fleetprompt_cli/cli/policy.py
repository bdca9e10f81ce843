"""fleetprompt policy show|set|edit [--tenant T]"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from fleetprompt_cli.cli.context import get_app
from fleetprompt_cli.cli.options import JsonOption, TenantOption

if TYPE_CHECKING:
    from fleetprompt_cli.actions.policy import PolicyView
    from fleetprompt_cli.cli.context import App

__all__ = ["app"]

app = typer.Typer(
    help="A tenant's install policy (tightens the global [policy] of config.toml).",
    no_args_is_help=True,
)


def _toml(rules: dict[str, Any]) -> str:
    import tomli_w

    return tomli_w.dumps(rules) if rules else "# (no rules)\n"


def _render(app_: App, view: PolicyView, json_output: bool) -> None:
    if json_output:
        app_.emit_json("policy", view.to_json())
        return
    version = f"version {view.version}" if view.version else "no tenant policy"
    by = f", set by {view.actor} at {view.at:%Y-%m-%d %H:%M} UTC" if view.at else ""
    app_.out.print(f"tenant {view.tenant}: {version}{by}", highlight=False)
    app_.out.print("\n# effective policy (global, tightened by the tenant's)", highlight=False)
    app_.out.print(_toml(view.effective).rstrip(), highlight=False)
    if view.approved:
        app_.out.print(f"\n# approved to install tools: {', '.join(view.approved)}")


@app.command("show")
def show(ctx: typer.Context, tenant: str = TenantOption, json_output: bool = JsonOption) -> None:
    """Show the tenant's policy, the global one and what is in force."""
    from fleetprompt_cli.actions.policy import show_policy

    app_ = get_app(ctx, json_output=json_output)
    settings = app_.settings.with_overrides(tenant=tenant)
    _render(app_, show_policy(settings, app_.store, settings.tenant), json_output)


@app.command("set")
def set_(
    ctx: typer.Context,
    rules: list[str] = typer.Argument(
        None, metavar="[RULE=VALUE]...", help='Rules to set, values in TOML: deny_slugs=["x-*"].'
    ),
    file: Path = typer.Option(
        None, "--file", "-f", help="A TOML policy file: replaces the whole policy.", dir_okay=False
    ),
    unset: list[str] = typer.Option(None, "--unset", metavar="RULE", help="Remove a rule."),
    tenant: str = TenantOption,
    json_output: bool = JsonOption,
) -> None:
    """Change the tenant's policy (a new version, recorded as a directive)."""
    from fleetprompt_cli.actions.policy import parse_assignments, read_policy_file, set_policy
    from fleetprompt_cli.errors import UsageError

    app_ = get_app(ctx, json_output=json_output)
    settings = app_.settings.with_overrides(tenant=tenant)
    if file is None and not rules and not unset:
        raise UsageError("give RULE=VALUE pairs, --unset RULE or --file FILE")
    if file is not None and rules:
        raise UsageError("give either --file or RULE=VALUE pairs, not both")
    if file is not None:
        data, where, replace = read_policy_file(file), str(file), True
    else:
        data, where, replace = parse_assignments(rules or []), "policy set", False
    view = set_policy(
        settings, app_.store, settings.tenant, data, where=where, replace=replace, unset=unset or []
    )
    if not json_output:
        app_.note(f"tenant {view.tenant} policy is now version {view.version}")
    _render(app_, view, json_output)


@app.command("edit")
def edit(ctx: typer.Context, tenant: str = TenantOption) -> None:
    """Edit the tenant's policy in $EDITOR (saved as a new version when it changed)."""
    import click

    from fleetprompt_cli.actions.policy import set_policy, show_policy
    from fleetprompt_cli.errors import InvalidInput

    app_ = get_app(ctx)
    settings = app_.settings.with_overrides(tenant=tenant)
    view = show_policy(settings, app_.store, settings.tenant)
    text = click.edit(_toml(view.tenant_rules), extension=".toml")
    if text is None:
        app_.note("No change.")
        return
    import tomllib

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput(
            f"the edited policy is not valid TOML ({exc}); nothing was changed"
        ) from None
    after = set_policy(
        settings, app_.store, settings.tenant, data, where="policy edit", replace=True
    )
    if after.version == view.version:
        app_.note("No change.")
    else:
        app_.note(f"tenant {after.tenant} policy is now version {after.version}")
