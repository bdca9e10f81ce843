"""fleetprompt signals: the event log (list, tail, emit) and its delivery.

``fleetprompt signals`` alone lists the log, as it always did; the
subcommands publish, follow, dispatch, replay and inspect deliveries.
"""

from __future__ import annotations

import typer

from fleetprompt_cli.cli.options import INT64_MAX, JsonOption, TenantOption
from fleetprompt_cli.cli.signals import delivery, emit, listing

__all__ = ["app"]

app = typer.Typer(
    help="The tenant's signal log: list, follow, publish, deliver, replay.",
    invoke_without_command=True,
)


@app.callback()
def signals(
    ctx: typer.Context,
    after: int = typer.Option(
        0, "--after", min=0, max=INT64_MAX, help="Only signals with a higher sequence number."
    ),
    limit: int = typer.Option(
        50, "--limit", "-n", min=1, max=INT64_MAX, help="Show at most this many."
    ),
    tenant: str = TenantOption,
    json_output: bool = JsonOption,
) -> None:
    """The tenant's signal log: what installs, upgrades and uninstalls announced."""
    if ctx.invoked_subcommand is None:
        listing.show_signals(ctx, None, after, limit, tenant, json_output)


for module in (listing, emit, delivery):
    module.register(app)
