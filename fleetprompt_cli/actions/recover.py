"""Recover: finish directives a dead process left behind, and retry failed ones.

A directive is *stranded* when its lease expired (the CLI or worker running
it died) or when nobody claimed it within the claim grace (its wake-up was
lost).  :func:`recover` claims each one's lease and runs it here with the
same installer an inline install uses; each step is idempotent, so the
tenant ends up as if the process had never died.

With ``retry_failed`` it also re-opens failed directives.  A failed directive
left its steps ``failed`` (one), ``cancelled`` (the later ones) and, when it
was atomic, ``undone`` (the earlier ones); the installations are ``failed``
(the failed install), ``cancelled`` (installs that never started: history
rows), ``uninstalled`` (undone installs: history rows) or back at their old
version (failed, cancelled or undone upgrades).  Re-opening, in one
transaction: the directive goes back to ``pending``; each of those steps to
``pending`` with fresh attempts; a ``failed`` installation takes the
``retry`` transition (failed → queued); a package with no live installation
is planned again (a new ``queued`` row, the old one stays as history); an
installation at its old version gets its pending version and config again.
Running the directive then gives the tenant exactly what a successful first
run would have given it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fleetprompt_cli.core import lifecycle
from fleetprompt_cli.core.vocab import OPEN_DIRECTIVE_STATUSES
from fleetprompt_cli.errors import ExitCode, FleetPromptError, NotFound, StateError
from fleetprompt_cli.settings import Settings

if TYPE_CHECKING:
    from types import ModuleType

    from fleetprompt_cli.store.engine import Session, Store

__all__ = [
    "RecoverItem",
    "RecoverReport",
    "find_running",
    "find_stranded",
    "recover",
    "reopen_for_retry",
]

Runner = Callable[[int, str], Any]
_REOPEN = ("failed", "cancelled", "undone")


@dataclass
class RecoverItem:
    """One directive recover found, and what came of it."""

    id: str
    tenant: str
    tenant_id: int
    status: str
    attempts: int
    reason: str  # "lease expired", "never claimed", "failed", "running" or "waiting"
    outcome: str | None = None  # None in a dry run
    error: str | None = None
    # The failing error's kind, kept on the directive, and the exit code it means.
    error_kind: str | None = None
    exit_code: ExitCode = ExitCode.SUCCESS
    # For a directive still running (or waiting for a worker): who holds it,
    # and in how many seconds its lease lapses (or the sweep takes it).
    lease_owner: str | None = None
    due_in: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "tenant": self.tenant,
            "status": self.status,
            "attempts": self.attempts,
            "reason": self.reason,
            "outcome": self.outcome,
            "error": self.error,
            "error_kind": self.error_kind,
            "lease_owner": self.lease_owner,
            "due_in_seconds": None if self.due_in is None else round(self.due_in, 1),
        }


@dataclass
class RecoverReport:
    """Everything recover found (and, unless a dry run, ran)."""

    items: list[RecoverItem] = field(default_factory=list)
    dry_run: bool = False
    # Open directives that are not stranded (yet): left alone unless --now.
    running: list[RecoverItem] = field(default_factory=list)

    @property
    def exit_code(self) -> ExitCode:
        """Success unless some directive recover ran did not succeed.

        A directive that failed exits as it would have where it first ran
        (the first such directive's code); anything else that went wrong, 1.
        """
        bad = [i for i in self.items if i.outcome not in (None, "succeeded", "busy")]
        if not bad:
            return ExitCode.SUCCESS
        failed = [i.exit_code for i in bad if i.outcome == "failed" and i.exit_code]
        return failed[0] if failed else ExitCode.FAILURE

    def to_json(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "directives": [i.to_json() for i in self.items],
            "running": [i.to_json() for i in self.running],
        }


def find_stranded(
    store: Store,
    *,
    tenant: str | None = None,
    retry_failed: bool = False,
    ids: Sequence[str] = (),
    grace_seconds: float | None = None,
) -> list[RecoverItem]:
    """Directives to recover (all tenants unless ``tenant``), oldest first; writes nothing."""
    from fleetprompt_cli.actions.worker import claim_grace
    from fleetprompt_cli.store import repository as repo

    grace = claim_grace() if grace_seconds is None else grace_seconds
    with store.session(readonly=True) as s:
        tenants = {repo.saved_id(t): t.slug for t in repo.list_tenants(s)}
        only = repo.get_tenant(s, tenant).id if tenant is not None else None
        items = [
            RecoverItem(
                ref.directive_id,
                tenants.get(ref.tenant_id, str(ref.tenant_id)),
                ref.tenant_id,
                ref.status,
                ref.attempts,
                "lease expired" if ref.lease_owner else "never claimed",
            )
            for ref in repo.expired_directives(s, grace_seconds=grace, rewake_seconds=0)
            if only is None or ref.tenant_id == only
        ]
        if retry_failed:
            failed = []
            for tenant_id, slug in tenants.items():
                if only is not None and tenant_id != only:
                    continue
                for d in repo.list_directives(s, tenant_id, status="failed"):
                    failed.append(
                        (
                            d.created_at,
                            RecoverItem(d.id, slug, tenant_id, d.status, d.attempts, "failed"),
                        )
                    )
            items += [item for _, item in sorted(failed, key=lambda pair: (pair[0], pair[1].id))]
    if ids:
        items = _select(items, ids)
    return items


def find_running(
    store: Store,
    *,
    tenant: str | None = None,
    skip: Sequence[str] = (),
    grace_seconds: float | None = None,
) -> list[RecoverItem]:
    """Open directives that are not stranded: a live lease, or unclaimed within the grace.

    ``due_in`` says when they would become stranded: when the lease lapses,
    or when the claim grace ends (measured with the database's clock).
    """
    from datetime import timedelta

    from fleetprompt_cli.actions.worker import claim_grace
    from fleetprompt_cli.store import repository as repo

    grace = claim_grace() if grace_seconds is None else grace_seconds
    found: list[tuple[Any, RecoverItem]] = []
    with store.session(readonly=True) as s:
        now = repo.database_now(s)
        only = repo.get_tenant(s, tenant).id if tenant is not None else None
        for record in repo.list_tenants(s):
            record_id = repo.saved_id(record)
            if only is not None and record_id != only:
                continue
            for d in repo.list_directives(s, record_id, status=OPEN_DIRECTIVE_STATUSES):
                if d.id in skip:
                    continue
                if d.lease_owner is not None and d.lease_expires_at is not None:
                    reason, due = "running", d.lease_expires_at
                else:
                    reason, due = "waiting", d.created_at + timedelta(seconds=grace)
                item = RecoverItem(d.id, record.slug, record_id, d.status, d.attempts, reason)
                item.lease_owner = d.lease_owner
                item.due_in = max(0.0, (due - now).total_seconds())
                found.append((d.created_at, item))
    return [item for _, item in sorted(found, key=lambda pair: (pair[0], pair[1].id))]


def _select(items: list[RecoverItem], ids: Sequence[str]) -> list[RecoverItem]:
    chosen: list[RecoverItem] = []
    for wanted in ids:
        matches = [i for i in items if i.id == wanted or i.id.startswith(wanted)]
        if len(matches) != 1:
            what = "matches several" if matches else "is not a stranded or failed directive"
            raise NotFound(f"directive {wanted} {what}", details={"id": wanted})
        if matches[0] not in chosen:
            chosen.append(matches[0])
    return chosen


def reopen_for_retry(store: Store, tenant_id: int, directive_id: str, *, actor: str) -> None:
    """Put a failed directive, its unfinished steps and their installations back in line."""
    from fleetprompt_cli.store import repository as repo

    with store.session() as s:
        directive = repo.get_directive(s, tenant_id, directive_id)
        steps = repo.list_steps(s, tenant_id, directive_id)
        plan = directive.plan.get("steps", [])
        repo.reopen_directive(s, tenant_id, directive_id)
        for step in steps:
            if step.status not in _REOPEN:
                continue
            repo.update_step(s, tenant_id, repo.saved_id(step), "pending")
            if step.action == "uninstall":
                continue  # The installer starts an uninstall from whatever is live.
            _replan(s, repo, tenant_id, directive_id, plan[step.position], actor)


def _replan(
    session: Session, repo: ModuleType, tenant_id: int, directive_id: str, info: dict, actor: str
) -> None:
    slug, version = info["slug"], info["version"]
    inst = repo.find_installation(session, tenant_id, slug, for_update=True)
    failed = inst is not None and inst.status == lifecycle.FAILED
    if inst is not None and not failed:
        if inst.status in (lifecycle.INSTALLING, lifecycle.UPGRADING, lifecycle.UNINSTALLING):
            raise StateError(
                f"cannot retry directive {directive_id}: {slug} is {inst.status} "
                "(another directive is changing it)"
            )
        if inst.status == lifecycle.QUEUED and inst.pending_version == version:
            return
        installed = inst.status in (lifecycle.ACTIVE, lifecycle.PAUSED)
        if installed and inst.version == version and inst.pending_version is None:
            return  # Already there (another directive did it): the step will say so.
    # Plan it (again, for a failed install, which dropped its pending version);
    # this refuses if another directive already planned the package.
    repo.plan_installation(
        session,
        tenant_id,
        slug,
        version,
        actor=actor,
        requested=bool(info.get("requested", True)),
        config=info.get("config"),
        directive_id=directive_id,
    )
    if failed:
        # Then take the failed row back to queued.
        repo.apply_transition(
            session, tenant_id, slug, "retry", actor=actor, directive_id=directive_id
        )


def recover(
    settings: Settings,
    store: Store,
    *,
    tenant: str | None = None,
    dry_run: bool = False,
    retry_failed: bool = False,
    ids: Sequence[str] = (),
    runner: Runner | None = None,
    on_item: Callable[[RecoverItem], None] | None = None,
    now: bool = False,
) -> RecoverReport:
    """Find stranded (and, if asked, failed) directives and run each one here.

    Directives still running (a live lease, or unclaimed within the claim
    grace) are listed in the report and left alone; ``now`` takes them over
    at once (the user knows their process died): the lease is broken and
    claimed here, and a process that was in fact alive stops at its next
    transaction (the lease fence).

    ``runner(tenant_id, directive_id)`` runs one directive and returns its
    :class:`~fleetprompt_cli.actions.directive_runner.RunOutcome` (the CLI passes one
    with a progress display); ``on_item`` is called before each run.
    """
    from fleetprompt_cli.actions.directive_runner import default_owner, exit_code_of, run_directive
    from fleetprompt_cli.store import repository as repo

    # With ``now`` the ids may name running directives too: picked below.
    items = find_stranded(
        store, tenant=tenant, retry_failed=retry_failed, ids=ids if not now else ()
    )
    running = find_running(store, tenant=tenant, skip=[i.id for i in items])
    if now:
        # Explicit: the user says the processes holding these are dead.
        items += running
        running = []
        if ids:
            items = _select(items, ids)
    report = RecoverReport(items, dry_run, running)
    if dry_run:
        return report
    if runner is None:

        def runner(tenant_id: int, directive_id: str) -> Any:
            return run_directive(
                settings, store, tenant_id, directive_id, owner=default_owner("recover")
            )

    for item in items:
        if on_item is not None:
            on_item(item)
        try:
            if item.reason == "failed":
                reopen_for_retry(store, item.tenant_id, item.id, actor=settings.actor)
            elif item.reason in ("running", "waiting"):
                with store.session() as s:
                    repo.break_lease(s, item.tenant_id, item.id)
            outcome = runner(item.tenant_id, item.id)
            item.outcome, item.error = outcome.status, outcome.error
        except FleetPromptError as error:
            item.outcome, item.error = "skipped", str(error)
        with store.session(readonly=True) as s:
            directive = repo.get_directive(s, item.tenant_id, item.id)
            item.status, item.attempts = directive.status, directive.attempts
            item.error_kind = directive.error_kind
        if item.outcome == "failed":
            item.exit_code = exit_code_of(item.error_kind)
    return report
