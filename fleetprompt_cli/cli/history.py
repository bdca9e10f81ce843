"""fleetprompt history [SLUG]"""

from __future__ import annotations

from typing import Any

import typer

from fleetprompt_cli.cli.context import App, get_app
from fleetprompt_cli.cli.formats import STATUS_STYLES, change_text, config_value, when
from fleetprompt_cli.cli.options import INT64_MAX, JsonOption, TenantOption, complete_installed

__all__ = ["diff_text", "register"]


def diff_text(diff: dict[str, Any] | None) -> str:
    """The store's {added, removed, changed} config diff as "k=v, k: a → b, -k"."""
    if not diff:
        return ""
    parts = [f"{k}={config_value(v)}" for k, v in diff.get("added", {}).items()]
    parts += [
        f"{k}: {config_value(old)} → {config_value(new)}"
        for k, (old, new) in diff.get("changed", {}).items()
    ]
    parts += [f"-{k}" for k in diff.get("removed", {})]
    return ", ".join(parts)


def history(
    ctx: typer.Context,
    slug: str = typer.Argument(
        None, help="Only this package's revisions.", autocompletion=complete_installed
    ),
    transitions: bool = typer.Option(
        False,
        "--transitions",
        help="Show every lifecycle transition (the audit trail) instead of the revisions.",
    ),
    limit: int = typer.Option(
        None, "--limit", "-n", min=1, max=INT64_MAX, help="Only the newest N entries."
    ),
    tenant: str = TenantOption,
    json_output: bool = JsonOption,
) -> None:
    """Numbered revisions of a tenant's packages (with --transitions: every transition)."""
    from fleetprompt_cli.actions.inspecting import history as run_history
    from fleetprompt_cli.actions.inspecting import releases
    from fleetprompt_cli.actions.state import StateSource
    from fleetprompt_cli.core.names import canonical_slug

    app = get_app(ctx, json_output=json_output)
    settings = app.settings.with_overrides(tenant=tenant)
    source = StateSource(app.settings.database_url, lambda: app.store)
    # The transitions first: they say "never installed" (exit 3) for an unknown slug.
    trail = run_history(source, settings.tenant, slug, limit=limit)
    revisions = releases(source, settings.tenant, slug, limit=limit)
    if json_output:
        app.emit_json(
            "history",
            {
                "tenant": settings.tenant,
                "slug": canonical_slug(slug) if slug else None,
                "revisions": [r.to_json() for r in revisions],
                "transitions": [r.to_json() for r in trail],
            },
        )
        return
    if transitions:
        _print_transitions(app, settings.tenant, trail)
    else:
        _print_revisions(app, settings.tenant, revisions)


def _print_revisions(app: App, tenant: str, revisions: list[Any]) -> None:
    from rich.padding import Padding
    from rich.text import Text

    if not revisions:
        app.note(f"No recorded revisions in tenant {tenant}.")
        return
    # Lines rather than a table: at 80 columns a table would cut versions
    # and the config change.  Grouped by package, oldest revision first.
    slug = None
    for r in revisions:
        if r.slug != slug:
            slug = r.slug
            app.out.print(Text(slug, style="bold"))
        line = Text(f"  {r.number:>3}  {when(r.at)}  ")
        line.append(f"{r.status:<11}", style=STATUS_STYLES.get(r.status, ""))
        line.append(f" {r.version or '-'}  {r.description}")
        app.out.print(line)
        facts = f"by {r.actor}"
        if r.directive_id:
            facts += f"  directive {r.directive_id[:8]}"
        app.out.print(Padding(Text(facts, style="dim"), (0, 0, 0, 7)))
        diff = diff_text(r.config_diff)
        if diff:
            app.out.print(Padding(Text(f"config: {diff}", style="dim"), (0, 0, 0, 7)))
        if r.error:
            app.out.print(Padding(Text(f"error: {r.error}", style="red"), (0, 0, 0, 7)))


def _print_transitions(app: App, tenant: str, trail: list[Any]) -> None:
    from rich.padding import Padding
    from rich.text import Text

    if not trail:
        app.note(f"No recorded changes in tenant {tenant}.")
        return
    # A few short lines per change rather than a table: at 80 columns a
    # seven-column table would cut slugs, versions and the config diff.
    for r in trail:
        head = Text(f"{when(r.at)}  ")
        head.append(r.slug, style="bold")
        head.append(f"  {r.transition}")
        app.out.print(head)
        facts = f"    {change_text(r.from_status, r.to_status, r.from_version, r.to_version)}"
        facts += f"  by {r.actor}"
        if r.directive_id:
            facts += f"  directive {r.directive_id[:8]}"
        app.out.print(facts, highlight=False)
        diff = diff_text(r.config_diff)
        if diff:
            app.out.print(Padding(Text(f"config: {diff}", style="dim"), (0, 0, 0, 4)))


def register(app: typer.Typer) -> None:
    app.command()(history)
