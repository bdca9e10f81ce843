"""Fault injection for tests: kill or fail the process at a named point.

``FLEETPROMPT_FAULT=POINT`` (or ``POINT:N`` for the N-th time the point is
reached, or ``POINT=raise`` / ``POINT:N=raise`` to raise a transient error
instead of dying, or ``POINT:N=hold`` to stop there until a test lets it go:
it says ``fault: holding at POINT`` on stderr and blocks until the named pipe
``FLEETPROMPT_FAULT_HOLD`` is opened for writing and closed) makes
:func:`checkpoint` act there.  Points are named where
the installer calls them (``claimed``, ``step-started``, ``fetched``,
``extracted``, ``resource-written`` (after a step wrote its resources),
``before-commit``, ``after-commit``).  Unset, a checkpoint
costs one dictionary lookup.

``FLEETPROMPT_FAULT_CLOCK_OFFSET=SECONDS`` shifts this process's clock (the
store's ``utcnow``), to test hosts whose clocks disagree: leases must not
depend on it.
"""

from __future__ import annotations

import os
import signal

from fleetprompt_cli.errors import FleetPromptError
from fleetprompt_cli.settings import fault_clock_offset, fault_hold_path, fault_spec

__all__ = ["InjectedFault", "checkpoint", "clock_offset"]

_hits: dict[str, int] = {}


class InjectedFault(FleetPromptError):
    """A transient failure injected by FLEETPROMPT_FAULT (tests only)."""

    kind = "injected"


def checkpoint(point: str) -> None:
    """Die (SIGKILL) or raise here if FLEETPROMPT_FAULT names this point."""
    spec = fault_spec()
    if not spec:
        return
    rules: list[tuple[int | None, str]] = []
    for rule in spec.split(","):
        target, _, mode = rule.partition("=")
        name, _, count = target.partition(":")
        if name == point:
            rules.append((int(count) if count else None, mode))
    if not rules:
        return
    # Count each time the point is reached once, whatever the number of rules.
    hit = _hits[point] = _hits.get(point, 0) + 1
    for nth, mode in rules:
        if mode == "raise" and nth is None:
            raise InjectedFault(f"injected fault at {point}")
        if hit != (nth or 1):
            continue
        if mode == "raise":
            raise InjectedFault(f"injected fault at {point}")
        if mode == "hold":
            _hold(point)
            return
        os.kill(os.getpid(), signal.SIGKILL)


def _hold(point: str) -> None:
    """Block until the test opens and closes the FLEETPROMPT_FAULT_HOLD pipe (no polling)."""
    import sys

    path = fault_hold_path()
    if not path:
        raise InjectedFault(f"{point}=hold needs FLEETPROMPT_FAULT_HOLD (a named pipe)")
    sys.stderr.write(f"fault: holding at {point}\n")
    sys.stderr.flush()
    with open(path, "rb") as pipe:
        pipe.read()


def clock_offset() -> float:
    """Seconds to add to this process's clock (FLEETPROMPT_FAULT_CLOCK_OFFSET; tests only)."""
    return fault_clock_offset()
