"""The schema revision this code expects, and the words for a store that has another.

Kept apart from ``models.py`` (which imports sqlmodel, ~400 ms) so that the
fast read path (``store/fastread.py``) can check a store's revision with the
plain drivers.  ``models.SCHEMA_HEAD`` re-exports it; bump it here with each
new migration.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from fleetprompt_cli.errors import StoreUnavailable

__all__ = ["SCHEMA_HEAD", "VERSION_TABLE", "known_revisions", "refusal"]

# The alembic revision the models describe.  Kept as a constant so that
# opening a store at the right schema costs one query and no parsing of the
# migration scripts; a test checks it against the scripts' head.
SCHEMA_HEAD = "0006"
# Our own name for alembic's version table, so that a PostgreSQL database
# shared with another alembic-managed application cannot be mistaken for ours.
VERSION_TABLE = "fleetprompt_schema_version"

_VERSIONS = Path(__file__).resolve().parent / "migrations" / "versions"
_REVISION_LINE = re.compile(r"^revision(?:\s*:\s*str)?\s*=\s*[\"']([^\"']+)[\"']", re.MULTILINE)


@cache
def known_revisions() -> frozenset[str]:
    """Every revision of the migration scripts, read as text (no alembic import)."""
    found = set()
    for script in _VERSIONS.glob("*.py"):
        match = _REVISION_LINE.search(script.read_text(encoding="utf-8"))
        if match:
            found.add(match.group(1))
    return frozenset(found)


def refusal(state: str, current: str | None, head: str, where: str) -> StoreUnavailable:
    """The one message for a store whose schema this code cannot use (``state``: older,
    newer or unversioned), shared by the ORM engine and the fast reader."""
    if state == "newer":
        return StoreUnavailable(
            f"state store schema is at {current}, this fleetprompt expects "
            f"{head}: upgrade fleetprompt (the store {where} was migrated by a newer "
            "or different release)",
            details={"current": current, "expected": head},
        )
    if state == "unversioned":
        return StoreUnavailable(
            f"the state store {where} has fleetprompt tables but no schema version: "
            "it was not created by fleetprompt's migrations; use another database",
            details={"current": None, "expected": head},
        )
    return StoreUnavailable(
        f"state store schema is at {current}, this fleetprompt expects "
        f"{head}: run 'fleetprompt db upgrade'",
        details={"current": current, "expected": head},
    )
