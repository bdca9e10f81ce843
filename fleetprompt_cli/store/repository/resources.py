"""Installed resources: what an installation wrote, keyed by kind and name."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, or_
from sqlmodel import Session, col, select

from fleetprompt_cli.errors import InvalidInput
from fleetprompt_cli.store.models import RESOURCE_KINDS, InstalledResource
from fleetprompt_cli.store.repository._common import _insert, _now
from fleetprompt_cli.store.repository.installations import get_installation_by_id

_TABLE = InstalledResource.__table__  # type: ignore[attr-defined]
# The bulk upsert, built once per dialect (building ``excluded`` costs more
# than running the statement): a write that changes nothing is skipped.
_UPSERTS: dict[str, Any] = {}


def _upsert(session: Session) -> Any:
    dialect = session.get_bind().dialect.name
    stmt = _UPSERTS.get(dialect)
    if stmt is None:
        stmt = _insert(session)(_TABLE)
        excluded = stmt.excluded
        stmt = stmt.on_conflict_do_update(
            index_elements=["tenant_id", "installation_id", "kind", "name"],
            set_={
                "definition": excluded.definition,
                "content": excluded.content,
                "updated_at": excluded.updated_at,
            },
            where=or_(
                _TABLE.c.definition != excluded.definition,
                _TABLE.c.content.is_distinct_from(excluded.content),
            ),
        )
        _UPSERTS[dialect] = stmt
    return stmt


def put_resources(
    session: Session,
    tenant_id: int,
    installation_id: int,
    resources: Iterable[tuple[str, str, dict[str, Any] | None, str | None]],
    *,
    now: datetime | None = None,
) -> int:
    """Make an installation's resources exactly ``(kind, name, definition, content)``.

    One executemany upsert and one DELETE (Core statements, no ORM objects),
    so a step's write costs the same few round trips whatever the package
    holds.  Idempotent: a re-run changes no row (nor its ``updated_at``).
    Returns how many resources it removed.
    """
    now = _now(now)
    rows = []
    keep = set()
    for kind, name, definition, content in resources:
        if kind not in RESOURCE_KINDS:
            raise InvalidInput(
                f"unknown resource kind {kind!r}: expected {', '.join(RESOURCE_KINDS)}"
            )
        keep.add((kind, name))
        rows.append(
            {
                "tenant_id": tenant_id,
                "installation_id": installation_id,
                "kind": kind,
                "name": name,
                "definition": dict(definition or {}),
                "content": content,
                "created_at": now,
                "updated_at": now,
            }
        )
    # A clear NotFound instead of a foreign-key error for a wrong tenant.
    get_installation_by_id(session, tenant_id, installation_id)
    connection = session.connection()
    if rows:
        connection.execute(_upsert(session), rows)
    stale = [
        row.id
        for row in connection.execute(
            select(_TABLE.c.id, _TABLE.c.kind, _TABLE.c.name).where(
                _TABLE.c.tenant_id == tenant_id, _TABLE.c.installation_id == installation_id
            )
        )
        if (row.kind, row.name) not in keep
    ]
    if stale:
        connection.execute(delete(_TABLE).where(_TABLE.c.id.in_(stale)))
    return len(stale)


def upsert_resource(
    session: Session,
    tenant_id: int,
    installation_id: int,
    kind: str,
    name: str,
    *,
    definition: dict[str, Any] | None = None,
    content: str | None = None,
    now: datetime | None = None,
) -> InstalledResource:
    """Write a resource keyed by (tenant, installation, kind, name); a repeat changes nothing."""
    if kind not in RESOURCE_KINDS:
        raise InvalidInput(f"unknown resource kind {kind!r}: expected {', '.join(RESOURCE_KINDS)}")
    # A clear NotFound instead of a foreign-key error for a wrong tenant.
    get_installation_by_id(session, tenant_id, installation_id)
    now = _now(now)
    insert = _insert(session)
    stmt = insert(InstalledResource).values(
        tenant_id=tenant_id,
        installation_id=installation_id,
        kind=kind,
        name=name,
        definition=dict(definition or {}),
        content=content,
        created_at=now,
        updated_at=now,
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["tenant_id", "installation_id", "kind", "name"],
        set_={
            "definition": stmt.excluded.definition,
            "content": stmt.excluded.content,
            "updated_at": stmt.excluded.updated_at,
        },
        # Only touch the row (and updated_at) when something differs, so that
        # re-running a step is a true no-op.
        where=or_(
            InstalledResource.definition != stmt.excluded.definition,
            col(InstalledResource.content).is_distinct_from(stmt.excluded.content),
        ),
    )
    session.exec(stmt)
    resource = session.exec(
        select(InstalledResource)
        .where(
            InstalledResource.tenant_id == tenant_id,
            InstalledResource.installation_id == installation_id,
            InstalledResource.kind == kind,
            InstalledResource.name == name,
        )
        .execution_options(populate_existing=True)
    ).one()
    return resource


def list_resources(
    session: Session,
    tenant_id: int,
    *,
    installation_id: int | None = None,
    kind: str | None = None,
) -> list[InstalledResource]:
    """The tenant's installed resources (of one installation or kind, if given)."""
    query = select(InstalledResource).where(InstalledResource.tenant_id == tenant_id)
    if installation_id is not None:
        query = query.where(InstalledResource.installation_id == installation_id)
    if kind is not None:
        query = query.where(InstalledResource.kind == kind)
    order = (
        col(InstalledResource.installation_id),
        col(InstalledResource.kind),
        col(InstalledResource.name),
    )
    return list(session.exec(query.order_by(*order)))


def delete_resources(
    session: Session,
    tenant_id: int,
    installation_id: int,
    *,
    keep: Iterable[tuple[str, str]] = (),
) -> int:
    """Delete an installation's resources except the (kind, name) pairs in ``keep``."""
    kept = set(keep)
    removed = 0
    for resource in list_resources(session, tenant_id, installation_id=installation_id):
        if (resource.kind, resource.name) not in kept:
            session.delete(resource)
            removed += 1
    session.flush()
    return removed


def resource_counts(session: Session, tenant_id: int) -> dict[int, dict[str, int]]:
    """Per installation id, how many resources of each kind it has."""
    rows = session.exec(
        select(InstalledResource.installation_id, InstalledResource.kind, func.count())
        .where(InstalledResource.tenant_id == tenant_id)
        .group_by(col(InstalledResource.installation_id), col(InstalledResource.kind))
    )
    counts: dict[int, dict[str, int]] = {}
    for installation_id, kind, count in rows:
        counts.setdefault(installation_id, {})[kind] = count
    return counts
