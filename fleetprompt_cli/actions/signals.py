"""Signals end to end: publish, subscribe, deliver, replay (docs/signals.md).

* **Publishing**: :func:`emit` (a person's custom signal, never in the
  ``fleetprompt.`` namespace) and :func:`emit_package_event` (the installer
  and lifecycle changes, in the transaction of the change).
* **Subscriptions**: :func:`sync_subscriptions` registers an installation's
  manifest subscriptions (install, upgrade), :func:`pause_subscriptions` and
  :func:`remove_subscriptions` follow the package; all run inside the
  caller's transaction.
* **Delivery**: :func:`dispatch` hands pending signals to matching
  subscribers in sequence order, a batch per transaction (delivery rows and
  offsets together), at least once; handlers come from the entry-point group
  ``fleetprompt.handlers`` (one per resource kind).  A handler that fails
  ``FLEETPROMPT_SIGNAL_MAX_ATTEMPTS`` times dead-letters the delivery and the
  subscriber moves on.
* **Replay**: :func:`replay` starts a new generation from a sequence.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from fleetprompt_cli import faults
from fleetprompt_cli.actions.tenants import tenant_of
from fleetprompt_cli.errors import InvalidInput, NotFound, StateError, UsageError
from fleetprompt_cli.settings import Settings, signal_max_attempts

if TYPE_CHECKING:
    from types import ModuleType

    from fleetprompt_cli.actions.source import StateSource
    from fleetprompt_cli.store.driverstore import DriverStore
    from fleetprompt_cli.store.engine import Session, Store
    from fleetprompt_cli.store.models import Delivery, Signal, Subscription

__all__ = [
    "DEFAULT_BATCH",
    "HANDLER_GROUP",
    "MAX_BATCH",
    "MAX_LIMIT",
    "PACKAGE_EVENTS",
    "DeliveryInfo",
    "DispatchResult",
    "EmitResult",
    "SubscriptionInfo",
    "dead_letters",
    "deliveries",
    "dispatch",
    "dispatch_all",
    "emit",
    "emit_package_event",
    "event_of",
    "list_signals",
    "load_handlers",
    "notify",
    "pause_subscriptions",
    "remove_subscriptions",
    "replay",
    "retry",
    "subscription_specs",
    "subscriptions",
    "sync_subscriptions",
    "tail",
]

HANDLER_GROUP = "fleetprompt.handlers"
# Where the tool's own signals come from (CloudEvents ``source``).
INSTALLER_SOURCE = "fleetprompt/installer"
LIFECYCLE_SOURCE = "fleetprompt/lifecycle"
CLI_SOURCE = "fleetprompt/cli"
# What a package's lifecycle announces: fleetprompt.package.<event>.
PACKAGE_EVENTS = (
    "installed",
    "upgraded",
    "paused",
    "resumed",
    "uninstalled",
    "failed",
    "config_changed",
    "rolled_back",
)
DEFAULT_BATCH = 500
MAX_BATCH = 10_000
MAX_LIMIT = 100_000
_HANDLER_KINDS = ("agent", "workflow", "skill")
_ERROR_CHARS = 2000


# -- envelopes ---------------------------------------------------------------


def event_of(row: Any, tenant: str) -> dict[str, Any]:
    """A stored signal (model or plain row) in its CloudEvents JSON form."""
    from fleetprompt_cli.core import signals as core

    # No envelope model per row: reading the log imports no pydantic.
    return core.stored_cloudevent(row, tenant)


@dataclass(frozen=True)
class EmitResult:
    """A published signal and whether it was new (False: the same source + id was stored)."""

    event: dict[str, Any]
    created: bool
    warning: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"created": self.created, "signal": self.event}


def emit(
    settings: Settings,
    store: Store,
    tenant: str,
    type_: str,
    *,
    data: str | None = None,
    subject: str | None = None,
    actor: str = "",
    wake: bool = True,
) -> EmitResult:
    """Publish a custom signal: the grammar is checked, ``fleetprompt.`` is refused."""
    from fleetprompt_cli.core import signals as core
    from fleetprompt_cli.store import repository as repo

    core.check_type(type_)
    if core.is_reserved(type_):
        raise InvalidInput(
            f"signal type {type_!r} is in the reserved 'fleetprompt.' namespace: "
            "only fleetprompt itself publishes there",
            details={"field": "type", "value": type_},
        )
    if subject is not None and not 0 < len(subject) <= core.MAX_SUBJECT:
        raise InvalidInput(
            f"--subject must be 1 to {core.MAX_SUBJECT} characters", details={"field": "subject"}
        )
    value = core.parse_data(data) if data is not None else None
    tenant_id, tenant_name, _ = tenant_of(store, tenant)
    source = CLI_SOURCE + (f"/{actor}" if actor else "")
    with store.session() as s:
        row, created = repo.publish_signal(
            s, tenant_id, type_, source[: core.MAX_SOURCE], subject=subject, data=value
        )
        event = event_of(row, tenant_name)
    warning = _wake(settings, tenant_id) if wake else None
    return EmitResult(event, created, warning)


def _wake(settings: Settings, tenant_id: int) -> str | None:
    from fleetprompt_cli.queue import wake_dispatch

    return wake_dispatch(settings, tenant_id)


def emit_package_event(
    session: Session,
    tenant_id: int,
    event: str,
    slug: str,
    *,
    version: str | None = None,
    directive_id: str | None = None,
    action: str | None = None,
    data: dict[str, Any] | None = None,
    source: str = INSTALLER_SOURCE,
) -> Signal:
    """Append ``fleetprompt.package.<event>`` for ``slug`` in the caller's transaction.

    ``event`` is one of :data:`PACKAGE_EVENTS` (``rolled_back`` included: the
    rollback command calls this).  The signal's correlation and causation
    ids are the directive that made the change.
    """
    from fleetprompt_cli.store import repository as repo

    if event not in PACKAGE_EVENTS:
        raise ValueError(f"unknown package event {event!r}")
    payload: dict[str, Any] = {"slug": slug, "version": version}
    if action is not None:
        payload["action"] = action
    payload.update(data or {})
    return repo.append_signal(
        session,
        tenant_id,
        f"fleetprompt.package.{event}",
        source,
        subject=slug,
        data=payload,
        correlation_id=directive_id,
        causation_id=directive_id,
    )


# -- subscriptions -----------------------------------------------------------


def subscription_specs(manifest: dict[str, Any]) -> list[Any]:
    """The manifest's subscriptions grouped by handler, with each handler's kind."""
    from fleetprompt_cli.core import signals as core
    from fleetprompt_cli.store.records import SubscriptionSpec

    kinds: dict[str, str] = {}
    for kind in ("tools", "skills", "workflows", "agents"):  # agents win a shared name
        for item in manifest.get(kind) or []:
            if isinstance(item, dict) and isinstance(item.get("name"), str):
                kinds[item["name"]] = kind[:-1]
    patterns: dict[str, list[str]] = {}
    signals = manifest.get("signals") or {}
    for item in signals.get("subscribes") or [] if isinstance(signals, dict) else []:
        if not isinstance(item, dict):
            continue
        handler, pattern = item.get("handler"), item.get("type")
        if not isinstance(handler, str) or handler not in kinds or not isinstance(pattern, str):
            continue  # refused at validate/publish; never trusted here either
        try:
            core.check_pattern(pattern)
        except InvalidInput:
            continue
        seen = patterns.setdefault(handler, [])
        if pattern not in seen:
            seen.append(pattern)
    return [SubscriptionSpec(h, kinds[h], tuple(p)) for h, p in sorted(patterns.items())]


def sync_subscriptions(
    session: Session,
    tenant_id: int,
    installation_id: int,
    slug: str,
    manifest: dict[str, Any],
    *,
    paused: bool = False,
) -> None:
    """Register (install) or replace (upgrade) an installation's subscriptions."""
    from fleetprompt_cli.store import repository as repo

    repo.replace_subscriptions(
        session,
        tenant_id,
        installation_id,
        slug,
        subscription_specs(manifest),
        status="paused" if paused else "active",
    )


