"""Fixtures for the state store tests: an open store on each backend.

``store_url`` and ``empty_store_url`` come from the ``tests.fixtures_backends``
plugin, so every test here that uses them runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from fleetprompt_cli.store import repository as repo
from fleetprompt_cli.store.engine import open_store

# A fixed clock: lease and grace-period tests pass times relative to it.
T0 = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def store(store_url):
    """An open, migrated store (SQLite busy timeout kept short for tests)."""
    opened = open_store(store_url, busy_timeout=5.0)
    yield opened
    opened.dispose()


@pytest.fixture
def tenants(store):
    """Two tenants, ``acme`` (pro) and ``globex`` (free); returns their ids."""
    with store.session() as session:
        acme = repo.create_tenant(session, "acme", tier="pro").id
        globex = repo.create_tenant(session, "globex").id
    return acme, globex
