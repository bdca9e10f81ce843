"""The installer's common case in few statements: claim a directive, install a fresh package.

Most directives a worker runs are a first install of a package: one step,
an installation row that is ``queued``, no resources or subscriptions yet.
The general runner moves such a step through four transactions and some
forty ORM statements (claim, mark running, start the transition, write the
result).  This module does the same in two transactions of SQL written out
once per dialect and run on the driver's own cursor (no statement
compilation, no ORM objects; psycopg prepares them on the server after a
few runs, and on PostgreSQL each batch of statements that does not wait for
a result goes out in one pipeline):

* :func:`claim_and_read`: the conditional claim ``UPDATE ... RETURNING`` the
  directive, its steps, and, when its first open step is such an install
  and its installation is still fresh, the step marked ``running``
  (counting the attempt, as the general runner does in a transaction of its
  own: an attempt whose process dies counts).
* :func:`install_fresh`: after the caller renewed the lease
  (:func:`renew_lease`) in the same transaction, the installation row
  locked and re-checked, the resources, both lifecycle transitions with
  their audit rows, the package counters, the numbered revision, the
  package's subscribers, the step done, the ``installed`` signal and the
  directive's end.
* :func:`start_fresh`: a later install step of the same directive marked
  ``running`` as the claim marks the first.

It writes exactly the rows the general path writes (``tests/store/
test_install_step.py`` compares every column of every table the two paths
leave behind).  Anything unusual is not its business: the caller falls
back to the general runner, and a re-check that fails under the lock raises
:class:`NotFresh`, which the runner treats as a failed attempt (retried
through the general path).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from fleetprompt_cli.core import lifecycle
from fleetprompt_cli.core.configs import config_changes
from fleetprompt_cli.core.names import canonical_slug
from fleetprompt_cli.core.vocab import RESOURCE_KINDS
from fleetprompt_cli.errors import FleetPromptError
from fleetprompt_cli.store.drivertx import DriverTx, unavailable
from fleetprompt_cli.store.records import utcnow

__all__ = [
    "Claimed",
    "FreshInstall",
    "NotFresh",
    "claim",
    "claim_and_read",
    "install_fresh",
    "renew_lease",
    "start_fresh",
    "startable",
]


class NotFresh(FleetPromptError):
    """The step's installation changed between the claim and the write (a race)."""

    kind = "changed"


@dataclass
class Claimed:
    """A claimed directive, its steps, and the id of a step marked running for the fast path.

    The directive and steps are plain records with the attributes the
    runner reads (the ORM rows' names), not ORM objects.
    """

    directive: Any
    steps: list[Any]
    fast_step: int | None


@dataclass(frozen=True)
class FreshInstall:
    """What :func:`install_fresh` writes for one step (the runner works it out)."""

    step_id: int
    slug: str
    version: str
    resources: list[tuple[str, str, dict[str, Any], str | None]]
    manifest: dict[str, Any] | None
    sha256: str | None
    actor: str
    release_action: str
    signal_type: str
    signal_source: str
    signal_data: dict[str, Any]
    finishing: bool
    # The manifest's subscribers: (handler, handler kind, signal type patterns).
    subscriptions: tuple[tuple[str, str, tuple[str, ...]], ...] = ()


def _quoted(values: Any) -> str:
    return ", ".join(f"'{v}'" for v in sorted(values))


_OPEN = _quoted(lifecycle.DIRECTIVE_OPEN_STATUSES)
_FINISHED = _quoted(lifecycle.FINISHED_STATUSES)