def pause_subscriptions(
    session: Session, tenant_id: int, installation_id: int, paused: bool
) -> None:
    """Pause (or resume) an installation's subscriptions with the package."""
    from fleetprompt_cli.store import repository as repo

    repo.set_subscriptions_status(
        session, tenant_id, installation_id, "paused" if paused else "active"
    )


def remove_subscriptions(session: Session, tenant_id: int, installation_id: int) -> None:
    """Remove an installation's subscriptions and their deliveries (uninstall)."""
    from fleetprompt_cli.store import repository as repo

    repo.delete_subscriptions(session, tenant_id, installation_id)


@dataclass(frozen=True)
class SubscriptionInfo:
    """A subscriber, where it is in the log and how much waits for it."""

    name: str
    slug: str
    handler_kind: str
    handler: str
    patterns: list[str]
    status: str
    offset: int
    generation: int
    pending: int

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "slug": self.slug,
            "handler_kind": self.handler_kind,
            "handler": self.handler,
            "patterns": self.patterns,
            "status": self.status,
            "offset": self.offset,
            "generation": self.generation,
            "pending": self.pending,
        }

    @classmethod
    def of(cls, s: Session, tenant_id: int, row: Subscription) -> SubscriptionInfo:
        """A stored subscription, with how many signals wait for it."""
        from fleetprompt_cli.store import repository as repo

        patterns = list(row.patterns)
        return cls(
            row.name,
            row.slug,
            row.handler_kind,
            row.handler,
            patterns,
            row.status,
            row.offset,
            row.generation,
            repo.count_signals(s, tenant_id, row.offset, patterns),
        )


