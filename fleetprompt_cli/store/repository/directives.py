"""Directives (the command log) and their ordered steps.

Which moves a step or directive may make is decided in
:mod:`fleetprompt_cli.core.lifecycle`, beside the installation state machine.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from fleetprompt_cli.core import lifecycle
from fleetprompt_cli.core.names import canonical_slug
from fleetprompt_cli.errors import InvalidInput, NotFound, StateError
from fleetprompt_cli.store.models import DIRECTIVE_KINDS, STEP_ACTIONS, Directive, DirectiveStep
from fleetprompt_cli.store.records import StepSpec
from fleetprompt_cli.store.repository._common import _lease_now, _now


def create_directive(
    session: Session,
    tenant_id: int,
    *,
    actor: str,
    kind: str,
    command: str = "",
    arguments: dict[str, Any] | None = None,
    plan: dict[str, Any] | None = None,
    steps: Sequence[StepSpec] = (),
    atomic: bool = False,
    now: datetime | None = None,
) -> Directive:
    """Write a directive and its ordered steps (in the caller's transaction)."""
    if kind not in DIRECTIVE_KINDS:
        raise InvalidInput(f"unknown directive kind {kind!r}")
    now = _lease_now(session, now)  # The claim grace is measured from it.
    directive = Directive(
        tenant_id=tenant_id,
        actor=actor,
        created_at=now,
        kind=kind,
        command=command,
        arguments=dict(arguments or {}),
        plan=dict(plan or {}),
        atomic=atomic,
    )
    session.add(directive)
    session.flush()
    for position, spec in enumerate(steps):
        if spec.action not in STEP_ACTIONS:
            raise InvalidInput(f"unknown step action {spec.action!r}")
        session.add(
            DirectiveStep(
                tenant_id=tenant_id,
                directive_id=directive.id,
                position=position,
                slug=canonical_slug(spec.slug),
                version=spec.version,
                action=spec.action,
                installation_id=spec.installation_id,
            )
        )
    session.flush()
    return directive


def get_directive(session: Session, tenant_id: int, directive_id: str) -> Directive:
    """One of the tenant's directives, or NotFound."""
    directive = session.exec(
        select(Directive)
        .where(Directive.tenant_id == tenant_id, Directive.id == directive_id)
        .execution_options(populate_existing=True)
    ).first()
    if directive is None:
        raise NotFound(f"no directive {directive_id} in this tenant", details={"id": directive_id})
    return directive


def list_directives(
    session: Session,
    tenant_id: int,
    *,
    status: str | Sequence[str] | None = None,
    limit: int | None = None,
) -> list[Directive]:
    """The tenant's command log, newest first."""
    query = select(Directive).where(Directive.tenant_id == tenant_id)
    if status is not None:
        wanted = [status] if isinstance(status, str) else list(status)
        query = query.where(col(Directive.status).in_(wanted))
    query = query.order_by(col(Directive.created_at).desc(), col(Directive.id))
    if limit is not None:
        query = query.limit(limit)
    return list(session.exec(query))


def leaving_slugs(session: Session, tenant_id: int) -> set[str]:
    """The slugs an open directive's open ``uninstall`` step is to remove (one query).

    An uninstall changes no row until its step starts, so planning reads
    these steps; one join instead of a query per open directive.
    """
    open_statuses = list(lifecycle.DIRECTIVE_OPEN_STATUSES)
    rows = session.exec(
        select(DirectiveStep.slug)
        .join(
            Directive,
            (col(Directive.id) == col(DirectiveStep.directive_id))
            & (col(Directive.tenant_id) == col(DirectiveStep.tenant_id)),
        )
        .where(
            col(DirectiveStep.tenant_id) == tenant_id,
            col(DirectiveStep.action) == "uninstall",
            col(DirectiveStep.status).in_(open_statuses),
            col(Directive.status).in_(open_statuses),
        )
    )
    return set(rows)


def find_directives(
    session: Session, tenant_id: int, prefix: str, *, limit: int = 10
) -> list[Directive]:
    """The tenant's directives whose id starts with ``prefix`` (at most ``limit``)."""
    # Ids are lower-case UUIDs; escape LIKE's wildcards so "_" matches itself.
    pattern = prefix.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return list(
        session.exec(
            select(Directive)
            .where(
                Directive.tenant_id == tenant_id,
                col(Directive.id).like(pattern + "%", escape="\\"),
            )
            .order_by(col(Directive.id))
            .limit(limit)
        )
    )


def list_steps(session: Session, tenant_id: int, directive_id: str) -> list[DirectiveStep]:
    """A directive's steps in order."""
    return list(
        session.exec(
            select(DirectiveStep)
            .where(DirectiveStep.tenant_id == tenant_id, DirectiveStep.directive_id == directive_id)
            .order_by(col(DirectiveStep.position))
            .execution_options(populate_existing=True)
        )
    )


def update_step(
    session: Session,
    tenant_id: int,
    step_id: int,
    status: str,
    *,
    error_message: str | None = None,
    installation_id: int | None = None,
    now: datetime | None = None,
) -> DirectiveStep:
    """Move a step to ``status`` (counting an attempt each time it starts running)."""
    now = _now(now)
    step = session.exec(
        select(DirectiveStep)
        .where(DirectiveStep.tenant_id == tenant_id, DirectiveStep.id == step_id)
        .with_for_update()
    ).first()
    if step is None:
        raise NotFound(f"no directive step {step_id} in this tenant")
    if not lifecycle.step_move_allowed(step.status, status):
        raise StateError(
            f"cannot move step {step.position} ({step.slug}) from {step.status} to {status}",
            details={"step": step_id, "status": step.status, "to": status},
        )
    if status == "running":
        step.attempts += 1
        step.started_at = step.started_at or now
        step.finished_at = None
    elif status == "pending":
        step.finished_at = None
        if step.status in lifecycle.STEP_REOPENED_FROM:
            # A fresh start: it has neither tried nor changed anything yet
            # (installation_id names what a done step changed).
            step.attempts = 0
            step.installation_id = None
    else:
        step.finished_at = now
    step.status = status
    step.error_message = error_message
    if installation_id is not None:
        step.installation_id = installation_id
    session.add(step)
    session.flush()
    return step


def finish_directive(
    session: Session,
    tenant_id: int,
    directive_id: str,
    status: str,
    *,
    error: str | None = None,
    error_kind: str | None = None,
    now: datetime | None = None,
) -> Directive:
    """Mark a directive succeeded, failed or cancelled and drop its lease."""
    if status not in lifecycle.DIRECTIVE_FINISHED_STATUSES:
        raise ValueError(
            f"a directive finishes as {', '.join(lifecycle.DIRECTIVE_FINISHED_STATUSES)}"
        )
    directive = get_directive(session, tenant_id, directive_id)
    if directive.status not in lifecycle.DIRECTIVE_OPEN_STATUSES:
        raise StateError(f"directive {directive_id} is already {directive.status}")
    directive.status = status
    directive.error = error
    directive.error_kind = error_kind
    directive.finished_at = _now(now)
    directive.lease_owner = None
    directive.lease_expires_at = None
    session.add(directive)
    session.flush()
    return directive


def reopen_directive(session: Session, tenant_id: int, directive_id: str) -> Directive:
    """Put a failed directive back to pending so it can be retried (``recover``)."""
    directive = get_directive(session, tenant_id, directive_id)
    if directive.status != "failed":
        raise StateError(
            f"cannot retry directive {directive_id}: it is {directive.status} (retry needs failed)"
        )
    directive.status = "pending"
    directive.error = None
    directive.error_kind = None
    directive.finished_at = None
    directive.lease_owner = None
    directive.lease_expires_at = None
    session.add(directive)
    session.flush()
    return directive
