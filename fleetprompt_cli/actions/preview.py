"""Install and uninstall: plan, preview, check, and write a directive.

``preview_install`` resolves the request against what the tenant has, checks
the tier gate, ``DEP:SKILL`` references and config, and returns what will be
installed.  ``submit`` writes the directive, its steps and the installations
in one transaction, and sends the queue a wake-up carrying only ids.  The
work itself is :func:`fleetprompt_cli.actions.directive_runner.run_directive`.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from packaging.version import Version

from fleetprompt_cli.actions.indexes import open_catalog
from fleetprompt_cli.actions.planning import Plan, PlanStep, plan_request
from fleetprompt_cli.actions.policy import policy_data, policy_gate
from fleetprompt_cli.actions.state import StateSource, read_tenant
from fleetprompt_cli.actions.tenants import tenant_of
from fleetprompt_cli.core import lifecycle
from fleetprompt_cli.core.install_rules import (
    check_dep_skills,
    check_tier,
    config_diff,
    migrate_config,
    parse_config_assignments,
    resolve_config,
)
from fleetprompt_cli.core.names import canonical_slug
from fleetprompt_cli.core.policy import Verdict
from fleetprompt_cli.errors import ConfigError, NotFound, StateError, not_installed
from fleetprompt_cli.settings import Settings

if TYPE_CHECKING:
    from types import ModuleType

    from fleetprompt_cli.core.index import IndexEntry
    from fleetprompt_cli.store.engine import Session, Store
    from fleetprompt_cli.store.models import Installation

__all__ = [
    "InstallPreview",
    "PreviewStep",
    "Submittable",
    "Submitted",
    "UninstallPreview",
    "planned_manifests",
    "preview_install",
    "preview_uninstall",
    "submit",
    "upgrade_targets",
    "wait_for_packages",
    "write_directive",
]

Ask = Callable[[str, str, dict[str, Any]], Any]


class Submittable(Protocol):
    """What :func:`submit` needs of a preview (install's, uninstall's, or sync's).

    ``tier_packages`` names the packages the tier gate applies to (slug,
    min_tier), re-checked in submit's transaction.
    """

    tenant: str
    tenant_id: int
    kind: str
    basis: dict[str, str]

    def plan_steps(self) -> list[dict[str, Any]]: ...
    def request(self) -> list[str]: ...
    def tier_packages(self) -> list[tuple[str, Any]]: ...


@dataclass
class PreviewStep:
    """One package of the preview: the plan step, its config, what it adds."""

    step: PlanStep
    config: dict[str, Any]
    config_changes: dict[str, Any]
    previous_entry: dict[str, Any] | None = None

    @property
    def slug(self) -> str:
        return self.step.item.slug

    def to_json(self) -> dict[str, Any]:
        return {**self.step.to_json(), "config": self.config, "config_changes": self.config_changes}


@dataclass
class InstallPreview:
    """What will be installed, before anything is written."""

    tenant: str
    tenant_id: int
    tier: str
    plan: Plan
    steps: list[PreviewStep]
    index_roots: dict[str, str]
    warnings: list[str] = field(default_factory=list)
    # What the plan was resolved against (see tenant_basis); submit re-checks it.
    basis: dict[str, str] = field(default_factory=dict)
    # The directive's kind: install, or upgrade for the upgrade command.
    kind: str = "install"
    # The policy's verdict on each package the plan changes (all allowed).
    policy: list[Verdict] = field(default_factory=list)

    @property
    def changes(self) -> list[PreviewStep]:
        return [s for s in self.steps if s.step.item.action != "keep"]

    @property
    def nothing_to_do(self) -> bool:
        return not self.changes

    def request(self) -> list[str]:
        return [str(r) for r in self.plan.requirements]

    def tier_packages(self) -> list[tuple[str, Any]]:
        return [(s.slug, s.step.entry.data.get("min_tier", "free")) for s in self.changes]

    def plan_steps(self) -> list[dict[str, Any]]:
        """The directive's plan: everything a step needs, so any process can run it."""
        steps = []
        for step in self.changes:
            item, entry = step.step.item, step.step.entry
            steps.append(
                {
                    "slug": item.slug,
                    "version": str(item.version),
                    "action": item.action,
                    "previous": None if item.previous is None else str(item.previous),
                    "requested": item.requested,
                    "reason": item.reason,
                    "sha256": entry.sha256,
                    "size": entry.data.get("size"),
                    "origin": entry.where,
                    "archive": archive_source_for(self.index_roots, entry),
                    "manifest": entry.manifest,
                    "config": step.config,
                    "previous_entry": step.previous_entry,
                }
            )
        return steps

    def to_json(self) -> dict[str, Any]:
        return {
            "tenant": self.tenant,
            "tier": self.tier,
            "request": [str(r) for r in self.plan.requirements],
            "plan": [s.to_json() for s in self.steps],
            "policy": [v.to_json() for v in self.policy],
            "warnings": self.warnings,
        }


def _config_for(
    step: PlanStep,
    assignments: dict[str, list[str]],
    current: Installation | None,
    ask: Ask | None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    manifest = step.entry.manifest
    schema = manifest.get("config", {})
    slug = step.item.slug
    given = parse_config_assignments(assignments.get(slug, []), schema, slug)
    before: dict[str, Any] = {}
    if current is not None:
        before = dict(current.config)
        if current.version and current.version != str(step.item.version):
            before = migrate_config(before, manifest.get("migrations", []), current.version)
    config, missing = resolve_config(slug, schema, given, current=before)
    for key in list(missing):
        if ask is None:
            break
        value = ask(slug, key, schema[key])
        if value is not None:
            config[key] = value
            missing.remove(key)
    if missing:
        flags = " ".join(f"--config {k}=VALUE" for k in missing)
        raise ConfigError(
            f"{slug} needs a value for required config {', '.join(missing)}: add {flags}",
            details={"slug": slug, "missing": missing},
        )
    return config, config_diff(dict(current.config) if current else {}, config)


def _split_assignments(assignments: Sequence[str], plan: Plan) -> dict[str, list[str]]:
    """Route ``KEY=VALUE`` to the requested packages and ``SLUG:KEY=VALUE`` to SLUG."""
    requested = [s.item.slug for s in plan.steps if s.item.requested]
    in_plan = {s.item.slug for s in plan.steps}
    routed: dict[str, list[str]] = {}
    for assignment in assignments:
        head, sep, _ = assignment.partition("=")
        if ":" in head and sep:
            slug_text, _, key = head.partition(":")
            slug = canonical_slug(slug_text)
            if slug not in in_plan:
                raise ConfigError(f"--config {assignment!r}: {slug} is not in the plan")
            routed.setdefault(slug, []).append(f"{key}={assignment.partition('=')[2]}")
            continue
        if len(requested) != 1:
            raise ConfigError(
                f"--config {assignment!r} is ambiguous with several packages: "
                "write it as SLUG:KEY=VALUE"
            )
        routed.setdefault(requested[0], []).append(assignment)
    return routed


def preview_install(
    settings: Settings,
    store: Store | StateSource,
    tenant: str,
    specs: Sequence[str],
    *,
    config: Sequence[str] = (),
    upgrade: bool | Collection[str] = False,
    allow_prerelease: bool = False,
    ask: Ask | None = None,
    progress: Callable[[str], None] | None = None,
    kind: str = "install",
    allow_unsigned: bool = False,
) -> InstallPreview:
    """Resolve and check an install request; writes nothing.

    (Except the ``default`` tenant on its first use.)  ``upgrade`` prefers
    the newest versions of every package, or of the given slugs only;
    ``kind`` is the directive's kind (``upgrade`` for the upgrade command).
    """
    # A StateSource reads the tenant through the fast reader (a no-op
    # install then never imports the ORM); a Store through the ORM.
    tenant_id, tenant_slug, tier, live, leaving, policy_state = read_tenant(
        store,
        tenant,
        lambda s, repo, tenant_id, name, tier: (
            tenant_id,
            name,
            tier,
            *_tenant_state(s, repo, tenant_id),
            policy_data(s, repo, tenant_id),
        ),
        pooled=True,
    )
    busy = {
        slug for slug, i in live.items() if lifecycle.changing(i.status, i.pending_version)
    } | leaving
    # Queued installs and pending upgrades count as installed at the version
    # they bring (their dependencies must hold too); what an open directive
    # uninstalls counts as gone.
    basis = tenant_basis(live, leaving)
    installed = {slug: Version(version) for slug, version in basis.items()}
    # The catalog's connection is kept for the next preview of this thread
    # (refreshed from the indexes every time): see open_catalog.
    view = open_catalog(settings, keep=True)
    try:
        plan = plan_request(
            settings,
            specs,
            installed=installed,
            upgrade=upgrade,
            allow_prerelease=allow_prerelease,
            progress=progress,
            view=view,
        )
        roots = {index.name: str(index.root) for index in view.indexes}
        previous_entries = {}
        for step in plan.steps:
            current = live.get(step.item.slug)
            if step.item.action in ("upgrade", "downgrade") and current and current.version:
                for entry in view.catalog.versions(step.item.slug):
                    if Version(entry.version) == Version(current.version):
                        previous_entries[step.item.slug] = entry
    finally:
        view.close()
    changing = [s for s in plan.steps if s.item.action != "keep"]
    # Signatures (and local archives) under each index's trust policy, before
    # anything is written: exit 6 naming the package, version and problem.
    from fleetprompt_cli.actions.trust import verify_entries

    verify_entries(
        settings, view.indexes, [s.entry for s in changing], allow_unsigned=allow_unsigned
    )
    # Refused: changing a package another directive is changing, or relying
    # on one (the request and its dependencies).  A queued install or a
    # pending upgrade still constrains every plan as an installed package,
    # but a new package may not depend on it before it is applied: the new
    # directive could run first, or the other one fail.
    in_progress = sorted(busy & (_relied_on(plan) | {s.item.slug for s in changing}))
    if in_progress:
        raise lifecycle.busy(in_progress)
    check_tier(
        tenant_slug, tier, [(s.item.slug, s.entry.data.get("min_tier", "free")) for s in changing]
    )
    # The tenant's policy (global, tightened by the tenant's): exit 5 naming
    # each refused package and rule, before anything is written.
    verdicts = policy_gate(
        settings,
        tenant_slug,
        policy_state,
        [(s.entry, s.item.requested) for s in changing],
        view.indexes,
        doing=kind,
    )
    check_dep_skills({s.item.slug: (str(s.item.version), s.entry.manifest) for s in plan.steps})
    routed = _split_assignments(config, plan)
    steps = []
    for step in plan.steps:
        current = live.get(step.item.slug)
        if step.item.action == "keep" and step.item.slug not in routed:
            steps.append(PreviewStep(step, dict(current.config) if current else {}, {}))
            continue
        values, changes = _config_for(step, routed, current, ask)
        previous = previous_entries.get(step.item.slug)
        previous_info = None
        if previous is not None and current is not None:
            previous_info = {
                "slug": previous.slug,
                "version": previous.version,
                "sha256": previous.sha256,
                "size": previous.data.get("size"),
                "origin": previous.where,
                "archive": archive_source_for(roots, previous),
                "manifest": previous.manifest,
                "config": dict(current.config),
            }
        steps.append(PreviewStep(step, values, changes, previous_info))
    preview = InstallPreview(
        tenant_slug, tenant_id, tier, plan, steps, roots, list(plan.warnings), basis, kind
    )
    preview.policy = verdicts
    return preview


def _relied_on(plan: Plan) -> set[str]:
    """The requested packages and, transitively, the dependencies they are planned with."""
    needed = {s.item.slug for s in plan.steps if s.item.requested}
    grown = True
    while grown:
        grown = False
        for step in plan.steps:
            item = step.item
            if item.slug not in needed and any(by in needed for by, _, _ in item.required_by):
                needed.add(item.slug)
                grown = True
    return needed


def _tenant_state(
    session: Any, repo: ModuleType, tenant_id: int
) -> tuple[dict[str, Installation], set[str]]:
    """The tenant's live installations by slug, and the slugs an open directive uninstalls.

    An uninstall directive changes no row until its step starts, so its
    steps are read too.
    """
    live = {i.slug: i for i in repo.list_installations(session, tenant_id)}
    return live, repo.leaving_slugs(session, tenant_id)


def tenant_basis(live: dict[str, Installation], leaving: set[str]) -> dict[str, str]:
    """What a plan is resolved against: each package the tenant has or will have, at its version.

    The version an open directive brings (queued install, pending upgrade),
    else the installed one; packages an open directive uninstalls, and failed
    installs, are absent.  Workers moving a package along (queued, installing,
    active) leave this unchanged; a new plan, an uninstall or a failure
    changes it.
    """
    basis = {}
    for slug, inst in live.items():
        if slug in leaving or inst.status == lifecycle.UNINSTALLING:
            continue
        version = inst.pending_version
        if version is None and inst.status in lifecycle.INSTALLED_STATUSES:
            version = inst.version
        if version is not None:
            basis[slug] = version
    return basis


def _recheck(session: Any, repo: ModuleType, preview: Submittable) -> None:
    """Refuse a plan whose basis changed since its preview, or that the tier no longer allows.

    Runs in submit's transaction after locking the tenant's row, so submits
    of one tenant (and ``tenant set-tier``) are serialised and what is checked
    here is what the directive is written against.  Any change of the basis
    refuses the plan, even one that would not have changed its answer:
    re-resolving here would need the catalog inside the transaction, and a
    refused command only has to be run again.
    """
    tenant = repo.lock_tenant(session, preview.tenant_id)
    live, leaving = _tenant_state(session, repo, preview.tenant_id)
    now = tenant_basis(live, leaving)
    before = preview.basis
    changed = {slug for slug in now.keys() | before.keys() if now.get(slug) != before.get(slug)}
    if changed:
        # Name the packages of this plan that changed, if any, else all.
        if isinstance(preview, InstallPreview):
            mine = {s.slug for s in preview.steps}
        elif isinstance(preview, UninstallPreview):
            mine = {step["slug"] for step in preview.removed}
        else:
            mine = {step["slug"] for step in preview.plan_steps()}
        raise lifecycle.busy(sorted(changed & mine or changed))
    check_tier(tenant.slug, tenant.tier, preview.tier_packages())


def wait_for_packages(
    store: Store, tenant: str, slugs: Sequence[str], *, timeout: float, poll: float = 0.5
) -> bool:
    """Wait until no open directive is changing ``slugs``; False if ``timeout`` passed first.

    Like cargo and uv waiting for their lock: a second install that needs a
    package another directive is changing waits for it, then plans again.
    """
    import time

    from fleetprompt_cli.store import repository as repo

    tenant_id, _, _ = tenant_of(store, tenant)
    deadline = time.monotonic() + timeout
    while True:
        with store.session(readonly=True) as s:
            live, leaving = _tenant_state(s, repo, tenant_id)
        busy = [
            slug
            for slug in slugs
            if slug in leaving
            or (slug in live and lifecycle.changing(live[slug].status, live[slug].pending_version))
        ]
        left = deadline - time.monotonic()
        if not busy:
            return True
        if left <= 0:
            return False
        time.sleep(min(poll, left))


def archive_source_for(roots: dict[str, str], entry: IndexEntry) -> str:
    """The archive of an entry as a path or URL any local process can fetch."""
    # Imported here: a no-op install never loads the installer.
    from fleetprompt_cli.actions.directive_runner import archive_source

    return archive_source(
        Path(roots.get(entry.index, ".")),
        entry.data["archive"],
        f"{entry.slug} {entry.version} ({entry.where})",
    )


def submit(
    settings: Settings,
    store: Store,
    preview: Submittable,
    *,
    actor: str,
    command: str,
    atomic: bool = False,
    wake: bool = True,
) -> Submitted:
    """Write the directive, its steps and installations in one transaction; wake the queue.

    ``wake=False``: the caller runs the directive itself at once (an inline
    install).  Should it die before claiming it, a worker's sweep finds the
    directive unclaimed after the claim grace; the wake-up would only have
    been quicker, and costs the CLI the queue's imports (~250 ms).
    """
    from fleetprompt_cli.store import submit_sql

    plan_steps = preview.plan_steps()
    # The store's write transaction with SQL built once (store/submit_sql.py):
    # the same rows as the ORM repository functions write, in a fraction of the time.
    with submit_sql.transaction(store) as tx:
        directive_id = write_directive(
            tx, submit_sql, preview, plan_steps, actor=actor, command=command, atomic=atomic
        )
    if not wake:
        return Submitted(directive_id)
    from fleetprompt_cli.queue import wake as wake_queue

    # The directive is safe in the store even if the queue is down; the
    # warning says that workers will then only find it by their sweep.
    return Submitted(directive_id, wake_queue(settings, preview.tenant_id, directive_id))


def write_directive(
    s: Any,
    repo: ModuleType,
    preview: Submittable,
    plan_steps: list[dict[str, Any]],
    *,
    actor: str,
    command: str,
    atomic: bool = False,
) -> str:
    """Re-check the preview and write its directive, steps and installations; the directive's id.

    ``repo`` is ``store.submit_sql`` over its Transaction (what submit uses)
    or ``store.repository`` over an ORM Session: the same functions, the same
    rows (tests/store/test_submit_sql.py writes plans both ways).
    """
    _recheck(s, repo, preview)
    directive = repo.create_directive(
        s,
        preview.tenant_id,
        actor=actor,
        kind=preview.kind,
        command=command,
        arguments={"request": preview.request()},
        atomic=atomic,
        plan={"steps": plan_steps},
        steps=[repo.StepSpec(p["slug"], p["action"], version=p.get("version")) for p in plan_steps],
    )
    for info in plan_steps:
        # An uninstall changes its row when its step starts (see
        # _tenant_state); every other step plans its installation now.
        if info["action"] != "uninstall":
            repo.plan_installation(
                s,
                preview.tenant_id,
                info["slug"],
                info["version"],
                actor=actor,
                requested=info["requested"],
                config=info["config"],
                directive_id=directive.id,
            )
    return str(directive.id)


@dataclass(frozen=True)
class Submitted:
    """A written directive, and a warning if the queue could not be told."""

    directive_id: str
    warning: str | None = None


@dataclass
class UninstallPreview:
    """What an uninstall removes: the package and dependencies nothing else needs."""

    tenant: str
    tenant_id: int
    slugs: list[str]
    removed: list[dict[str, Any]]
    kind: str = "uninstall"
    # What the dependents check saw (see tenant_basis); submit re-checks it.
    basis: dict[str, str] = field(default_factory=dict)

    def plan_steps(self) -> list[dict[str, Any]]:
        return self.removed

    def request(self) -> list[str]:
        return self.slugs

    def tier_packages(self) -> list[tuple[str, Any]]:
        return []  # Removing a package needs no tier.

    def to_json(self) -> dict[str, Any]:
        return {"tenant": self.tenant, "plan": self.removed}


def preview_uninstall(
    store: Store, tenant: str, slugs: Sequence[str], *, force: bool = False, keep_deps: bool = False
) -> UninstallPreview:
    """Check an uninstall: refuse when another package needs it, unless forced."""
    from fleetprompt_cli.store import repository as repo

    wanted = [canonical_slug(s) for s in slugs]
    tenant_id, tenant_slug, _ = tenant_of(store, tenant)
    with store.session(readonly=True) as s:
        rows = repo.list_installations(s, tenant_id, include_finished=True)
        _, leaving = _tenant_state(s, repo, tenant_id)
    live = {i.slug: i for i in rows if lifecycle.is_live(i.status)}
    # Newest last, so a slug installed and uninstalled twice keeps its latest row.
    finished = {i.slug: i for i in rows if not lifecycle.is_live(i.status)}
    for slug in wanted:
        inst = live.get(slug) or finished.get(slug)
        if inst is None:
            raise not_installed(slug, tenant_slug)
        # Refuse up front what the installer would refuse at its first step
        # (uninstalling what is uninstalled, queued or mid-change), so no
        # directive is written that can only fail.
        lifecycle.transition(inst.status, "start_uninstall", subject=slug)
        if slug in leaving or lifecycle.changing(inst.status, inst.pending_version):
            raise lifecycle.busy([slug])
    deps = _installed_dependencies(store, tenant_id, live)
    removing = set(wanted)
    dependents = {
        slug: sorted(
            other for other, needs in deps.items() if slug in needs and other not in removing
        )
        for slug in wanted
    }
    blocked = {slug: users for slug, users in dependents.items() if users}
    if blocked and not force:
        lines = "; ".join(
            f"{slug} is needed by {', '.join(users)}" for slug, users in blocked.items()
        )
        raise StateError(
            f"cannot uninstall: {lines} (use --force to remove it anyway)",
            details={"dependents": blocked},
        )
    if not keep_deps:
        # Dependencies pulled in for what is removed go too, when nothing else
        # that stays needs them and the user never asked for them.
        changed = True
        while changed:
            changed = False
            for slug, inst in live.items():
                if slug in removing or inst.requested:
                    continue
                if "start_uninstall" not in lifecycle.allowed(inst.status) or (
                    slug in leaving or lifecycle.changing(inst.status, inst.pending_version)
                ):
                    continue  # Busy with another directive: leave it to that one.
                users = {o for o, needs in deps.items() if slug in needs}
                if users and users <= removing:
                    removing.add(slug)
                    changed = True
    order = _dependents_first(removing, deps)
    removed = [
        {
            "slug": slug,
            "version": live[slug].version,
            "action": "uninstall",
            "requested": slug in wanted,
            "reason": "requested" if slug in wanted else "no longer needed",
        }
        for slug in order
    ]
    return UninstallPreview(
        tenant_slug, tenant_id, wanted, removed, basis=tenant_basis(live, leaving)
    )


def planned_manifests(
    session: Session, tenant_id: int
) -> dict[tuple[str, str | None], dict[str, Any]]:
    """The manifest of every (slug, version) the tenant's directives planned.

    A directive's plan holds the manifest of each version it installs, so the
    installed versions' manifests (dependencies, config schema) are known
    without the index, even when the index no longer lists them.
    """
    from fleetprompt_cli.store import repository as repo

    found: dict[tuple[str, str | None], dict[str, Any]] = {}
    for directive in repo.list_directives(session, tenant_id):
        for step in directive.plan.get("steps", []):
            if step.get("manifest") is not None:
                found[(step.get("slug"), step.get("version"))] = step["manifest"]
    return found


def _installed_dependencies(
    store: Store, tenant_id: int, live: dict[str, Installation]
) -> dict[str, set]:
    """For each installed package, the installed packages it depends on."""
    with store.session(readonly=True) as s:
        manifests = planned_manifests(s, tenant_id)
    needs: dict[str, set] = {}
    for slug, inst in live.items():
        # A queued install or pending upgrade needs what its new version needs
        # (and, until it is applied, the current version's dependencies too).
        declared: dict[str, Any] = {}
        for version in (inst.version, inst.pending_version):
            declared.update(manifests.get((slug, version), {}).get("dependencies", {}))
        needs[slug] = {canonical_slug(d) for d in declared if canonical_slug(d) in live}
    return needs


def _dependents_first(slugs: set[str], deps: dict[str, set]) -> list[str]:
    ordered: list[str] = []
    remaining = set(slugs)
    while remaining:
        leaves = sorted(
            s for s in remaining if not any(s in deps.get(o, set()) for o in remaining if o != s)
        )
        if not leaves:
            leaves = sorted(remaining)  # A cycle: any order removes it.
        for slug in leaves:
            ordered.append(slug)
            remaining.discard(slug)
    return ordered


def upgrade_targets(store: Store, tenant: str, slugs: Sequence[str]) -> list[str]:
    """What ``upgrade`` asks for: the given installed slugs, or every requested one."""
    from fleetprompt_cli.store import repository as repo

    tenant_id, name, _ = tenant_of(store, tenant)
    with store.session(readonly=True) as s:
        live = {
            i.slug: i
            for i in repo.list_installations(s, tenant_id)
            if i.status in (lifecycle.ACTIVE, lifecycle.PAUSED)
        }
    if not slugs:
        return sorted(slug for slug, inst in live.items() if inst.requested)
    wanted = [canonical_slug(s) for s in slugs]
    missing = [slug for slug in wanted if slug not in live]
    if missing:
        raise NotFound(
            f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not "
            f"installed in tenant {name!r}: use 'fleetprompt install'"
        )
    return wanted