def subscriptions(store: Store, tenant: str) -> tuple[str, list[SubscriptionInfo]]:
    """The tenant's subscribers with offset and pending count."""
    from fleetprompt_cli.store import repository as repo

    tenant_id, tenant_name, _ = tenant_of(store, tenant)
    with store.session(readonly=True) as s:
        rows = repo.list_subscriptions(s, tenant_id)
        return tenant_name, [SubscriptionInfo.of(s, tenant_id, row) for row in rows]


# -- reading -----------------------------------------------------------------


def list_signals(
    store: Store | StateSource,
    tenant: str,
    *,
    type_pattern: str | None = None,
    since: int = 0,
    limit: int | None = None,
) -> tuple[str, list[dict[str, Any]]]:
    """The tenant's signals after ``since`` (matching a type pattern), CloudEvents JSON."""
    from fleetprompt_cli.actions.state import read_tenant
    from fleetprompt_cli.core import signals as core

    if type_pattern is not None:
        core.check_pattern(type_pattern)

    def body(
        s: Any, repo: ModuleType, tenant_id: int, name: str, _tier: str
    ) -> tuple[str, list[dict[str, Any]]]:
        rows = repo.list_signals(s, tenant_id, after=since, limit=limit, type_pattern=type_pattern)
        return name, [event_of(r, name) for r in rows]

    # A read: through the fast reader (no ORM import) when it can answer.
    return read_tenant(store, tenant, body)


def tail(
    store: Store,
    tenant: str,
    *,
    type_pattern: str | None = None,
    since: int | None = None,
    limit: int | None = None,
    timeout: float | None = None,
    poll: float = 0.5,
    stop: threading.Event | None = None,
) -> Iterator[dict[str, Any]]:
    """Follow the tenant's signals: each new one as it is written (from ``since``).

    Without ``since`` it starts after the latest signal.  Ends after
    ``limit`` signals, after ``timeout`` seconds without reaching it, or
    when ``stop`` is set; otherwise it runs until interrupted.
    """
    from fleetprompt_cli.core import signals as core
    from fleetprompt_cli.store import repository as repo

    if type_pattern is not None:
        core.check_pattern(type_pattern)
    tenant_id, tenant_name, _ = tenant_of(store, tenant)
    if since is None:
        with store.session(readonly=True) as s:
            since = repo.last_sequence(s, tenant_id)
    stop = stop or threading.Event()
    deadline = None if timeout is None else time.monotonic() + timeout
    seen = 0
    while limit is None or seen < limit:
        with store.session(readonly=True) as s:
            # The log's end first: sequences commit in order, so every
            # signal up to it is committed and read below (matching or not,
            # a filter never reads that stretch again).
            top = repo.last_sequence(s, tenant_id)
            rows = repo.list_signals(
                s,
                tenant_id,
                after=since,
                limit=None if limit is None else limit - seen,
                type_pattern=type_pattern,
            )
            events = [event_of(r, tenant_name) for r in rows]
        for event in events:
            seen += 1
            yield event
        since = max([top, since, *(e["sequence"] for e in events)])
        if events:
            continue
        remaining = None if deadline is None else deadline - time.monotonic()
        if remaining is not None and remaining <= 0:
            return
        if stop.wait(poll if remaining is None else min(poll, remaining)):
            return