# Written for SQLite (:name parameters); PostgreSQL's copies are derived
# below.  {now} and {expires} are the lease clock: bound values on SQLite
# (this host's clock, as database_now), the server's clock on PostgreSQL.
_SQL = {
    "claim": f"""
UPDATE directives SET status = 'running', lease_owner = :owner,
  lease_expires_at = {{expires}}, heartbeat_at = {{now}},
  attempts = CASE WHEN lease_owner = :owner AND lease_expires_at > {{now}}
                  THEN attempts ELSE attempts + 1 END
WHERE tenant_id = :tenant AND id = :id AND status IN ({_OPEN})
  AND (lease_owner IS NULL OR lease_expires_at <= {{now}} OR lease_owner = :owner)
RETURNING id, tenant_id, actor, kind, plan, atomic, status, attempts""",
    "beat": f"""
UPDATE directives SET lease_expires_at = {{expires}}, heartbeat_at = {{now}}
WHERE tenant_id = :tenant AND id = :id AND lease_owner = :owner AND status IN ({_OPEN})""",
    "steps": """
SELECT id, position, slug, version, action, status, attempts, installation_id
FROM directive_steps WHERE tenant_id = :tenant AND directive_id = :id ORDER BY position""",
    # The live row of (tenant, slug), what was written for it, and whether
    # the tenant has a subscriber at all (then the worker dispatches).
    "installation": f"""
SELECT i.id, i.status, i.version, i.pending_version, i.pending_config, i.config,
  (SELECT count(*) FROM installed_resources r
    WHERE r.tenant_id = i.tenant_id AND r.installation_id = i.id) AS resource_count,
  (SELECT count(*) FROM subscriptions s
    WHERE s.tenant_id = i.tenant_id AND s.installation_id = i.id) AS subscription_count,
  (SELECT count(*) FROM subscriptions s
    WHERE s.tenant_id = i.tenant_id AND s.status = 'active') AS subscribers
FROM installations i
WHERE i.tenant_id = :tenant AND i.slug = :slug AND i.status NOT IN ({_FINISHED})
{{lock}}""",
    # The step, if its installation is fresh: queued at the step's version
    # with nothing written for it yet (install_fresh checks the same again).
    "mark_running": f"""
UPDATE directive_steps SET status = 'running', attempts = 1,
  started_at = COALESCE(started_at, :now), finished_at = NULL, error_message = NULL
WHERE id = :step AND status = 'pending' AND attempts = 0 AND EXISTS (
  SELECT 1 FROM installations i
  WHERE i.tenant_id = :tenant AND i.slug = :slug AND i.status = '{lifecycle.QUEUED}'
    AND i.pending_version = :version
    AND NOT EXISTS (SELECT 1 FROM installed_resources r
                    WHERE r.tenant_id = i.tenant_id AND r.installation_id = i.id)
    AND NOT EXISTS (SELECT 1 FROM subscriptions s
                    WHERE s.tenant_id = i.tenant_id AND s.installation_id = i.id))""",
    "resource": """
INSERT INTO installed_resources
  (tenant_id, installation_id, kind, name, definition, content, created_at, updated_at)
VALUES (:tenant, :installation, :kind, :name, {definition}, :content, :now, :now)""",
    "installed": f"""
UPDATE installations SET version = :version, revision = :revision, config = {{config}},
  pending_version = NULL, pending_config = {{json_null}}, error_message = NULL,
  installed_at = :now, previous_status = '{lifecycle.INSTALLING}',
  status = '{lifecycle.ACTIVE}', updated_at = :now
WHERE id = :installation""",
    "revision": """
INSERT INTO revisions (tenant_id, installation_id, directive_id, actor, at, transition,
  from_status, to_status, from_version, to_version, config_diff)
VALUES (:tenant, :installation, :directive, :actor, :now, :transition,
  :from_status, :to_status, :from_version, :to_version, {config_diff})""",
    "stats": """
INSERT INTO package_stats (slug, install_count, active_install_count, rating_sum, rating_count)
VALUES (:slug, 1, 1, 0, 0)
ON CONFLICT (slug) DO UPDATE SET
  install_count = package_stats.install_count + excluded.install_count,
  active_install_count = package_stats.active_install_count + excluded.active_install_count,
  rating_sum = package_stats.rating_sum + excluded.rating_sum,
  rating_count = package_stats.rating_count + excluded.rating_count""",
    "releases": """
SELECT id, number, status, version, config FROM releases
WHERE tenant_id = :tenant AND slug = :slug AND (status = 'deployed' OR number =
  (SELECT max(number) FROM releases WHERE tenant_id = :tenant AND slug = :slug))""",
    "supersede": "UPDATE releases SET status = 'superseded' WHERE id = :release",
    "release": """
INSERT INTO releases (tenant_id, slug, number, installation_id, directive_id, actor, at,
  action, status, version, previous_version, rollback_to, config, config_diff, sha256,
  manifest, resources, error)
VALUES (:tenant, :slug, :number, :installation, :directive, :actor, :now,
  :action, 'deployed', :version, :previous_version, NULL, {config}, {config_diff}, :sha256,
  {manifest}, {resources}, NULL)""",
    # A fresh installation's subscribers (as repository.replace_subscriptions
    # writes them): each starts after the tenant's latest signal, read here,
    # before this step's own signal is numbered.
    "subscription": """
INSERT INTO subscriptions (tenant_id, installation_id, slug, name, handler_kind, handler,
  patterns, status, "offset", generation, created_at, updated_at)
VALUES (:tenant, :installation, :slug, :name, :handler_kind, :handler, {patterns}, 'active',
  COALESCE((SELECT signal_sequence FROM tenant_counters WHERE tenant_id = :tenant), 0), 1,
  :now, :now)""",
    "step_done": """
UPDATE directive_steps SET status = 'done', error_message = NULL,
  installation_id = :installation, finished_at = :now
WHERE id = :step""",
    "next_sequence": """
UPDATE tenant_counters SET signal_sequence = signal_sequence + 1
WHERE tenant_id = :tenant RETURNING signal_sequence""",
    "counter": """
INSERT INTO tenant_counters (tenant_id, signal_sequence) VALUES (:tenant, 0)
ON CONFLICT (tenant_id) DO NOTHING""",
    "signal": """
INSERT INTO signals (tenant_id, sequence, id, specversion, type, source, subject, time,
  datacontenttype, data, correlation_id, causation_id)
VALUES (:tenant, :sequence, :signal_id, '1.0', :type, :source, :subject, :now,
  'application/json', {data}, :directive, :directive)""",
    # PostgreSQL only: the sequence and the signal in one statement, so that
    # the whole write goes out in one pipeline (no result is waited for).
    "signal_with_sequence": """
WITH seq AS (UPDATE tenant_counters SET signal_sequence = signal_sequence + 1
  WHERE tenant_id = :tenant RETURNING signal_sequence)
INSERT INTO signals (tenant_id, sequence, id, specversion, type, source, subject, time,
  datacontenttype, data, correlation_id, causation_id)
SELECT :tenant, seq.signal_sequence, :signal_id, '1.0', :type, :source, :subject, :now,
  'application/json', {data}, :directive, :directive FROM seq""",
    "finish": f"""
UPDATE directives SET status = 'succeeded', error = NULL, error_kind = NULL,
  finished_at = :now, lease_owner = NULL, lease_expires_at = NULL
WHERE id = :directive AND status IN ({_OPEN})""",
}

