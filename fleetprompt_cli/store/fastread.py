"""The fast read path: the state store read with the plain drivers, no ORM.

Read commands (``list``, ``status``, ``history``, ``directives``,
``signals``, ``tenant list``, ``db status``, ``show``) and a no-op
``install`` answer from here without importing sqlmodel, SQLAlchemy or
alembic (~450 ms of imports before the first row): SQLite through the stdlib
``sqlite3``, PostgreSQL through libpq itself (``store/libpq.py``, ctypes: no
``import psycopg``, which alone costs ~130 ms), or through ``psycopg`` when no
libpq can be loaded.

A :class:`Reader` is one read-only connection holding one snapshot
(SQLite ``BEGIN`` on a ``mode=ro`` file; PostgreSQL ``REPEATABLE READ``,
``READ ONLY``), opened from the URL the settings give.  Opening it checks
the schema revision first, every time: a store that is missing, empty, or at
another revision than :data:`~fleetprompt_cli.store.schema_head.SCHEMA_HEAD`
raises :class:`Fallback`, and the caller takes the ORM path, which creates,
migrates or refuses it exactly as it always did (the same message and exit
code).  A reader never half-reads another schema.

The functions below mirror the repository functions of the same names
(``store/repository/``): same arguments after the first (a Reader instead of
a Session), same filters and order, rows with the same attribute names, so
the use cases in ``actions/`` run one body over either.  Only columns that
exist at SCHEMA_HEAD are read; a migration that adds a column adds it to the
row type and the SELECT here (each table's columns are listed once, in
``_COLUMNS``).  All SQL is parameterized.
"""

from __future__ import annotations

import json
import sqlite3
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple, TypeVar
from urllib.parse import unquote, urlsplit, urlunsplit

from fleetprompt_cli.core.names import canonical_slug
from fleetprompt_cli.errors import NotFound, StoreUnavailable
from fleetprompt_cli.store.schema_head import (
    SCHEMA_HEAD,
    VERSION_TABLE,
    known_revisions,
    refusal,
)

__all__ = [
    "DEFAULT_TENANT",
    "SCHEMA_HEAD",
    "DirectiveRow",
    "Fallback",
    "InstallationRow",
    "Reader",
    "ResourceRow",
    "RevisionRow",
    "SignalRow",
    "StepRow",
    "TenantRow",
    "find_directives",
    "get_tenant",
    "installed",
    "latest_installation",
    "leaving_slugs",
    "list_directives",
    "list_installations",
    "list_resources",
    "list_revisions",
    "list_signals",
    "list_steps",
    "list_tenants",
    "live_installation",
    "open_reader",
    "read_installation",
    "reader",
    "resource_counts",
    "saved_id",
    "schema_revision",
    "tenant_installation_counts",
]

DEFAULT_TENANT = "default"
# Installations in these statuses are history rows (core.lifecycle.FINISHED_STATUSES).
_FINISHED = ("cancelled", "uninstalled")
_CONNECT_TIMEOUT = 10


class Fallback(Exception):
    """The fast reader cannot answer: take the ORM path (which creates, migrates or refuses).

    ``state`` says why: ``missing`` (no SQLite file), ``empty`` (no version
    table), ``older``/``newer``/``unversioned`` (another schema),
    ``unreadable`` (the driver could not open or read it), ``no-tenant``
    (the default tenant is created on first use, a write).
    """

    def __init__(self, state: str, current: str | None = None, detail: str | None = None) -> None:
        super().__init__(state)
        self.state = state
        self.current = current
        # Why the store could not be read (``unreadable``), as the driver said it.
        self.detail = detail


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


# -- rows ---------------------------------------------------------------------

# Rows are named tuples rather than frozen dataclasses: a dataclass builds its
# methods with exec() at import, ~9 ms for these eight on every read command.


class TenantRow(NamedTuple):
    """A tenant."""

    id: int
    slug: str
    tier: str
    created_at: datetime | None


class InstallationRow(NamedTuple):
    """An installation (live, or a history row)."""

    id: int
    tenant_id: int
    slug: str
    version: str | None
    revision: int
    pending_version: str | None
    status: str
    config: dict[str, Any]
    requested: bool
    error_message: str | None
    installed_at: datetime | None


