"""The state machines: installations (one table, used by every code path), directives, steps.

The store applies these transitions (and records each one as a revision);
the CLI and the installer only name them.  Nothing here touches the store,
so the tables are cheap to import and trivially testable.
"""

from __future__ import annotations

from dataclasses import dataclass

from fleetprompt_cli.core.vocab import (
    FINISHED_DIRECTIVE_STATUSES,
    INSTALLATION_STATUSES,
    OPEN_DIRECTIVE_STATUSES,
)
from fleetprompt_cli.errors import StateError

__all__ = [
    "ACTIVE",
    "CANCELLED",
    "DIRECTIVE_FINISHED_STATUSES",
    "DIRECTIVE_OPEN_STATUSES",
    "FAILED",
    "FINISHED_STATUSES",
    "INSTALLED_STATUSES",
    "INSTALLING",
    "PAUSED",
    "PREVIOUS",
    "QUEUED",
    "STATUSES",
    "STEP_MOVES",
    "STEP_REOPENED_FROM",
    "TRANSITIONS",
    "UNINSTALLED",
    "UNINSTALLING",
    "UPGRADING",
    "Transition",
    "allowed",
    "busy",
    "changing",
    "is_live",
    "step_move_allowed",
    "transition",
]

QUEUED = "queued"
INSTALLING = "installing"
ACTIVE = "active"
PAUSED = "paused"
FAILED = "failed"
CANCELLED = "cancelled"
UPGRADING = "upgrading"
UNINSTALLING = "uninstalling"
UNINSTALLED = "uninstalled"

STATUSES: tuple[str, ...] = INSTALLATION_STATUSES

# Statuses in which a revision of the package is installed and usable: the
# current revision stays usable while an upgrade or an uninstall is applied.
INSTALLED_STATUSES: frozenset[str] = frozenset({ACTIVE, PAUSED, UPGRADING, UNINSTALLING})

# Statuses of rows kept only for history: nothing of the package is installed
# and no transition leads out, so a new install of the slug starts a new row
# (the store allows one live row per tenant and slug).
FINISHED_STATUSES: frozenset[str] = frozenset({CANCELLED, UNINSTALLED})

# The target of a transition that returns to the status held before the
# transition that is being undone (a failed upgrade goes back to active or
# paused, whichever the installation was when the upgrade started).
PREVIOUS = "<previous>"


@dataclass(frozen=True)
class Transition:
    """A named transition: the statuses it starts from and where it goes."""

    name: str
    sources: tuple[str, ...]
    target: str
    # Only for a PREVIOUS target: the statuses it may return to.
    returns_to: tuple[str, ...] = ()


_TABLE: tuple[Transition, ...] = (
    Transition("start_install", (QUEUED,), INSTALLING),
    Transition("complete_install", (INSTALLING,), ACTIVE),
    Transition("fail_install", (INSTALLING,), FAILED),
    Transition("cancel", (QUEUED,), CANCELLED),
    Transition("pause", (ACTIVE,), PAUSED),
    Transition("resume", (PAUSED,), ACTIVE),
    Transition("start_upgrade", (ACTIVE, PAUSED), UPGRADING),
    Transition("complete_upgrade", (UPGRADING,), ACTIVE),
    Transition("fail_upgrade", (UPGRADING,), PREVIOUS, returns_to=(ACTIVE, PAUSED)),
    Transition("retry", (FAILED,), QUEUED),
    Transition("start_uninstall", (ACTIVE, PAUSED, FAILED), UNINSTALLING),
    Transition("complete_uninstall", (UNINSTALLING,), UNINSTALLED),
    # An uninstall that failed leaves the package as it was before (its
    # content is still installed), with the error recorded.
    Transition("fail_uninstall", (UNINSTALLING,), PREVIOUS, returns_to=(ACTIVE, PAUSED, FAILED)),
)

TRANSITIONS: dict[str, Transition] = {t.name: t for t in _TABLE}

# How a transition reads in a sentence ("cannot pause field-service: ...").
_VERBS = {
    "start_install": "install",
    "complete_install": "complete the install of",
    "fail_install": "fail the install of",
    "cancel": "cancel",
    "pause": "pause",
    "resume": "resume",
    "start_upgrade": "upgrade",
    "complete_upgrade": "complete the upgrade of",
    "fail_upgrade": "fail the upgrade of",
    "retry": "retry",
    "start_uninstall": "uninstall",
    "complete_uninstall": "complete the uninstall of",
    "fail_uninstall": "fail the uninstall of",
}


def _words(items: tuple[str, ...]) -> str:
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + " or " + items[-1]


