"""Plain records and the clock shared by the ORM repository and the driver paths.

Importable without sqlmodel or SQLAlchemy: ``store/submit_sql.py`` and
``store/install_step.py`` write what the repository writes, on a driver
connection, and use the same step records and the same clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

__all__ = ["StepSpec", "SubscriptionSpec", "aware_now", "utcnow"]


@dataclass(frozen=True)
class StepSpec:
    """One step of a plan, as the planner hands it over (dependencies first)."""

    slug: str
    action: str
    version: str | None = None
    installation_id: int | None = None


@dataclass(frozen=True)
class SubscriptionSpec:
    """One handler of a package and the signal type patterns it takes."""

    handler: str
    kind: str
    patterns: tuple[str, ...]


def utcnow() -> datetime:
    """The current time, timezone-aware UTC (as this host's clock says: see faults.clock_offset)."""
    from fleetprompt_cli.faults import clock_offset

    offset = clock_offset()
    now = datetime.now(UTC)
    return now + timedelta(seconds=offset) if offset else now


def aware_now(now: datetime | None) -> datetime:
    """``now`` if given (it must be timezone-aware), else :func:`utcnow`."""
    if now is None:
        return utcnow()
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now