class ResourceRow(NamedTuple):
    """An installed resource, without its definition and content."""

    id: int
    installation_id: int
    kind: str
    name: str


class DirectiveRow(NamedTuple):
    """A directive of the command log (without its plan)."""

    id: str
    tenant_id: int
    actor: str
    created_at: datetime
    kind: str
    command: str
    arguments: dict[str, Any]
    status: str
    lease_owner: str | None
    lease_expires_at: datetime | None
    attempts: int
    error: str | None
    error_kind: str | None
    finished_at: datetime | None


class StepRow(NamedTuple):
    """One step of a directive."""

    id: int
    directive_id: str
    position: int
    slug: str
    version: str | None
    action: str
    installation_id: int | None
    status: str
    attempts: int
    error_message: str | None
    started_at: datetime | None
    finished_at: datetime | None


class RevisionRow(NamedTuple):
    """One recorded change of an installation."""

    id: int
    installation_id: int
    directive_id: str | None
    actor: str
    at: datetime
    transition: str
    from_status: str | None
    to_status: str
    from_version: str | None
    to_version: str | None
    config_diff: dict[str, Any] | None


class ReleaseRow(NamedTuple):
    """One numbered revision of a package (its snapshot's resources as stored)."""

    slug: str
    number: int
    at: datetime
    action: str
    status: str
    version: str | None
    previous_version: str | None
    config: dict[str, Any]
    config_diff: dict[str, Any] | None
    actor: str
    directive_id: str | None
    rollback_to: int | None
    sha256: str | None
    resources: list[Any]
    error: str | None


class SignalRow(NamedTuple):
    """One persisted signal (every column of its envelope)."""

    sequence: int
    id: str
    specversion: str
    type: str
    source: str
    subject: str | None
    time: datetime
    datacontenttype: str
    data: Any
    correlation_id: str | None
    causation_id: str | None


_Row = TypeVar("_Row")
# How each column is decoded: SQLite keeps times as naive UTC text, JSON as
# text and booleans as 0/1; libpq.py and psycopg return them typed already.
_TIMES = {
    "created_at",
    "installed_at",
    "lease_expires_at",
    "finished_at",
    "started_at",
    "at",
    "time",
}
_JSONS = {"config", "arguments", "config_diff", "data", "resources"}
_BOOLS = {"requested"}
_COLUMNS: dict[type, str] = {
    row_type: ", ".join(row_type._fields)
    for row_type in (
        TenantRow,
        InstallationRow,
        ResourceRow,
        DirectiveRow,
        StepRow,
        RevisionRow,
        ReleaseRow,
        SignalRow,
    )
}