def busy(slugs: list[str]) -> StateError:
    """The refusal when another directive is changing ``slugs``.

    One wording wherever it is detected: when a preview sees the packages
    mid-change, or when a plan loses the race for them in the store.
    """
    return StateError(
        f"another directive is changing {', '.join(slugs)}: wait for it, or run "
        "'fleetprompt recover' if its process died",
        details={"slugs": list(slugs)},
    )


def changing(status: str, pending_version: str | None) -> bool:
    """Whether an open directive is changing an installation in ``status``.

    Queued, installing, upgrading or uninstalling; or with a pending version,
    which only a directive that has not started its step yet leaves on an
    active, paused or failed row (every way a directive ends clears it).

    A second directive may not plan a change of such an installation: it is
    refused with :func:`busy` (exit 11).  Building the second plan on top of
    the first (its pending version as the starting point) was the other
    choice; it is not simpler, because the second directive's steps, history
    and ``--atomic`` undo would all depend on the first one succeeding, and a
    failure of the first would leave the second applying a plan resolved
    against a version that never arrived.  Refusing keeps every directive's
    plan true to what it saw.
    """
    return status in (QUEUED, INSTALLING, UPGRADING, UNINSTALLING) or (
        pending_version is not None and is_live(status)
    )


def is_live(status: str) -> bool:
    """Whether an installation in ``status`` is live (not uninstalled or cancelled)."""
    return status not in FINISHED_STATUSES


def allowed(status: str) -> list[str]:
    """The names of the transitions allowed from ``status``, in table order."""
    if status not in STATUSES:
        raise ValueError(f"unknown installation status {status!r}")
    return [t.name for t in _TABLE if status in t.sources]


def transition(
    status: str, name: str, *, previous: str | None = None, subject: str | None = None
) -> str:
    """The status after applying transition ``name`` to ``status``, or raise StateError.

    ``previous`` is the status before the upgrade, needed by ``fail_upgrade``;
    ``subject`` (the package slug) only makes the error message read well.
    """
    if status not in STATUSES:
        raise ValueError(f"unknown installation status {status!r}")
    try:
        rule = TRANSITIONS[name]
    except KeyError:
        raise ValueError(f"unknown transition {name!r}") from None
    if status not in rule.sources:
        what = f"{_VERBS[name]} {subject}" if subject else _VERBS[name]
        raise StateError(
            f"cannot {what}: it is {status} ({name} needs {_words(rule.sources)})",
            details={
                "transition": name,
                "status": status,
                "allowed_from": list(rule.sources),
                **({"slug": subject} if subject else {}),
            },
        )
    if rule.target != PREVIOUS:
        return rule.target
    # A caller that lost track of the status before the upgrade has a bug;
    # guessing "active" could resume something the user paused.
    if previous not in rule.returns_to:
        raise ValueError(
            f"{name} needs the status before the upgrade ({_words(rule.returns_to)}), "
            f"got {previous!r}"
        )
    return previous


# -- directives and their steps ----------------------------------------------

# A directive is open (pending, or running under a lease) until it finishes
# as one of the finished statuses; ``recover --retry-failed`` re-opens a
# failed one.
DIRECTIVE_OPEN_STATUSES: tuple[str, ...] = OPEN_DIRECTIVE_STATUSES
DIRECTIVE_FINISHED_STATUSES: tuple[str, ...] = FINISHED_DIRECTIVE_STATUSES

# Which step statuses may follow which.  "running" may follow itself: a
# worker that takes over an expired lease re-runs the step it finds running.
STEP_MOVES: dict[str, frozenset[str]] = {
    # "failed" and "pending" may follow "pending" when an attempt failed
    # before it could mark the step running: the step still fails or retries.
    "pending": frozenset({"running", "cancelled", "failed", "pending"}),
    "running": frozenset({"running", "done", "failed", "pending", "cancelled"}),
    "done": frozenset({"undone"}),
    "failed": frozenset({"pending", "running"}),
    "cancelled": frozenset({"pending"}),
    # A retried atomic directive re-applies the steps it undid.
    "undone": frozenset({"pending"}),
}

# Moving out of these back to pending re-opens a step (``recover
# --retry-failed``): it gets a fresh set of attempts.
STEP_REOPENED_FROM: frozenset[str] = frozenset({"failed", "cancelled", "undone"})


def step_move_allowed(status: str, to: str) -> bool:
    """Whether a step in ``status`` may move to ``to`` (an unknown status moves nowhere)."""
    return to in STEP_MOVES.get(status, frozenset())
