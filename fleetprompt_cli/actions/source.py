"""Where a read-only use case reads: the fast reader, else the ORM store.

Kept apart from ``actions.state`` (which resolves tenants through
``actions.tenants``) so that ``actions.tenants`` can take one too without an
import cycle.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from fleetprompt_cli.store.engine import Store
    from fleetprompt_cli.store.fastread import Reader

__all__ = ["StateSource"]

T = TypeVar("T")


@dataclass(frozen=True)
class StateSource:
    """Where a read command reads: the store's URL, and how to open the ORM store."""

    url: str
    open_store: Callable[[], Store]

    def read(self, fast: Callable[[Reader], T], slow: Callable[[Store], T]) -> T:
        """``fast`` over a fast reader; ``slow`` over the ORM store when it cannot answer."""
        from fleetprompt_cli.store import fastread

        try:
            with fastread.reader(self.url) as reader:
                return fast(reader)
        except fastread.Fallback:
            pass
        return slow(self.open_store())