def _time(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


# -- the connection ------------------------------------------------------------


class Reader:
    """One read-only connection to the state store, in one snapshot."""

    def __init__(self, connection: Any, backend: str, where: str, *, libpq: bool = False) -> None:
        self._connection = connection
        self.backend = backend
        self.where = where
        # A store/libpq.py connection (``$1`` placeholders, rows decoded already).
        self._libpq = libpq

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run one parameterized SELECT (``?`` placeholders) and return its rows."""
        try:
            if self._libpq:
                return self._connection.execute(_numbered(sql), params)
            if self.backend == "postgresql":
                sql = sql.replace("%", "%%").replace("?", "%s")
            return list(self._connection.execute(sql, tuple(params)).fetchall())
        except Exception as exc:
            if not _is_driver_error(exc):
                raise
            raise self._unavailable(exc) from None

    def load(
        self, row_type: type[_Row], sql_after_select: str, params: Sequence[Any] = ()
    ) -> list[_Row]:
        """Rows of ``row_type`` (its fields are the selected columns, in order)."""
        names = row_type._fields  # type: ignore[attr-defined]
        sql = f"SELECT {_COLUMNS[row_type]} {sql_after_select}"
        sqlite = self.backend == "sqlite"
        out = []
        for raw in self.rows(sql, params):
            values = {}
            for name, value in zip(names, raw, strict=True):
                if name in _TIMES:
                    value = _time(value)
                elif name in _JSONS and sqlite and value is not None:
                    value = json.loads(value)
                elif name in _BOOLS:
                    value = bool(value)
                values[name] = value
            out.append(row_type(**values))
        return out

    def _unavailable(self, exc: BaseException) -> StoreUnavailable:
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        detail = lines[0] if lines else type(exc).__name__
        if self.backend == "sqlite":
            return StoreUnavailable(f"cannot use the state store {self.where}: {detail}")
        return StoreUnavailable(f"cannot use the state store at {self.where}: {detail}")

    def close(self) -> None:
        """End the snapshot and close the connection."""
        if not self._libpq:
            # libpq's close ends the transaction with the session (no round trip).
            with suppress(Exception):
                self._connection.rollback()
        self._connection.close()

    def __enter__(self) -> Reader:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _numbered(sql: str) -> str:
    # ``?`` placeholders as libpq's ``$1, $2...`` (no query here has a literal ``?``).
    parts = sql.split("?")
    return "".join(f"{part}${n}" for n, part in enumerate(parts[:-1], 1)) + parts[-1]


def _is_driver_error(exc: BaseException) -> bool:
    if isinstance(exc, sqlite3.Error):
        return True
    # Drivers are imported only when a PostgreSQL store is opened.
    for module, error in (("fleetprompt_cli.store.libpq", "Error"), ("psycopg", "Error")):
        loaded = sys.modules.get(module)
        if loaded is not None and isinstance(exc, getattr(loaded, error)):
            return True
    return False


def _sqlite_path(url: str) -> Path:
    # sqlite:///relative/path and sqlite:////absolute/path, as SQLAlchemy reads them.
    rest = url.split(":", 1)[1]
    if not rest.startswith("///") or len(rest) == 3:
        raise Fallback("unreadable")  # the ORM path names the bad URL
    return Path(unquote(rest[3:].split("?", 1)[0]))


def _safe_pg(url: str) -> str:
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        user, _, host = netloc.rpartition("@")
        if ":" in user:
            user = user.split(":", 1)[0] + ":***"
        netloc = f"{user}@{host}"
    return urlunsplit(parts._replace(netloc=netloc))


def _connect(url: str) -> Reader:
    scheme = url.split(":", 1)[0].lower()
    backend, _, driver = scheme.partition("+")
    if backend == "sqlite" and driver in ("", "pysqlite"):
        path = _sqlite_path(url)
        if str(path) == ":memory:" or str(path).startswith("file:"):
            raise Fallback("unreadable")
        if not path.is_file():
            raise Fallback("missing")
        try:
            connection = sqlite3.connect(
                f"{path.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None, timeout=30
            )
            # One snapshot for every query of the command (WAL: no writer waits on it).
            connection.execute("BEGIN")
        except sqlite3.Error as exc:
            raise Fallback("unreadable", detail=_first_line(exc)) from None
        return Reader(connection, "sqlite", str(path))
    if backend in ("postgresql", "postgres") and driver in ("", "psycopg"):
        from fleetprompt_cli.store import libpq

        conninfo = urlunsplit(("postgresql", *urlsplit(url)[1:]))
        try:
            connection = _libpq_snapshot(conninfo)
        except libpq.Unavailable:
            return Reader(_psycopg_snapshot(conninfo), "postgresql", _safe_pg(url))
        except libpq.Error as exc:
            raise Fallback("unreadable", detail=_first_line(exc)) from None
        return Reader(connection, "postgresql", _safe_pg(url), libpq=True)
    raise Fallback("unreadable")


def _libpq_snapshot(conninfo: str) -> Any:
    from fleetprompt_cli.store import libpq

    connection = libpq.Connection(conninfo, connect_timeout=_CONNECT_TIMEOUT)
    try:
        # One snapshot for every query of the command, as psycopg's
        # REPEATABLE READ, READ ONLY transaction below.
        connection.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
    except BaseException:
        connection.close()
        raise
    return connection


def _psycopg_snapshot(conninfo: str) -> Any:
    try:
        import psycopg
    except ImportError:
        raise Fallback("unreadable") from None
    try:
        pg = psycopg.connect(conninfo, connect_timeout=_CONNECT_TIMEOUT)
        pg.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        pg.read_only = True
    except (psycopg.Error, ValueError) as exc:
        raise Fallback("unreadable", detail=_first_line(exc)) from None
    return pg


def _revision(reader: Reader) -> str | None:
    if reader.backend == "sqlite":
        found = reader.rows(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name = ?", (VERSION_TABLE,)
        )
    else:
        found = reader.rows("SELECT to_regclass(?)::text", (VERSION_TABLE,))
        found = [row for row in found if row[0] is not None]
    if not found:
        return None
    rows = reader.rows(f"SELECT version_num FROM {VERSION_TABLE}")
    return ",".join(sorted(row[0] for row in rows)) if rows else None


def _classify(current: str | None) -> str:
    if current == SCHEMA_HEAD:
        return "current"
    if current is None:
        return "empty"
    return "older" if current in known_revisions() else "newer"


def open_reader(url: str) -> Reader:
    """A Reader on a store at SCHEMA_HEAD, or :class:`Fallback` (see the module doc)."""
    reader = _connect(url)
    try:
        try:
            current = _revision(reader)
        except StoreUnavailable as exc:
            raise Fallback("unreadable", detail=exc.message.rsplit(": ", 1)[-1]) from None
        state = _classify(current)
        if state != "current":
            raise Fallback(state, current)
    except BaseException:
        reader.close()
        raise
    return reader


@contextmanager
def reader(url: str) -> Iterator[Reader]:
    """``open_reader`` as a context manager that closes it."""
    opened = open_reader(url)
    try:
        yield opened
    finally:
        opened.close()


def schema_revision(url: str) -> str:
    """The store's revision when it is SCHEMA_HEAD; else :class:`Fallback`."""
    with reader(url):
        return SCHEMA_HEAD


def saved_id(row: Any) -> int:
    """A row's primary key (the repository's ``saved_id`` for fast rows)."""
    return int(row.id)


def _marks(values: Sequence[Any]) -> str:
    return ", ".join("?" for _ in values)


# -- tenants ------------------------------------------------------------------


def get_tenant(r: Reader, slug: str) -> TenantRow:
    """The tenant named ``slug``; NotFound as the repository says it, or
    Fallback(``no-tenant``) for the default tenant, created on first use."""
    found = r.load(TenantRow, "FROM tenants WHERE slug = ?", (slug,))
    if found:
        return found[0]
    if slug == DEFAULT_TENANT:
        raise Fallback("no-tenant")
    raise NotFound(
        f"unknown tenant {slug!r}: create it with 'fleetprompt tenant create {slug}'",
        details={"tenant": slug},
    )


def list_tenants(r: Reader) -> list[TenantRow]:
    """Every tenant, by slug."""
    return r.load(TenantRow, "FROM tenants ORDER BY slug")


def tenant_installation_counts(r: Reader) -> dict[int, int]:
    """Per tenant id, how many live installations it has."""
    rows = r.rows(
        f"SELECT tenant_id, COUNT(*) FROM installations WHERE status NOT IN ({_marks(_FINISHED)})"
        " GROUP BY tenant_id",
        _FINISHED,
    )
    return {int(tenant_id): int(count) for tenant_id, count in rows}


# -- installations and resources ---------------------------------------------


def list_installations(
    r: Reader, tenant_id: int, *, include_finished: bool = False
) -> list[InstallationRow]:
    """The tenant's live installations by slug (with finished history rows if asked)."""
    where = "FROM installations WHERE tenant_id = ?"
    params: list[Any] = [tenant_id]
    if not include_finished:
        where += f" AND status NOT IN ({_marks(_FINISHED)})"
        params += _FINISHED
    return r.load(InstallationRow, where + " ORDER BY slug, id", params)


def live_installation(r: Reader, tenant_id: int, slug: str) -> InstallationRow | None:
    """The tenant's live installation of ``slug``, or None."""
    found = r.load(
        InstallationRow,
        f"FROM installations WHERE tenant_id = ? AND slug = ? AND status NOT IN "
        f"({_marks(_FINISHED)})",
        (tenant_id, canonical_slug(slug), *_FINISHED),
    )
    return found[0] if found else None


def latest_installation(r: Reader, tenant_id: int, slug: str) -> InstallationRow | None:
    """The tenant's live row of ``slug``, else its newest finished (history) row, or None."""
    live = live_installation(r, tenant_id, slug)
    if live is not None:
        return live
    found = r.load(
        InstallationRow,
        "FROM installations WHERE tenant_id = ? AND slug = ? ORDER BY id DESC LIMIT 1",
        (tenant_id, canonical_slug(slug)),
    )
    return found[0] if found else None


def resource_counts(r: Reader, tenant_id: int) -> dict[int, dict[str, int]]:
    """Per installation id, how many resources of each kind it has."""
    counts: dict[int, dict[str, int]] = {}
    rows = r.rows(
        "SELECT installation_id, kind, COUNT(*) FROM installed_resources WHERE tenant_id = ?"
        " GROUP BY installation_id, kind",
        (tenant_id,),
    )
    for installation_id, kind, count in rows:
        counts.setdefault(installation_id, {})[kind] = count
    return counts


def list_resources(
    r: Reader, tenant_id: int, *, installation_id: int | None = None
) -> list[ResourceRow]:
    """The tenant's installed resources (of one installation, if given)."""
    where = "FROM installed_resources WHERE tenant_id = ?"
    params: list[Any] = [tenant_id]
    if installation_id is not None:
        where += " AND installation_id = ?"
        params.append(installation_id)
    return r.load(ResourceRow, where + " ORDER BY installation_id, kind, name", params)


def list_revisions(r: Reader, tenant_id: int, *, slug: str | None = None) -> list[RevisionRow]:
    """The tenant's recorded changes, oldest first (one package's, with ``slug``)."""
    columns = ", ".join(f"v.{name}" for name in _COLUMNS[RevisionRow].split(", "))
    if slug is None:
        return r.load(RevisionRow, "FROM revisions WHERE tenant_id = ? ORDER BY id", (tenant_id,))
    sql = (
        "FROM revisions v JOIN installations i"
        " ON i.id = v.installation_id AND i.tenant_id = v.tenant_id"
        " WHERE v.tenant_id = ? AND i.slug = ? ORDER BY v.id"
    )
    # The join needs qualified columns: load() selects _COLUMNS, so select here.
    raw = r.rows(f"SELECT {columns} {sql}", (tenant_id, canonical_slug(slug)))
    return [_revision_row(r, row) for row in raw]


def list_releases(r: Reader, tenant_id: int, slug: str) -> list[ReleaseRow]:
    """The tenant's numbered revisions of ``slug``, oldest (1) first."""
    return r.load(
        ReleaseRow,
        "FROM releases WHERE tenant_id = ? AND slug = ? ORDER BY number",
        (tenant_id, canonical_slug(slug)),
    )


def _revision_row(r: Reader, raw: tuple[Any, ...]) -> RevisionRow:
    names = RevisionRow._fields
    values = dict(zip(names, raw, strict=True))
    values["at"] = _time(values["at"])
    if r.backend == "sqlite" and values["config_diff"] is not None:
        values["config_diff"] = json.loads(values["config_diff"])
    return RevisionRow(**values)


# -- directives and signals ---------------------------------------------------


def list_directives(
    r: Reader,
    tenant_id: int,
    *,
    status: str | Sequence[str] | None = None,
    limit: int | None = None,
) -> list[DirectiveRow]:
    """The tenant's command log, newest first."""
    where = "FROM directives WHERE tenant_id = ?"
    params: list[Any] = [tenant_id]
    if status is not None:
        wanted = [status] if isinstance(status, str) else list(status)
        where += f" AND status IN ({_marks(wanted)})"
        params += wanted
    where += " ORDER BY created_at DESC, id"
    if limit is not None:
        where += " LIMIT ?"
        params.append(limit)
    return r.load(DirectiveRow, where, params)


def find_directives(
    r: Reader, tenant_id: int, prefix: str, *, limit: int = 10
) -> list[DirectiveRow]:
    """The tenant's directives whose id starts with ``prefix`` (at most ``limit``)."""
    pattern = prefix.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return r.load(
        DirectiveRow,
        "FROM directives WHERE tenant_id = ? AND id LIKE ? ESCAPE '\\' ORDER BY id LIMIT ?",
        (tenant_id, pattern + "%", limit),
    )


def list_steps(r: Reader, tenant_id: int, directive_id: str) -> list[StepRow]:
    """A directive's steps in order."""
    return r.load(
        StepRow,
        "FROM directive_steps WHERE tenant_id = ? AND directive_id = ? ORDER BY position",
        (tenant_id, directive_id),
    )


def leaving_slugs(r: Reader, tenant_id: int) -> set[str]:
    """The slugs an open directive's open ``uninstall`` step is to remove (as the repository's)."""
    rows = r.rows(
        "SELECT s.slug FROM directive_steps s JOIN directives d"
        " ON d.id = s.directive_id AND d.tenant_id = s.tenant_id"
        " WHERE s.tenant_id = ? AND s.action = 'uninstall'"
        " AND s.status IN ('pending', 'running') AND d.status IN ('pending', 'running')",
        (tenant_id,),
    )
    return {row[0] for row in rows}


def list_signals(
    r: Reader,
    tenant_id: int,
    *,
    after: int = 0,
    limit: int | None = None,
    correlation_id: str | None = None,
    type_pattern: str | None = None,
) -> list[SignalRow]:
    """The tenant's signals with a sequence above ``after``, in order.

    ``type_pattern`` is a type, or a prefix ending in ``.*`` (as the
    repository's ``type_filter``: LIKE with the prefix escaped).
    """
    where = "FROM signals WHERE tenant_id = ? AND sequence > ?"
    params: list[Any] = [tenant_id, after]
    if correlation_id is not None:
        where += " AND correlation_id = ?"
        params.append(correlation_id)
    if type_pattern is not None and type_pattern.endswith(".*"):
        prefix = type_pattern[:-1]
        escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        where += " AND type LIKE ? ESCAPE '\\'"
        params.append(escaped + "%")
    elif type_pattern is not None:
        where += " AND type = ?"
        params.append(type_pattern)
    where += " ORDER BY sequence"
    if limit is not None:
        where += " LIMIT ?"
        params.append(limit)
    return r.load(SignalRow, where, params)


# -- for other use cases -------------------------------------------------------


def installed(url: str, tenant: str) -> list[InstallationRow]:
    """The tenant's live installations (slug, version, status, config, pending_version,
    requested...), by slug; Fallback when only the ORM path can answer."""
    with reader(url) as r:
        return list_installations(r, saved_id(get_tenant(r, tenant)))


def read_installation(url: str, tenant: str, slug: str) -> tuple[str | None, str] | None:
    """(version, status) of the tenant's live installation of ``slug``, or None.

    For ``show``, which never creates or migrates a store: a store that does
    not exist yet (or has no such tenant) has no installation, and one at
    another schema revision is refused with the ORM path's message.
    """
    try:
        r = open_reader(url)
    except Fallback as fallback:
        if fallback.state in ("older", "newer"):
            raise refusal(fallback.state, fallback.current, SCHEMA_HEAD, _where(url)) from None
        if fallback.state == "unreadable":
            detail = f": {fallback.detail}" if fallback.detail else ""
            raise StoreUnavailable(f"cannot read the state store {_where(url)}{detail}") from None
        return None  # missing or empty: nothing installed yet
    with r:
        found = r.load(TenantRow, "FROM tenants WHERE slug = ?", (tenant,))
        if not found:
            return None
        row = live_installation(r, found[0].id, slug)
        return None if row is None else (row.version, row.status)


def _where(url: str) -> str:
    # As the ORM engine names the store in its refusal: the URL, password hidden.
    return url if url.split(":", 1)[0].lower().startswith("sqlite") else _safe_pg(url)
