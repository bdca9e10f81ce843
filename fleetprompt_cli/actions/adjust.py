"""Change an installation in place: pause, resume, configure.

These changes are not carried out by the installer, but they are still
written as directives, so ``fleetprompt directives`` shows every command that
changed something.  The store's directive kinds are fixed by a check
constraint (install, upgrade, uninstall, rollback, sync); rather than migrate
the schema for three labels, these are recorded as kind ``sync`` with the
operation in ``arguments["operation"]``, and they finish (succeed) in the same
transaction that applies the change, so the queue's sweep never sees them
open.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fleetprompt_cli.actions import signals
from fleetprompt_cli.actions.inspecting import InstallationInfo
from fleetprompt_cli.actions.tenants import tenant_of
from fleetprompt_cli.core import lifecycle
from fleetprompt_cli.core.names import canonical_slug
from fleetprompt_cli.errors import ConfigError, NotFound, StateError, UsageError, not_installed
from fleetprompt_cli.settings import Settings

if TYPE_CHECKING:
    from types import ModuleType

    from fleetprompt_cli.store.engine import Session, Store

__all__ = ["ConfigureResult", "configure", "pause", "resume"]


# Statuses in which a config change is safe: a directive applying a change
# (queued, installing, upgrading, uninstalling) would overwrite it.
_CONFIGURABLE = (lifecycle.ACTIVE, lifecycle.PAUSED, lifecycle.FAILED)


@dataclass
class ConfigureResult:
    """What ``configure`` changed: {key: [old, new]}, and the directive recording it."""

    tenant: str
    slug: str
    version: str | None
    config: dict[str, Any]
    changes: dict[str, Any]
    directive: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "tenant": self.tenant,
            "slug": self.slug,
            "version": self.version,
            "config": self.config,
            "changes": self.changes,
            "directive": self.directive,
        }


def _record_directive(
    s: Session,
    repo: ModuleType,
    tenant_id: int,
    operation: str,
    slug: str,
    *,
    actor: str,
    command: str,
    extra: dict[str, Any] | None = None,
) -> Any:
    # A "sync" directive with no steps: the change is applied in this same
    # transaction, so it is written already finished (see the module docstring).
    return repo.create_directive(
        s,
        tenant_id,
        actor=actor,
        kind="sync",
        command=command,
        arguments={"operation": operation, "request": [slug], **(extra or {})},
        plan={"operation": operation, "steps": []},
    )


def _transition(
    store: Store, tenant: str, slug: str, name: str, *, actor: str, command: str
) -> InstallationInfo:
    from fleetprompt_cli.store import repository as repo

    tenant_id, tenant_name, _ = tenant_of(store, tenant)
    slug = canonical_slug(slug)
    with store.session() as s:
        if repo.find_installation(s, tenant_id, slug) is None:
            finished = repo.latest_installation(s, tenant_id, slug)
            if finished is not None:
                # An uninstalled row is history, not "unknown": let the state
                # machine say why nothing can be done with it.
                lifecycle.transition(finished.status, name, subject=slug)
            raise not_installed(slug, tenant_name)
        directive = _record_directive(s, repo, tenant_id, name, slug, actor=actor, command=command)
        # apply_transition raises StateError when the state machine refuses;
        # the session then rolls back, directive row included.
        row = repo.apply_transition(
            s, tenant_id, slug, name, actor=actor, directive_id=directive.id
        )
        # Subscriptions pause and resume with the package, in this transaction.
        signals.pause_subscriptions(s, tenant_id, repo.saved_id(row), name == "pause")
        signals.emit_package_event(
            s,
            tenant_id,
            "paused" if name == "pause" else "resumed",
            slug,
            version=row.version,
            directive_id=directive.id,
            source=signals.LIFECYCLE_SOURCE,
        )
        repo.finish_directive(s, tenant_id, directive.id, "succeeded")
        counts = repo.resource_counts(s, tenant_id).get(repo.saved_id(row), {})
        return InstallationInfo.of(tenant_name, row, counts)


def pause(
    store: Store, tenant: str, slug: str, *, actor: str, command: str = ""
) -> InstallationInfo:
    """Pause an active installation (the state machine's ``pause``)."""
    return _transition(store, tenant, slug, "pause", actor=actor, command=command)


def resume(
    store: Store, tenant: str, slug: str, *, actor: str, command: str = ""
) -> InstallationInfo:
    """Resume a paused installation (the state machine's ``resume``)."""
    return _transition(store, tenant, slug, "resume", actor=actor, command=command)


def _config_schema(
    settings: Settings, s: Session, tenant_id: int, slug: str, version: str
) -> dict[str, Any]:
    """The installed version's ``[config]`` schema: from its directive plan, else the index."""
    from packaging.version import Version

    from fleetprompt_cli.actions.preview import planned_manifests

    manifest = planned_manifests(s, tenant_id).get((slug, version))
    if manifest is not None:
        return dict(manifest.get("config", {}))
    from fleetprompt_cli.actions.indexes import open_catalog

    view = open_catalog(settings)
    try:
        for entry in view.catalog.versions(slug):
            if Version(entry.version) == Version(version):
                return dict(entry.manifest.get("config", {}))
    finally:
        view.catalog.close()
    raise NotFound(f"cannot find the config schema of {slug} {version}: not in any index")


def _record_configured(
    s: Session, repo: ModuleType, tenant_id: int, row: Any, *, actor: str, directive_id: str
) -> None:
    """A configure is a numbered revision too: the same version and resources, the new config."""
    from fleetprompt_cli.actions.preview import planned_manifests

    current = repo.deployed_release(s, tenant_id, row.slug)
    if current is not None and current.version == row.version:
        manifest, sha256 = current.manifest, current.sha256
    else:
        # Installed before revisions were recorded: the plan that installed it.
        manifest, sha256 = planned_manifests(s, tenant_id).get((row.slug, row.version)), None
    repo.record_release(
        s,
        tenant_id,
        row,
        action="configure",
        actor=actor,
        directive_id=directive_id,
        version=row.version,
        config=dict(row.config),
        resources=repo.resources_snapshot(s, tenant_id, repo.saved_id(row)),
        manifest=manifest,
        sha256=sha256,
    )


def configure(
    settings: Settings,
    store: Store,
    tenant: str,
    slug: str,
    assignments: Sequence[str],
    *,
    actor: str,
    command: str = "",
) -> ConfigureResult:
    """Validate ``KEY=VALUE`` against the installed version's schema and record the change."""
    from fleetprompt_cli.core.install_rules import (
        config_diff,
        parse_config_assignments,
        resolve_config,
    )
    from fleetprompt_cli.store import repository as repo

    if not assignments:
        raise UsageError("configure needs at least one KEY=VALUE")
    tenant_id, tenant_name, _ = tenant_of(store, tenant)
    slug = canonical_slug(slug)
    with store.session(readonly=True) as s:
        row = repo.find_installation(s, tenant_id, slug)
        if row is None:
            raise not_installed(slug, tenant_name)
        if row.status not in _CONFIGURABLE or row.version is None:
            raise StateError(
                f"cannot configure {slug}: it is {row.status} "
                f"(configure needs {', '.join(_CONFIGURABLE)})",
                details={"slug": slug, "status": row.status},
            )
        version, current = row.version, dict(row.config)
        schema = _config_schema(settings, s, tenant_id, slug, version)
    # Everything is checked before anything is written: a bad key, type or
    # choice raises ConfigError here and the store is untouched.
    given = parse_config_assignments(assignments, schema, slug)
    config, missing = resolve_config(slug, schema, given, current=current)
    if missing:
        raise ConfigError(
            f"{slug} needs a value for required config {', '.join(missing)}",
            details={"slug": slug, "missing": missing},
        )
    # Keys outside the schema (kept from an older version) stay as they were.
    config = {**current, **config}
    changes = config_diff(current, config)
    if not changes:
        return ConfigureResult(tenant_name, slug, version, config, {}, None)
    with store.session() as s:
        row = repo.get_installation(s, tenant_id, slug, for_update=True)
        if row.version != version or row.config != current:
            raise StateError(
                f"{slug} changed while it was being configured; run the command again",
                details={"slug": slug},
            )
        directive = _record_directive(
            s,
            repo,
            tenant_id,
            "configure",
            slug,
            actor=actor,
            command=command,
            extra={"config": list(assignments)},
        )
        row = repo.set_config(s, tenant_id, slug, config, actor=actor, directive_id=directive.id)
        if row.status in (lifecycle.ACTIVE, lifecycle.PAUSED):
            _record_configured(s, repo, tenant_id, row, actor=actor, directive_id=directive.id)
        # The keys that changed, not their values (a config may hold secrets).
        signals.emit_package_event(
            s,
            tenant_id,
            "config_changed",
            slug,
            version=version,
            directive_id=directive.id,
            data={"keys": sorted(changes)},
            source=signals.LIFECYCLE_SOURCE,
        )
        repo.finish_directive(s, tenant_id, directive.id, "succeeded")
        directive_id = directive.id
    return ConfigureResult(tenant_name, slug, version, config, changes, directive_id)
