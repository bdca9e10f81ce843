"""fleetprompt history [SLUG]"""

from __future__ import annotations

from typing import Any

import typer

from fleetprompt_cli.cli.context import get_app
from fleetprompt_cli.cli.formats import change_text, config_value, when
from fleetprompt_cli.cli.options import INT64_MAX, JsonOption, TenantOption, complete_installed

__all__ = ["register"]


def _diff_text(diff: dict[str, Any] | None) -> str:
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
        None, help="Only this package's changes.", autocompletion=complete_installed
    ),
    limit: int = typer.Option(
        None, "--limit", "-n", min=1, max=INT64_MAX, help="Only the newest N changes."
    ),
    tenant: str = TenantOption,
    json_output: bool = JsonOption,
) -> None:
    """Recorded changes of a tenant's installations, oldest first."""
    from rich.padding import Padding
    from rich.text import Text

    from fleetprompt_cli.actions.inspecting import history as run_history
    from fleetprompt_cli.actions.state import StateSource

    app = get_app(ctx, json_output=json_output)
    settings = app.settings.with_overrides(tenant=tenant)
    revisions = run_history(
        StateSource(app.settings.database_url, lambda: app.store),
        settings.tenant,
        slug,
        limit=limit,
    )
    if json_output:
        app.emit_json(
            "history",
            {"tenant": settings.tenant, "revisions": [r.to_json() for r in revisions]},
        )
        return
    if not revisions:
        app.note(f"No recorded changes in tenant {settings.tenant}.")
        return
    # A few short lines per change rather than a table: at 80 columns a
    # seven-column table would cut slugs, versions and the config diff.
    for r in revisions:
        head = Text(f"{when(r.at)}  ")
        head.append(r.slug, style="bold")
        head.append(f"  {r.transition}")
        app.out.print(head)
        facts = f"    {change_text(r.from_status, r.to_status, r.from_version, r.to_version)}"
        facts += f"  by {r.actor}"
        if r.directive_id:
            facts += f"  directive {r.directive_id[:8]}"
        app.out.print(facts, highlight=False)
        diff = _diff_text(r.config_diff)
        if diff:
            app.out.print(Padding(Text(f"config: {diff}", style="dim"), (0, 0, 0, 4)))


def register(app: typer.Typer) -> None:
    app.command()(history)
