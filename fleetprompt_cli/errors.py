"""The one base exception and the exit codes the README documents.

Every error a person can cause (bad input, a conflict, a missing package, a
store that is down) is a :class:`FleetPromptError` subclass.  The CLI catches
the base class in one place, prints ``str(error)`` and exits with
``error.exit_code``; it never shows a traceback for these.
"""

from __future__ import annotations

from enum import IntEnum

__all__ = [
    "INTERRUPTED",
    "AlreadyExists",
    "ConfigError",
    "DependencyConflict",
    "ExitCode",
    "FleetPromptError",
    "IndexReadError",
    "IntegrityError",
    "InvalidInput",
    "LockOutdated",
    "NotAnOwner",
    "NotFound",
    "ReviewRefused",
    "StateError",
    "StoreUnavailable",
    "TierDenied",
    "UsageError",
    "not_installed",
]


class ExitCode(IntEnum):
    """Process exit codes; stable, documented in the README."""

    SUCCESS = 0
    FAILURE = 1
    USAGE = 2
    NOT_FOUND = 3
    CONFLICT = 4
    DENIED = 5
    INTEGRITY = 6
    LOCK_OUTDATED = 7
    INVALID = 8
    EXISTS = 9
    UNAVAILABLE = 10
    STATE = 11
    DECLINED = 12  # the person answered no to "... tenant X?": nothing was changed
    UNHEALTHY = 13  # doctor found a problem (each finding names the command that fixes it)
    FINDINGS = 14  # audit found hidden-Unicode or drift findings of error severity


# Not an ExitCode: the shell's convention for a process stopped by SIGINT
# (128 + 2), used when Ctrl-C interrupts a command. The README's exit-code
# table documents it beside the ExitCode rows.
INTERRUPTED = 130


class FleetPromptError(Exception):
    """Base of every error fleetprompt reports to a person.

    ``kind`` names the error in ``--json`` output; ``details`` carries
    structured data for scripts (it must be JSON-serialisable).
    """

    exit_code: ExitCode = ExitCode.FAILURE
    kind: str = "error"

    def __init__(self, message: str, *, details: dict | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}

    def __str__(self) -> str:
        return self.message

    def to_json(self) -> dict:
        """The error as a JSON-ready object (``kind``, ``message``, details)."""
        return {"kind": self.kind, "message": self.message, **self.details}


class UsageError(FleetPromptError):
    """The command line itself is wrong (a malformed requirement, say)."""

    exit_code = ExitCode.USAGE
    kind = "usage"


class NotFound(FleetPromptError):
    """An unknown package, version, tenant, directive or file."""

    exit_code = ExitCode.NOT_FOUND
    kind = "not_found"


class InvalidInput(FleetPromptError):
    """Input data (a manifest, an index line, a config value) is invalid."""

    exit_code = ExitCode.INVALID
    kind = "invalid"


class ConfigError(InvalidInput):
    """An installation's config does not match the package's schema."""

    kind = "config"


class DependencyConflict(FleetPromptError):
    """No set of versions satisfies the request; the message explains why.

    The resolver's own ``ResolutionConflict`` carries the proof; this is how
    the application reports it (``details``: explanation, derivation, packages).
    """

    exit_code = ExitCode.CONFLICT
    kind = "conflict"


class IndexReadError(FleetPromptError):
    """An index cannot be read: not a repository, unreachable, corrupt."""

    exit_code = ExitCode.FAILURE
    kind = "index"


class LockOutdated(FleetPromptError):
    """The lock file does not match the project file (or the index lost a locked version)."""

    exit_code = ExitCode.LOCK_OUTDATED
    kind = "lock_outdated"


class AlreadyExists(FleetPromptError):
    """Something that is written once (a published version) already exists."""

    exit_code = ExitCode.EXISTS
    kind = "exists"


class TierDenied(FleetPromptError):
    """The tenant's tier is below what a package needs."""

    exit_code = ExitCode.DENIED
    kind = "tier"


class ReviewRefused(FleetPromptError):
    """A review the marketplace does not take: of a package the tenant never
    installed, or a helpful vote on one's own review."""

    exit_code = ExitCode.DENIED
    kind = "review"


class NotAnOwner(FleetPromptError):
    """A publish, yank or owner change on an index by someone who does not own the package."""

    exit_code = ExitCode.DENIED
    kind = "owner"


class IntegrityError(FleetPromptError):
    """A checksum mismatch or a hostile archive."""

    exit_code = ExitCode.INTEGRITY
    kind = "integrity"


class StoreUnavailable(FleetPromptError):
    """The state store cannot be reached, is locked, or has another schema."""

    exit_code = ExitCode.UNAVAILABLE
    kind = "store"


class StateError(FleetPromptError):
    """A lifecycle transition the state machine does not allow."""

    exit_code = ExitCode.STATE
    kind = "state"


def not_installed(slug: str, tenant: str) -> NotFound:
    """The error for a package the tenant has no installation of (exit 3).

    ``slug`` is the canonical slug; ``details`` carries both for ``--json``.
    """
    return NotFound(
        f"{slug} is not installed in tenant {tenant!r}",
        details={"slug": slug, "tenant": tenant},
    )