_JSON_COLUMNS = (
    "definition",
    "config",
    "config_diff",
    "manifest",
    "resources",
    "data",
    "patterns",
)
# A JSON column set to None holds JSON null, not SQL NULL, as the ORM writes it
# (SQLAlchemy's JSON type with none_as_null=False).


def _dialect_sql(dialect: str) -> dict[str, str]:
    if dialect == "postgresql":
        fill = {name: f"CAST(:{name} AS jsonb)" for name in _JSON_COLUMNS}
        fill.update(
            json_null="CAST('null' AS jsonb)",
            now="CURRENT_TIMESTAMP",
            expires="CURRENT_TIMESTAMP + make_interval(secs => :seconds)",
            lock="FOR UPDATE OF i",
        )
    else:
        fill = {name: f":{name}" for name in _JSON_COLUMNS}
        fill.update(json_null="'null'", now=":lease_now", expires=":expires", lock="")
    statements = {}
    for key, text in _SQL.items():
        statements[key] = _paramstyle(dialect, text.format(**fill))
    # The lease statements at a clock the caller gives (tests, and
    # repository.claim_directive/heartbeat with ``now``), on either backend.
    for key in ("claim", "beat"):
        bound = {**fill, "now": ":lease_now", "expires": ":expires"}
        statements[f"{key}@now"] = _paramstyle(dialect, _SQL[key].format(**bound))
    return statements


