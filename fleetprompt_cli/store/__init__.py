"""The state store: sqlmodel models, repository functions and alembic migrations.

This package's ``__init__`` stays cheap on purpose: the CLI's fast paths
(``--help``, ``search``, ``show``) import modules next to it, and sqlmodel
alone costs ~400 ms.  ``open_store``, ``upgrade_store``, ``schema_status``
and ``Store`` are loaded from :mod:`fleetprompt_cli.store.engine` on first
use; the repository functions live in :mod:`fleetprompt_cli.store.repository`
and the sqlmodel-free stats reader in :mod:`fleetprompt_cli.store.stats_reader`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fleetprompt_cli.store.engine import Store, open_store, schema_status, upgrade_store

__all__ = ["Store", "open_store", "schema_status", "upgrade_store"]

_LAZY = frozenset(__all__)


def __getattr__(name: str) -> Any:
    """Load the engine's public names on first access."""
    if name in _LAZY:
        from fleetprompt_cli.store import engine

        return getattr(engine, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
