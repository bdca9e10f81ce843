"""Progress of a directive: its packages' rows, and following a worker that runs it.

:func:`follow` polls the store for a directive another process runs and
yields a :class:`FollowEvent` per poll; the CLI only draws them.  The last
event carries the outcome: the directive finished, or the runner's lease
lapsed (its process died) and the caller should take the directive over
(status ``busy``), rather than wait for a sweep.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from fleetprompt_cli.actions.directive_runner import RunOutcome, exit_code_of
from fleetprompt_cli.errors import ExitCode

if TYPE_CHECKING:
    from fleetprompt_cli.store.driverstore import DriverStore
    from fleetprompt_cli.store.engine import Store
    from fleetprompt_cli.store.models import Directive, DirectiveStep

__all__ = ["FINISHED", "FollowEvent", "StepRow", "follow", "planned_rows"]

FINISHED = ("succeeded", "failed", "cancelled")


@dataclass(frozen=True)
class StepRow:
    """One package of a directive as a progress display shows it."""

    slug: str
    version: str | None
    status: str
    message: str = ""


@dataclass(frozen=True)
class FollowEvent:
    """One poll of a followed directive; ``outcome`` is set on the last one."""

    rows: list[StepRow]
    outcome: RunOutcome | None = None


def _read(
    store: Store, tenant_id: int, directive_id: str
) -> tuple[Directive, list[DirectiveStep], datetime]:
    """The directive, its steps, and the database's clock (leases are measured with it)."""
    from fleetprompt_cli.store import repository as repo

    with store.session(readonly=True) as s:
        directive = repo.get_directive(s, tenant_id, directive_id)
        steps = repo.list_steps(s, tenant_id, directive_id)
        now = repo.database_now(s)
    return directive, steps, now


def planned_rows(store: Store | DriverStore, tenant_id: int, directive_id: str) -> list[StepRow]:
    """Each package of the directive, ``queued``: the board before a run starts.

    Read with the fast reader's SQL on one of the store's connections (the
    inline install then imports no ORM before it runs).
    """
    from fleetprompt_cli.store import fastread
    from fleetprompt_cli.store.submit_sql import pooled_reader

    with pooled_reader(store) as reader:
        steps = fastread.list_steps(reader, tenant_id, directive_id)
    return [StepRow(step.slug, step.version, "queued") for step in steps]


def follow(
    store: Store,
    tenant_id: int,
    directive_id: str,
    interval: float = 0.5,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[FollowEvent]:
    """Poll a directive another process runs until it finishes or its lease lapses."""
    while True:
        directive, steps, now = _read(store, tenant_id, directive_id)
        rows = [StepRow(s.slug, s.version, s.status, s.error_message or "") for s in steps]
        if directive.status in FINISHED:
            # A failed directive exits as it did for the process that ran it.
            codes = {"succeeded": ExitCode.SUCCESS, "failed": exit_code_of(directive.error_kind)}
            code = codes.get(directive.status, ExitCode.FAILURE)
            yield FollowEvent(
                rows, RunOutcome(directive_id, directive.status, directive.error, code)
            )
            return
        expires = directive.lease_expires_at
        if expires is not None and expires <= now:
            # The runner died (its lease lapsed): the caller takes it over.
            yield FollowEvent(rows, RunOutcome(directive_id, "busy"))
            return
        yield FollowEvent(rows)
        sleep(interval)
