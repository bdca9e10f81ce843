"""Open the state store for the use cases (SQLite is migrated on first use)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fleetprompt_cli.settings import Settings

if TYPE_CHECKING:
    from fleetprompt_cli.store.engine import Store

__all__ = ["open_state"]


def open_state(settings: Settings) -> Store:
    """Open (and, for SQLite, migrate) the state store."""
    from fleetprompt_cli.store import open_store

    return open_store(settings.database_url)