def _paramstyle(dialect: str, text: str) -> str:
    text = " ".join(text.split())
    if dialect == "postgresql":
        text = re.sub(r"(?<!:):([a-z_][a-z0-9_]*)", r"%(\1)s", text)
    return text


_STATEMENTS = {name: _dialect_sql(name) for name in ("sqlite", "postgresql")}


class _Cursor:
    """The driver's cursor in the caller's transaction, with the dialect's value forms.

    SQLite stores times as naive UTC text and JSON as text, exactly as the
    ORM's column types write them; psycopg takes aware datetimes and JSON
    text cast to jsonb.  A driver error that means the store is gone or
    locked is raised as :class:`StoreUnavailable` (as on the ORM path);
    any other passes through.
    """

    def __init__(self, tx: DriverTx) -> None:
        self.tx = tx
        self.sqlite = tx.sqlite
        self.sql = _STATEMENTS["sqlite" if self.sqlite else "postgresql"]
        self.dbapi = tx.driver
        self.cursor = tx.driver.cursor()
        # A second result set, read at the same time as the first (pipelines).
        self.other = tx.driver.cursor()

    @contextmanager
    def pipelined(self) -> Iterator[None]:
        """On PostgreSQL, send the block's statements without waiting for each result.

        psycopg's pipeline mode: one round trip for the block, results (and
        errors) arrive when one is read or when the block ends.  SQLite runs
        in this process: nothing to save.
        """
        if self.sqlite:
            yield
            return
        try:
            with self.dbapi.pipeline():
                yield
        except Exception as error:
            raise self._mapped(error) from None

    def _mapped(self, error: Exception) -> Exception:
        mapped = unavailable(error, self.tx)
        return error if mapped is None else mapped

    def time(self, value: datetime) -> Any:
        if self.sqlite:
            return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        return value

    def json_in(self, value: Any) -> Any:
        # SQLite gives JSON columns back as text; psycopg parses jsonb itself.
        return json.loads(value) if self.sqlite and value is not None else value

    def run(
        self,
        name: str,
        params: dict[str, Any],
        *,
        many: list[dict[str, Any]] | None = None,
        on: Any = None,
    ) -> Any:
        sql = self.sql[name]
        cursor = self.cursor if on is None else on
        try:
            if many is not None:
                cursor.executemany(sql, many)
            else:
                cursor.execute(sql, params)
        except Exception as error:
            raise self._mapped(error) from None
        return cursor

    def close(self) -> None:
        self.cursor.close()
        self.other.close()


