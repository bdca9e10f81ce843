"""fleetprompt install SPEC..."""

from __future__ import annotations

import time
from collections.abc import Collection
from typing import Any

import typer

from fleetprompt_cli.cli.context import App, get_app
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
)

__all__ = ["register", "run_install"]


def _asker(app: App):
    """Ask for a required config value on a terminal; None when not interactive."""
    if not app.interactive:
        return None

    def ask(slug: str, key: str, spec: dict[str, Any]) -> Any:
        from fleetprompt_cli.core.install_rules import parse_config_assignments

        hint = f" ({'/'.join(map(str, spec['choices']))})" if spec.get("choices") else ""
        text = typer.prompt(f"{slug}: {key}{hint}", err=True)
        return parse_config_assignments([f"{key}={text}"], {key: spec}, slug)[key]

    return ask


def install(
    ctx: typer.Context,
    specs: list[str] = typer.Argument(
        ..., metavar="SPEC...", help="slug, slug==1.2.0, 'slug>=1,<2' or slug@1.2.0"
    ),
    tenant: str = TenantOption,
    config: list[str] = ConfigOption,
    yes: bool = YesOption,
    dry_run: bool = DryRunOption,
    no_wait: bool = NoWaitOption,
    atomic: bool = AtomicOption,
    upgrade: bool = typer.Option(False, "--upgrade", "-U", help="Prefer the newest versions."),
    pre: bool = typer.Option(False, "--pre", help="Allow pre-releases of every package."),
    wait_timeout: float = typer.Option(
        300.0,
        "--wait-timeout",
        min=0,
        metavar="SECONDS",
        help="Wait this long for another directive changing the same packages.",
    ),
    no_wait_lock: bool = typer.Option(
        False, "--no-wait-lock", help="Fail at once (exit 11) when another directive is busy."
    ),
    allow_unsigned: bool = AllowUnsignedOption,
    actor: str = ActorOption,
    json_output: bool = JsonOption,
) -> None:
    """Install packages (and their dependencies) into a tenant."""
    run_install(
        ctx,
        specs,
        tenant=tenant,
        config=config,
        yes=yes,
        dry_run=dry_run,
        no_wait=no_wait,
        atomic=atomic,
        upgrade=upgrade,
        pre=pre,
        wait_timeout=wait_timeout,
        no_wait_lock=no_wait_lock,
        actor=actor,
        json_output=json_output,
        allow_unsigned=allow_unsigned,
    )


def run_install(
    ctx: typer.Context,
    specs: list[str],
    *,
    tenant: str | None,
    config: list[str] | None,
    yes: bool,
    dry_run: bool,
    no_wait: bool,
    atomic: bool,
    upgrade: bool | Collection[str],
    pre: bool,
    wait_timeout: float,
    no_wait_lock: bool,
    actor: str | None,
    json_output: bool,
    kind: str = "install",
    allow_unsigned: bool = False,
) -> None:
    """The install flow, shared by ``install`` and ``upgrade`` (which names the slugs
    whose newest versions it prefers in ``upgrade``, and passes ``kind="upgrade"``:
    the directive's kind, the JSON document's kind and the words shown)."""
    from rich.text import Text

    from fleetprompt_cli.actions.preview import preview_install, wait_for_packages
    from fleetprompt_cli.actions.state import StateSource
    from fleetprompt_cli.cli.apply import apply_preview
    from fleetprompt_cli.cli.render import preview_table
    from fleetprompt_cli.errors import StateError

    app = get_app(ctx, json_output=json_output)
    settings = app.settings.with_overrides(tenant=tenant, actor=actor)
    # The preview reads the tenant through the fast reader, so that a no-op
    # install never imports the ORM; writing (submit) opens app.store.
    source = StateSource(settings.database_url, lambda: app.store)
    deadline: float | None = None
    while True:
        try:
            with app.err.status("Resolving…", spinner="dots") as status:
                preview = preview_install(
                    settings,
                    source,
                    settings.tenant,
                    specs,
                    config=config or [],
                    upgrade=upgrade,
                    allow_prerelease=pre,
                    ask=None if json_output else _asker(app),
                    progress=lambda message: status.update(Text(message)),
                    kind=kind,
                    allow_unsigned=allow_unsigned,
                )
            break
        except StateError as error:
            # Another directive is changing a package this plan needs: wait
            # for it (like cargo's and uv's lock), then plan again.
            slugs = error.details.get("slugs")
            if no_wait_lock or not slugs:
                raise
            if deadline is None:
                deadline = time.monotonic() + wait_timeout
                app.note(
                    f"waiting for another directive changing {', '.join(slugs)} "
                    f"(up to {wait_timeout:g} s; --no-wait-lock fails at once)"
                )
            left = deadline - time.monotonic()
            if not wait_for_packages(app.store, settings.tenant, slugs, timeout=max(left, 0)):
                raise
    for warning in preview.warnings:
        app.warn(warning)
    if preview.nothing_to_do:
        if json_output:
            app.emit_json(kind, {**preview.to_json(), "directive": None, "status": "nothing_to_do"})
            return
        kept = ", ".join(
            f"{s.slug} {s.step.item.version}" for s in preview.steps if s.step.item.requested
        )
        state = "Up to date" if kind == "upgrade" else "Already installed"
        app.note(f"{state} in tenant {preview.tenant}: {kept}. Nothing to do.")
        return
    if not json_output:
        app.out.print(preview_table(preview))
    question, done = "Install into", "installed into"
    if kind == "upgrade":
        actions = {s.step.item.action for s in preview.changes}
        verb = "downgrade" if actions == {"downgrade"} else "upgrade"
        question, done = f"{verb.capitalize()} packages in", f"{verb}d packages in"
    apply_preview(
        app,
        settings,
        preview,
        json_kind=kind,
        question=question,
        done=done,
        yes=yes,
        dry_run=dry_run,
        no_wait=no_wait,
        atomic=atomic,
    )


def register(app: typer.Typer) -> None:
    app.command()(install)
