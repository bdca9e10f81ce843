"""Revisions and rollback (after helm): read a package's numbered revisions, return to one.

The revisions themselves are recorded by store/repository/releases.py and
read by ``actions.inspecting.releases``.  ``preview_rollback`` checks a rollback and says
what it will do; ``submit_rollback`` writes it as a directive of kind
``rollback`` (one step) through the queue, like any install: leased,
idempotent, retried, audited and recovered by ``fleetprompt recover``.  The
step restores the target revision's version, config and resources from its
snapshot in the store (no index, no archive) and records a new revision,
"rollback to N".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fleetprompt_cli.actions.inspecting import ReleaseInfo
from fleetprompt_cli.actions.tenants import tenant_of
from fleetprompt_cli.core import lifecycle
from fleetprompt_cli.core.install_rules import check_tier
from fleetprompt_cli.core.names import canonical_slug, is_valid_slug
from fleetprompt_cli.core.vocab import LIMITS, OPEN_DIRECTIVE_STATUSES
from fleetprompt_cli.errors import (
    DependencyConflict,
    NotFound,
    StateError,
    UsageError,
    not_installed,
)
from fleetprompt_cli.settings import Settings

if TYPE_CHECKING:
    from types import ModuleType

    from fleetprompt_cli.actions.preview import Submitted
    from fleetprompt_cli.store.engine import Session, Store
    from fleetprompt_cli.store.models import Installation

__all__ = ["RollbackPreview", "preview_rollback", "submit_rollback"]


@dataclass
class RollbackPreview:
    """What a rollback will do, before anything is written."""

    tenant: str
    tenant_id: int
    tier: str
    slug: str
    current: ReleaseInfo
    target: ReleaseInfo
    step: dict[str, Any]
    available: list[int]
    warnings: list[str] = field(default_factory=list)
    kind = "rollback"

    @property
    def nothing_to_do(self) -> bool:
        return self.current.number == self.target.number

    def plan_steps(self) -> list[dict[str, Any]]:
        return [] if self.nothing_to_do else [self.step]

    def request(self) -> list[str]:
        return [f"{self.slug}@{self.target.number}"]

    def to_json(self) -> dict[str, Any]:
        step = self.step
        plan = [
            {
                "slug": self.slug,
                "version": step["version"],
                "previous": step["previous"],
                "action": step["action"],
                "reason": step["reason"],
                "requested": step["requested"],
                "revision": self.target.number,
                "from_revision": self.current.number,
                "sha256": step["sha256"],
                "config": step["config"],
                "config_changes": step["config_changes"],
                "resources": self.target.resources,
            }
        ]
        return {
            "tenant": self.tenant,
            "tier": self.tier,
            "slug": self.slug,
            "request": self.request(),
            "revisions": self.available,
            "plan": [] if self.nothing_to_do else plan,
            "warnings": self.warnings,
        }


def _action(current: str | None, target: str | None) -> str:
    """The step's action (the directive's kind, ``rollback``, says the rest)."""
    from packaging.version import InvalidVersion, Version

    try:
        lower = Version(target or "") < Version(current or "")
    except InvalidVersion:
        lower = False
    return "downgrade" if lower else "upgrade"


def _busy(session: Session, repo: ModuleType, tenant_id: int, row: Installation) -> bool:
    """Whether an open directive is changing the package (including an uninstall not started)."""
    if lifecycle.changing(row.status, row.pending_version):
        return True
    return any(
        step.slug == row.slug and step.status in OPEN_DIRECTIVE_STATUSES
        for directive in repo.list_directives(session, tenant_id, status=OPEN_DIRECTIVE_STATUSES)
        for step in repo.list_steps(session, tenant_id, directive.id)
    )


def preview_rollback(
    settings: Settings, store: Store, tenant: str, slug: str, revision: int | None = None
) -> RollbackPreview:
    """Check a rollback of ``slug`` to ``revision`` (default: the one before the deployed one)."""
    from fleetprompt_cli.core.configs import config_changes
    from fleetprompt_cli.store import repository as repo

    if len(slug) > LIMITS.slug or not is_valid_slug(slug):
        raise UsageError(f"rollback {slug!r}: not a package slug", details={"slug": slug})
    slug = canonical_slug(slug)
    tenant_id, tenant_name, tier = tenant_of(store, tenant)
    with store.session(readonly=True) as s:
        row = repo.find_installation(s, tenant_id, slug)
        if row is None or row.status not in lifecycle.INSTALLED_STATUSES:
            if row is not None and lifecycle.changing(row.status, row.pending_version):
                raise lifecycle.busy([slug])
            raise not_installed(slug, tenant_name)
        if _busy(s, repo, tenant_id, row):
            raise lifecycle.busy([slug])
        rows = repo.list_releases(s, tenant_id, slug)
        current_row = repo.deployed_release(s, tenant_id, slug)
        others = _installed_manifests(s, repo, tenant_id, exclude=slug)
    numbers = [r.number for r in rows]
    listed = ", ".join(map(str, numbers)) or "none"
    if current_row is None:
        raise NotFound(
            f"{slug} has no recorded revisions in tenant {tenant_name!r} "
            "(it was installed before revisions were kept): nothing to roll back to",
            details={"slug": slug, "tenant": tenant_name, "revisions": numbers},
        )
    current = ReleaseInfo.of(current_row)
    restorable = [r for r in rows if r.status != "failed"]
    if revision is None:
        earlier = [r for r in restorable if r.number < current.number]
        if not earlier:
            raise NotFound(
                f"{slug} has no revision before {current.number} to roll back to "
                f"(revisions: {listed})",
                details={"slug": slug, "tenant": tenant_name, "revisions": numbers},
            )
        target_row = earlier[-1]
    else:
        found = [r for r in rows if r.number == revision]
        if not found:
            raise NotFound(
                f"{slug} has no revision {revision} in tenant {tenant_name!r} "
                f"(revisions: {listed})",
                details={"slug": slug, "tenant": tenant_name, "revisions": numbers},
            )
        target_row = found[0]
        if target_row.status == "failed":
            good = ", ".join(str(r.number) for r in restorable)
            raise StateError(
                f"revision {revision} of {slug} failed and has nothing to restore: "
                f"roll back to one of {good}",
                details={"slug": slug, "revision": revision, "revisions": numbers},
            )
    target = ReleaseInfo.of(target_row)
    manifest = dict(target_row.manifest or {})
    warnings: list[str] = []
    if target.number != current.number:
        min_tier = manifest.get("package", {}).get("min_tier", "free") if manifest else "free"
        check_tier(tenant_name, tier, [(slug, min_tier)])
        _check_dependencies(slug, target.version, manifest, others)
    step = {
        "slug": slug,
        "version": target.version,
        "action": _action(current.version, target.version),
        "previous": current.version,
        "requested": row.requested,
        "reason": f"rollback to revision {target.number}",
        "rollback_to": target.number,
        "from_revision": current.number,
        "sha256": target.sha256,
        "manifest": target_row.manifest,
        "config": dict(target.config),
        "config_changes": config_changes(current.config, target.config) or {},
        "previous_entry": None,
    }
    return RollbackPreview(
        tenant_name, tenant_id, tier, slug, current, target, step, numbers, warnings
    )


def _installed_manifests(
    s: Session, repo: ModuleType, tenant_id: int, *, exclude: str
) -> dict[str, tuple[str | None, dict[str, Any]]]:
    """Every other live package: its version and the manifest of that version."""
    from fleetprompt_cli.actions.preview import planned_manifests

    planned = planned_manifests(s, tenant_id)
    found = {}
    for row in repo.list_installations(s, tenant_id):
        if row.slug == exclude or row.status == lifecycle.UNINSTALLING:
            continue
        version = row.pending_version or row.version
        deployed = repo.deployed_release(s, tenant_id, row.slug)
        manifest = (
            deployed.manifest
            if deployed is not None and deployed.version == version and deployed.manifest
            else planned.get((row.slug, version))
        )
        found[row.slug] = (version, dict(manifest or {}))
    return found


def _check_dependencies(
    slug: str,
    version: str | None,
    manifest: dict[str, Any],
    others: dict[str, tuple[str | None, dict[str, Any]]],
) -> None:
    """Refuse a rollback that would break a dependency either way (exit 4)."""
    from packaging.specifiers import InvalidSpecifier, SpecifierSet
    from packaging.version import InvalidVersion, Version

    def allows(specifier: str, value: str | None) -> bool:
        try:
            return value is not None and SpecifierSet(specifier).contains(
                Version(value), prereleases=True
            )
        except (InvalidSpecifier, InvalidVersion):
            return False

    problems = []
    for dep, specifier in sorted(manifest.get("dependencies", {}).items()):
        dep = canonical_slug(dep)
        have = others.get(dep, (None, {}))[0]
        if not allows(str(specifier), have):
            shown = f"{dep} {have} is installed" if have else f"{dep} is not installed"
            problems.append(f"{slug} {version} needs {dep}{specifier or ''}, but {shown}")
    for other, (other_version, other_manifest) in sorted(others.items()):
        for dep, specifier in other_manifest.get("dependencies", {}).items():
            if canonical_slug(dep) == slug and not allows(str(specifier), version):
                problems.append(f"{other} {other_version} needs {slug}{specifier}")
    if problems:
        raise DependencyConflict(
            f"cannot roll {slug} back to {version}: " + "; ".join(problems),
            details={"slug": slug, "version": version, "problems": problems},
        )


def submit_rollback(
    settings: Settings, store: Store, preview: RollbackPreview, *, actor: str, command: str
) -> Submitted:
    """Write the rollback directive and plan the installation's change; wake the queue.

    The tenant's row is locked first (as every submit does), then the
    package is checked again: a rollback planned against a revision that is
    no longer the deployed one, or a package another directive took since
    the preview, is refused (exit 11) rather than applied to a state nobody
    previewed.
    """
    from fleetprompt_cli.actions.preview import Submitted
    from fleetprompt_cli.store import repository as repo

    step = preview.step
    with store.session() as s:
        repo.lock_tenant(s, preview.tenant_id)
        row = repo.find_installation(s, preview.tenant_id, preview.slug, for_update=True)
        deployed = repo.deployed_release(s, preview.tenant_id, preview.slug)
        if (
            row is None
            or row.status not in lifecycle.INSTALLED_STATUSES
            or _busy(s, repo, preview.tenant_id, row)
            or deployed is None
            or deployed.number != preview.current.number
        ):
            raise lifecycle.busy([preview.slug])
        directive = repo.create_directive(
            s,
            preview.tenant_id,
            actor=actor,
            kind="rollback",
            command=command,
            arguments={"request": preview.request(), "revision": preview.target.number},
            plan={"steps": [step]},
            steps=[repo.StepSpec(preview.slug, step["action"], version=step["version"])],
        )
        repo.plan_installation(
            s,
            preview.tenant_id,
            preview.slug,
            step["version"],
            actor=actor,
            requested=step["requested"],
            config=step["config"],
            directive_id=directive.id,
        )
        directive_id = directive.id
    from fleetprompt_cli.queue import wake

    return Submitted(directive_id, wake(settings, preview.tenant_id, directive_id))