def _lease_clock(
    cursor: _Cursor, lease_seconds: float, now: datetime | None = None
) -> tuple[str, dict[str, Any]]:
    """The suffix of the lease statements to run and their clock's bound values.

    SQLite reads this host's clock (as ``database_now``, at SQLite's
    millisecond precision), PostgreSQL its own inside the statement; a
    ``now`` the caller gives is bound on either.
    """
    if now is None and not cursor.sqlite:
        return "", {"seconds": float(lease_seconds)}
    if now is None:
        now = datetime.now(UTC)
        now = now.replace(microsecond=now.microsecond // 1000 * 1000)
    return "@now", {
        "lease_now": cursor.time(now),
        "expires": cursor.time(now + timedelta(seconds=lease_seconds)),
    }


def _fresh(row: Any, version: str) -> bool:
    """A first install waiting for its worker: queued, nothing written for it yet."""
    return (
        row is not None
        and row[1] == lifecycle.QUEUED
        and row[3] == version
        and row[6] == 0
        and row[7] == 0
    )


def claim_and_read(
    tx: DriverTx,
    tenant_id: int,
    directive_id: str,
    owner: str,
    *,
    lease_seconds: float,
    fast: Any = None,
) -> Claimed | None:
    """Claim the lease of an open directive and read it with its steps; None if taken.

    The claim is ``repository.claim_directive``'s conditional UPDATE (an
    owner re-claiming its live lease renews it without counting an attempt).
    ``fast(directive, step)`` says whether a pending step may take the fast
    path (the caller's rules: its plan, its kind); if the first open step
    may, its installation is fresh (:func:`install_fresh`'s precondition)
    and it has never run, it is marked running here, counting its attempt.
    """
    cursor = _Cursor(tx)
    try:
        params = {"tenant": tenant_id, "id": directive_id, "owner": owner}
        suffix, clock = _lease_clock(cursor, lease_seconds)
        with cursor.pipelined():
            claimed = cursor.run("claim" + suffix, {**params, **clock})
            listed = cursor.run("steps", params, on=cursor.other)
            row = claimed.fetchone()
            step_rows = listed.fetchall()
        if row is None:
            return None
        directive = SimpleNamespace(
            id=row[0],
            tenant_id=row[1],
            actor=row[2],
            kind=row[3],
            plan=cursor.json_in(row[4]),
            atomic=bool(row[5]),
            status=row[6],
            attempts=row[7],
        )
        steps = [
            SimpleNamespace(
                id=r[0],
                tenant_id=tenant_id,
                directive_id=directive_id,
                position=r[1],
                slug=r[2],
                version=r[3],
                action=r[4],
                status=r[5],
                attempts=r[6],
                installation_id=r[7],
            )
            for r in step_rows
        ]
        open_steps = [s for s in steps if s.status not in ("done", "cancelled", "undone")]
        first = open_steps[0] if open_steps else None
        if first is None or not startable(first) or fast is None or not fast(directive, first):
            return Claimed(directive, steps, None)
        if not _mark_running(cursor, tenant_id, first):
            return Claimed(directive, steps, None)  # Not a fresh installation.
        first.status, first.attempts = "running", 1
        return Claimed(directive, steps, first.id)
    finally:
        cursor.close()


def claim(
    tx: DriverTx,
    tenant_id: int,
    directive_id: str,
    owner: str,
    *,
    lease_seconds: float,
    now: datetime | None = None,
) -> bool:
    """Take the lease on an open directive if it is free or expired (``claim_directive``).

    The same conditional UPDATE as :func:`claim_and_read`'s, without the reads.
    """
    return _lease(tx, "claim", tenant_id, directive_id, owner, lease_seconds, now)


def renew_lease(
    tx: DriverTx,
    tenant_id: int,
    directive_id: str,
    owner: str,
    *,
    lease_seconds: float,
    now: datetime | None = None,
) -> bool:
    """Extend ``owner``'s lease (``repository.heartbeat``); False if it lost it."""
    return _lease(tx, "beat", tenant_id, directive_id, owner, lease_seconds, now)


def _lease(
    tx: DriverTx,
    statement: str,
    tenant_id: int,
    directive_id: str,
    owner: str,
    lease_seconds: float,
    now: datetime | None,
) -> bool:
    """Run a lease statement (``claim`` or ``beat``); whether it changed the directive."""
    cursor = _Cursor(tx)
    try:
        suffix, clock = _lease_clock(cursor, lease_seconds, now)
        params = {"tenant": tenant_id, "id": directive_id, "owner": owner, **clock}
        done = cursor.run(statement + suffix, params)
        # The claim RETURNs its row (SQLite counts such rows only once read).
        return done.fetchone() is not None if statement == "claim" else done.rowcount == 1
    finally:
        cursor.close()


def start_fresh(
    tx: DriverTx,
    tenant_id: int,
    directive_id: str,
    owner: str,
    step: Any,
    *,
    lease_seconds: float,
) -> bool | None:
    """Mark a later pending install step running, as :func:`claim_and_read` marks the first.

    In one transaction: the lease renewed (None when it was lost), then the
    step marked running, counting its attempt, if it never ran and its
    installation is fresh (True); False when it is not (the general path
    runs it).
    """
    if not renew_lease(tx, tenant_id, directive_id, owner, lease_seconds=lease_seconds):
        return None
    cursor = _Cursor(tx)
    try:
        return _mark_running(cursor, tenant_id, step)
    finally:
        cursor.close()


def startable(step: Any) -> bool:
    """Whether a step may start on the fast path: an install that never ran."""
    return step.status == "pending" and step.attempts == 0 and step.action == "install"


def _mark_running(cursor: _Cursor, tenant_id: int, step: Any) -> bool:
    """Mark ``step`` running, counting its attempt, if its installation is fresh."""
    marked = cursor.run(
        "mark_running",
        {
            "step": step.id,
            "now": cursor.time(utcnow()),
            "tenant": tenant_id,
            "slug": canonical_slug(step.slug),
            "version": step.version,
        },
    )
    return bool(marked.rowcount == 1)


def _dumps(value: Any) -> str:
    # As SQLAlchemy's JSON type writes a value (None is JSON null).
    return json.dumps(value)


def install_fresh(
    tx: DriverTx,
    tenant_id: int,
    directive_id: str,
    work: FreshInstall,
    *,
    checkpoint: Any = None,
) -> bool:
    """Write a fresh install's result in the caller's transaction; whether the tenant has
    active subscribers (who then want the new signal delivered).

    The caller renewed the lease in this transaction first.  Raises
    :class:`NotFresh` when the installation is no longer a fresh queued row
    (nothing is written then: the caller's transaction rolls back).
    ``checkpoint(name)`` is called after the resources are written
    (``resource-written``), for the fault hooks.
    """
    for kind, _, _, _ in work.resources:
        if kind not in RESOURCE_KINDS:
            raise FleetPromptError(f"unknown resource kind {kind!r}")
    slug = canonical_slug(work.slug)
    cursor = _Cursor(tx)
    try:
        with cursor.pipelined():
            found = cursor.run("installation", {"tenant": tenant_id, "slug": slug})
            releases = cursor.run("releases", {"tenant": tenant_id, "slug": slug}, on=cursor.other)
            row = found.fetchone()
            seen = releases.fetchall()
        if not _fresh(row, work.version):
            raise NotFresh(f"{slug}: its installation changed while the step was starting")
        installation_id = row[0]
        pending_config = cursor.json_in(row[4])
        old_config = dict(cursor.json_in(row[5]) or {})
        config = dict(pending_config) if pending_config is not None else old_config
        now = cursor.time(utcnow())
        base = {
            "tenant": tenant_id,
            "installation": installation_id,
            "directive": directive_id,
            "actor": work.actor,
            "now": now,
        }
        number = max((r[1] for r in seen), default=0) + 1
        deployed = next((r for r in seen if r[2] == "deployed"), None)
        with cursor.pipelined():
            _write(cursor, work, base, row, number, deployed, config, old_config, checkpoint)
        if not cursor.sqlite and cursor.other.rowcount != 1:
            # The tenant's first signal: its counter row, then the signal again.
            cursor.run("counter", {"tenant": tenant_id})
            cursor.run("signal_with_sequence", _signal(work, base), on=cursor.other)
        # The tenant has subscribers: some before, or this package's own.
        return bool(row[8]) or bool(work.subscriptions)
    finally:
        cursor.close()


def _signal(work: FreshInstall, base: dict[str, Any]) -> dict[str, Any]:
    return {
        "tenant": base["tenant"],
        "signal_id": str(uuid.uuid4()),
        "type": work.signal_type,
        "source": work.signal_source,
        "subject": canonical_slug(work.slug),
        "now": base["now"],
        "data": _dumps(work.signal_data),
        "directive": base["directive"],
    }


def _write(
    cursor: _Cursor,
    work: FreshInstall,
    base: dict[str, Any],
    row: Any,
    number: int,
    deployed: Any,
    config: dict[str, Any],
    old_config: dict[str, Any],
    checkpoint: Any,
) -> None:
    """Every write of a fresh install step, in order (one pipeline on PostgreSQL)."""
    tenant_id, installation_id, now = base["tenant"], base["installation"], base["now"]
    slug = canonical_slug(work.slug)
    version_before = row[2]
    if work.resources:
        cursor.run(
            "resource",
            {},
            many=[
                {
                    "tenant": tenant_id,
                    "installation": installation_id,
                    "kind": kind,
                    "name": name,
                    "definition": _dumps(dict(definition or {})),
                    "content": content,
                    "now": now,
                }
                for kind, name, definition, content in work.resources
            ],
        )
    if checkpoint is not None:
        checkpoint("resource-written")
    cursor.run(
        "installed",
        {
            "installation": installation_id,
            "version": work.version,
            "revision": number,
            "config": _dumps(config),
            "now": now,
        },
    )
    audit = {**base, "from_version": version_before}
    cursor.run(
        "revision",
        {},
        many=[
            {
                **audit,
                "transition": "start_install",
                "from_status": lifecycle.QUEUED,
                "to_status": lifecycle.INSTALLING,
                "to_version": version_before,
                "config_diff": _dumps(config_changes(old_config, old_config)),
            },
            {
                **audit,
                "transition": "complete_install",
                "from_status": lifecycle.INSTALLING,
                "to_status": lifecycle.ACTIVE,
                "to_version": work.version,
                "config_diff": _dumps(config_changes(old_config, config)),
            },
        ],
    )
    cursor.run("stats", {"slug": slug})
    if deployed is not None:
        cursor.run("supersede", {"release": deployed[0]})
    deployed_config = dict(cursor.json_in(deployed[4]) or {}) if deployed is not None else {}
    cursor.run(
        "release",
        {
            **base,
            "slug": slug,
            "number": number,
            "action": work.release_action,
            "version": work.version,
            "previous_version": deployed[3] if deployed is not None else None,
            "config": _dumps(config),
            "config_diff": _dumps(config_changes(deployed_config, config)),
            "sha256": work.sha256,
            "manifest": _dumps(work.manifest),
            "resources": _dumps(
                [
                    {
                        "kind": kind,
                        "name": name,
                        "definition": dict(definition or {}),
                        "content": text,
                    }
                    for kind, name, definition, text in work.resources
                ]
            ),
        },
    )
    if work.subscriptions:
        cursor.run(
            "subscription",
            {},
            many=[
                {
                    "tenant": tenant_id,
                    "installation": installation_id,
                    "slug": slug,
                    "name": f"{slug}:{handler}",
                    "handler_kind": kind,
                    "handler": handler,
                    "patterns": _dumps(list(patterns)),
                    "now": now,
                }
                for handler, kind, patterns in work.subscriptions
            ],
        )
    cursor.run("step_done", {"step": work.step_id, "installation": installation_id, "now": now})
    if cursor.sqlite:
        sequence = cursor.run("next_sequence", {"tenant": tenant_id}).fetchone()
        if sequence is None:
            # The tenant's first signal: its counter row (as repository.signals does).
            cursor.run("counter", {"tenant": tenant_id})
            sequence = cursor.run("next_sequence", {"tenant": tenant_id}).fetchone()
        cursor.run("signal", {**_signal(work, base), "sequence": sequence[0]})
    else:
        cursor.run("signal_with_sequence", _signal(work, base), on=cursor.other)
    if work.finishing:
        cursor.run("finish", {"directive": base["directive"], "now": now})
