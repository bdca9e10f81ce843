"""The state store's schema: which revision it has, and migrating it (``fleetprompt db``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fleetprompt_cli.settings import Settings, safe_url

__all__ = ["DbStatus", "db_status", "db_upgrade"]


@dataclass
class DbStatus:
    """Where the state store's schema stands, and whether this command migrated it."""

    url: str
    backend: str
    current: str | None
    expected: str
    state: str
    upgraded: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "backend": self.backend,
            "current": self.current,
            "expected": self.expected,
            "state": self.state,
            "upgraded": self.upgraded,
        }


def db_status(settings: Settings) -> DbStatus:
    """The schema revision the store has and the one this code expects; changes nothing."""
    from fleetprompt_cli.store import fastread

    url = settings.database_url
    try:
        # The common case (a current store) needs no SQLAlchemy or alembic.
        head = fastread.schema_revision(url)
        return DbStatus(safe_url(url), _backend(url), head, head, "current")
    except fastread.Fallback as fallback:
        if fallback.state == "missing":
            # No SQLite file yet: connecting would create it; it is simply empty.
            head = fastread.SCHEMA_HEAD
            return DbStatus(safe_url(url), _backend(url), None, head, "empty")
    from fleetprompt_cli.store import schema_status

    found = schema_status(url)
    return DbStatus(
        safe_url(settings.database_url),
        _backend(settings.database_url),
        found.current,
        found.head,
        found.state,
    )


def db_upgrade(settings: Settings) -> DbStatus:
    """Migrate the store to this code's schema (under the advisory lock on PostgreSQL)."""
    from fleetprompt_cli.store import schema_status, upgrade_store

    before = upgrade_store(settings.database_url)
    after = schema_status(settings.database_url)
    return DbStatus(
        safe_url(settings.database_url),
        _backend(settings.database_url),
        after.current,
        after.head,
        after.state,
        upgraded=before.state != "current",
    )


def _backend(url: str) -> str:
    return "sqlite" if url.startswith("sqlite") else "postgresql"
