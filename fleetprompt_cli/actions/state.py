"""Open the state store for the use cases (SQLite is migrated on first use).

Read-only use cases take a :class:`StateSource`: they answer through the
fast reader (``store/fastread.py``, no ORM imported) when the store is at
this code's schema, and through the ORM store otherwise, which creates,
migrates or refuses it as every other command does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from fleetprompt_cli.actions.source import StateSource
from fleetprompt_cli.settings import Settings

if TYPE_CHECKING:
    from types import ModuleType

    from fleetprompt_cli.store.driverstore import DriverStore
    from fleetprompt_cli.store.engine import Store
    from fleetprompt_cli.store.fastread import Reader

__all__ = ["StateSource", "open_quick", "open_state", "read_tenant"]

T = TypeVar("T")


def open_state(settings: Settings) -> Store:
    """Open (and, for SQLite, migrate) the state store."""
    from fleetprompt_cli.store import open_store

    return open_store(settings.database_url)


def open_quick(settings: Settings) -> Store | DriverStore:
    """The state store on its plain drivers when it is at this code's schema, else the ORM's.

    A :class:`~fleetprompt_cli.store.driverstore.DriverStore` runs the
    install path's SQL without importing the ORM and opens the ORM store
    the first time a use case asks for it; a store that must be created,
    migrated or refused is opened by the ORM at once (its usual messages).
    """
    from fleetprompt_cli.store import fastread
    from fleetprompt_cli.store.driverstore import open_driver_store

    try:
        return open_driver_store(settings.database_url)
    except fastread.Fallback:
        return open_state(settings)


def read_tenant(
    source: Store | StateSource,
    tenant: str,
    body: Callable[[Any, ModuleType, int, str, str], T],
    *,
    pooled: bool = False,
) -> T:
    """Run ``body(s, repo, tenant_id, tenant_name, tier)`` in one read transaction.

    The repository functions a body calls exist with the same names and
    arguments in ``store.repository`` (over a Session) and ``store.fastread``
    (over a Reader), and their rows share attribute names, so one body serves
    both.  A StateSource tries the fast reader first; a Store (or a fast
    reader that cannot answer) takes the ORM path, where ``default`` is
    created on first use and any other unknown tenant is NotFound.

    ``pooled`` (with a Store): run the body over the fast reader's functions
    on one of the store's pooled connections (``store.submit_sql``), no ORM
    session and no new connection; the enqueue path (``preview_install``)
    takes it.  Its bodies must only read what the fast reader's rows hold.
    """

    def slow(store: Store) -> T:
        from fleetprompt_cli.actions.tenants import tenant_of
        from fleetprompt_cli.store import repository as repo

        tenant_id, name, tier = tenant_of(store, tenant)
        with store.session(readonly=True) as s:
            return body(s, repo, tenant_id, name, tier)

    def fast(reader: Reader) -> T:
        from fleetprompt_cli.store import fastread

        record = fastread.get_tenant(reader, tenant)
        return body(reader, fastread, record.id, record.slug, record.tier)

    if not isinstance(source, StateSource):
        if pooled:
            from fleetprompt_cli.store import fastread
            from fleetprompt_cli.store.submit_sql import pooled_reader

            try:
                with pooled_reader(source) as reader:
                    return fast(reader)
            except fastread.Fallback:
                pass  # The default tenant's first use: the ORM path creates it.
        return slow(source)

    return source.read(fast, slow)