# -- handlers ----------------------------------------------------------------

Handler = Callable[[dict[str, Any], dict[str, Any]], Any]


def notify(event: dict[str, Any], subscriber: dict[str, Any]) -> dict[str, Any]:
    """The built-in handler: record a notification for the subscribed component.

    fleetprompt has no agent runtime, so "delivering" to an agent, workflow
    or skill means recording that it was notified; the delivery row keeps
    what this returns (``signals deliveries``).
    """
    return {
        "handler": "notification",
        "notified": f"{subscriber['kind']}:{subscriber['handler']}",
        "type": event["type"],
        "sequence": event["sequence"],
        "subject": event.get("subject"),
    }


_handlers_cache: dict[str, Handler] | None = None
_handlers_lock = threading.Lock()


def load_handlers(*, refresh: bool = False) -> dict[str, Handler]:
    """Handlers by resource kind from the ``fleetprompt.handlers`` entry points.

    An entry point is named after the resource kind it serves.  When another
    distribution registers a kind fleetprompt also serves, the other one
    wins (a plugin replaces the built-in notification); between several
    plugins for one kind, the first by distribution name.  An entry point
    that cannot be loaded is skipped (its kind falls back).
    """
    global _handlers_cache
    with _handlers_lock:
        if _handlers_cache is not None and not refresh:
            return _handlers_cache
        from importlib.metadata import entry_points

        found: dict[str, tuple[tuple[int, str], Handler]] = {}
        for point in entry_points(group=HANDLER_GROUP):
            dist = point.dist.name if point.dist is not None else ""
            rank = (1 if dist.lower() == "fleetprompt" else 0, dist.lower())
            if point.name in found and found[point.name][0] <= rank:
                continue
            try:
                loaded = point.load()
            except Exception:
                continue
            if callable(loaded):
                found[point.name] = (rank, loaded)
        handlers = {kind: handler for kind, (_, handler) in found.items()}
        for kind in _HANDLER_KINDS:
            handlers.setdefault(kind, notify)
        _handlers_cache = handlers
        return handlers


def _describe(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    line = f"{type(error).__name__}: {text[0]}" if text else type(error).__name__
    return line[:_ERROR_CHARS]


def _call(
    handlers: dict[str, Handler],
    event: dict[str, Any],
    subscriber: dict[str, Any],
    attempts: int,
) -> tuple[str, int, str | None, Any]:
    """Try the handler up to ``attempts`` times: (status, tries, error, result)."""
    handler = handlers.get(subscriber["kind"])
    if handler is None:
        return "dead", 1, f"no handler for resource kind {subscriber['kind']!r}", None
    error = None
    for attempt in range(1, attempts + 1):
        try:
            result = handler(event, subscriber)
            json.dumps(result, allow_nan=False)
            if result is not None and not isinstance(result, dict):
                result = {"result": result}
            return "delivered", attempt, None, result
        except Exception as exc:  # a handler is plugin code: any failure is its failure
            error = _describe(exc)
    return "dead", attempts, error, None


def _subscriber(sub: Subscription, tenant: str) -> dict[str, Any]:
    return {
        "tenant": tenant,
        "name": sub.name,
        "slug": sub.slug,
        "kind": sub.handler_kind,
        "handler": sub.handler,
        "generation": sub.generation,
    }


# -- delivery ----------------------------------------------------------------


@dataclass
class DispatchResult:
    """What a dispatch delivered, per tenant: counts by status and the batches it took."""

    tenants: dict[str, Counter] = field(default_factory=dict)
    batches: int = 0

    @property
    def delivered(self) -> int:
        return sum(c["delivered"] for c in self.tenants.values())

    @property
    def dead(self) -> int:
        return sum(c["dead"] for c in self.tenants.values())

    def to_json(self) -> dict[str, Any]:
        return {
            "delivered": self.delivered,
            "dead_lettered": self.dead,
            "batches": self.batches,
            "tenants": {
                name: {"delivered": c["delivered"], "dead_lettered": c["dead"]}
                for name, c in sorted(self.tenants.items())
            },
        }


def _dispatch_tenant(
    store: Store | DriverStore,
    tenant_id: int,
    tenant_name: str,
    result: DispatchResult,
    *,
    batch: int,
    max_attempts: int,
) -> None:
    from fleetprompt_cli.core import signals as core
    from fleetprompt_cli.store import repository as repo

    handlers = load_handlers()
    counts = result.tenants.setdefault(tenant_name, Counter())
    while True:
        with store.session() as s:
            subs = repo.lock_subscriptions(s, tenant_id)
            if not subs:
                return
            low = min(sub.offset for sub in subs)
            rows = repo.signal_rows(s, tenant_id, low, batch)
            if not rows:
                return
            events: dict[int, dict[str, Any]] = {}
            records: list[dict[str, Any]] = []
            offsets: dict[int, tuple[int, int]] = {}
            last = rows[-1].sequence
            batch_counts: Counter = Counter()
            for sub in subs:
                patterns = list(sub.patterns)
                subscriber = _subscriber(sub, tenant_name)
                sub_id = repo.saved_id(sub)
                for row in rows:
                    if row.sequence <= sub.offset or not core.matches_any(patterns, row.type):
                        continue
                    event = events.get(row.pk)
                    if event is None:
                        event = events[row.pk] = event_of(row, tenant_name)
                    status, tries, error, value = _call(handlers, event, subscriber, max_attempts)
                    records.append(
                        {
                            "tenant_id": tenant_id,
                            "subscription_id": sub_id,
                            "signal_pk": row.pk,
                            "sequence": row.sequence,
                            "generation": sub.generation,
                            "status": status,
                            "attempts": tries,
                            "error": error,
                            "result": value,
                        }
                    )
                    batch_counts[status] += 1
                if last > sub.offset:
                    offsets[sub_id] = (last, sub.generation)
            repo.record_deliveries(s, tenant_id, records)
            repo.set_subscription_offsets(s, tenant_id, offsets)
            faults.checkpoint("dispatch-before-commit")
        counts.update(batch_counts)
        result.batches += 1
        if len(rows) < batch:
            # Everything up to the log's end was read for every subscriber
            # that was behind: one more round only if the log grew meanwhile.
            with store.session(readonly=True) as s:
                if repo.last_sequence(s, tenant_id) <= last:
                    return


def dispatch(
    store: Store,
    tenant: str,
    *,
    batch: int = DEFAULT_BATCH,
    max_attempts: int | None = None,
) -> DispatchResult:
    """Deliver the tenant's pending signals to its active subscribers."""
    if not 1 <= batch <= MAX_BATCH:
        raise UsageError(f"--batch must be from 1 to {MAX_BATCH}, not {batch}")
    tenant_id, tenant_name, _ = tenant_of(store, tenant)
    result = DispatchResult()
    _dispatch_tenant(
        store,
        tenant_id,
        tenant_name,
        result,
        batch=batch,
        max_attempts=max_attempts or signal_max_attempts(),
    )
    return result


def dispatch_tenant_id(store: Store | DriverStore, tenant_id: int) -> DispatchResult:
    """Dispatch one tenant by id (a worker's wake-up)."""
    from fleetprompt_cli.store.models import Tenant

    with store.session(readonly=True) as s:
        row = s.get(Tenant, tenant_id)
        if row is None:
            return DispatchResult()
        name = row.slug
    result = DispatchResult()
    _dispatch_tenant(
        store, tenant_id, name, result, batch=DEFAULT_BATCH, max_attempts=signal_max_attempts()
    )
    return result


def dispatch_all(store: Store | DriverStore) -> DispatchResult:
    """Dispatch every tenant that has an active subscriber (a worker's sweep)."""
    from fleetprompt_cli.store import repository as repo

    with store.session(readonly=True) as s:
        # Only tenants with an active subscriber have anything to deliver (a
        # write transaction per tenant, every sweep, would cost a store of
        # many tenants dearly).
        tenants = repo.subscribed_tenants(s)
    result = DispatchResult()
    attempts = signal_max_attempts()
    for tenant_id, name in tenants:
        assert tenant_id is not None
        _dispatch_tenant(store, tenant_id, name, result, batch=DEFAULT_BATCH, max_attempts=attempts)
    return result


# -- deliveries, dead letters, retry, replay -------------------------------------


@dataclass(frozen=True)
class DeliveryInfo:
    """One delivery: which subscriber got which signal, in which generation, how it went."""

    id: int
    subscriber: str
    sequence: int
    type: str
    generation: int
    status: str
    attempts: int
    error: str | None
    result: Any
    at: datetime

    def to_json(self) -> dict[str, Any]:
        from fleetprompt_cli.actions.inspecting import _iso

        return {
            "id": self.id,
            "subscriber": self.subscriber,
            "sequence": self.sequence,
            "type": self.type,
            "generation": self.generation,
            "status": self.status,
            "attempts": self.attempts,
            "error": self.error,
            "result": self.result,
            "updated_at": _iso(self.at),
        }


def _delivery_infos(s: Session, tenant_id: int, rows: list[Delivery]) -> list[DeliveryInfo]:
    from fleetprompt_cli.store import repository as repo

    if not rows:
        return []
    names, types = repo.delivery_labels(s, tenant_id, rows)
    return [
        DeliveryInfo(
            r.id or 0,
            names.get(r.subscription_id, "?"),
            r.sequence,
            types.get(r.signal_pk, "?"),
            r.generation,
            r.status,
            r.attempts,
            r.error,
            r.result,
            r.updated_at,
        )
        for r in rows
    ]


def deliveries(
    store: Store,
    tenant: str,
    *,
    subscriber: str | None = None,
    status: str | None = None,
    limit: int | None = None,
) -> tuple[str, list[DeliveryInfo]]:
    """The tenant's deliveries (of one subscriber), oldest first."""
    from fleetprompt_cli.store import repository as repo

    tenant_id, tenant_name, _ = tenant_of(store, tenant)
    with store.session(readonly=True) as s:
        subscription_id = None
        if subscriber is not None:
            subscription_id = repo.find_subscription(s, tenant_id, subscriber).id
        rows = repo.list_deliveries(
            s, tenant_id, subscription_id=subscription_id, status=status, limit=limit
        )
        return tenant_name, _delivery_infos(s, tenant_id, rows)


def dead_letters(store: Store, tenant: str) -> tuple[str, list[DeliveryInfo]]:
    """Deliveries whose handler kept failing: listable, retryable."""
    return deliveries(store, tenant, status="dead")


def retry(store: Store, tenant: str, delivery_id: int) -> DeliveryInfo:
    """Run a dead letter's handler again, once; it is delivered or stays dead."""
    from fleetprompt_cli.store import repository as repo
    from fleetprompt_cli.store.models import Signal, Subscription

    tenant_id, tenant_name, _ = tenant_of(store, tenant)
    with store.session() as s:
        row = repo.get_delivery(s, tenant_id, delivery_id, for_update=True)
        if row.status != "dead":
            raise StateError(
                f"delivery {delivery_id} is {row.status}: only dead letters can be retried",
                details={"id": delivery_id, "status": row.status},
            )
        sub = s.get(Subscription, row.subscription_id)
        signal = s.get(Signal, row.signal_pk)
        if sub is None or signal is None or sub.tenant_id != tenant_id:
            raise NotFound(f"no delivery {delivery_id} in this tenant")
        status, _, error, value = _call(
            load_handlers(), event_of(signal, tenant_name), _subscriber(sub, tenant_name), 1
        )
        repo.update_delivery(
            s, tenant_id, row, status=status, attempts=row.attempts + 1, error=error, result=value
        )
        return _delivery_infos(s, tenant_id, [row])[0]


def replay(store: Store, tenant: str, subscriber: str, from_sequence: int) -> SubscriptionInfo:
    """Re-deliver to a subscriber from ``from_sequence`` on, as a new generation."""
    from fleetprompt_cli.store import repository as repo

    if from_sequence < 1:
        raise UsageError("--from must be a sequence number of 1 or more")
    tenant_id, _, _ = tenant_of(store, tenant)
    with store.session() as s:
        row = repo.find_subscription(s, tenant_id, subscriber, for_update=True)
        row.generation += 1
        row.offset = from_sequence - 1
        s.add(row)
        s.flush()
        return SubscriptionInfo.of(s, tenant_id, row)
