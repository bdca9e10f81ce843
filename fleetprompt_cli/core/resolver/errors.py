"""The error raised when no set of versions satisfies a request."""

from __future__ import annotations

from fleetprompt_cli.errors import ExitCode, FleetPromptError

__all__ = ["ResolutionConflict"]


class ResolutionConflict(FleetPromptError):
    """No solution exists; ``message`` is the derivation a person can act on.

    ``derivation`` is the same proof as structured data: a list of steps,
    causes before the steps they lead to, the last one being the conclusion.
    ``packages`` names every package the explanation involves.
    """

    exit_code = ExitCode.CONFLICT
    kind = "conflict"

    def __init__(self, explanation: str, *, derivation: list[dict], packages: list[str]) -> None:
        super().__init__(
            explanation,
            details={"explanation": explanation, "derivation": derivation, "packages": packages},
        )
        self.explanation = explanation
        self.derivation = derivation
        self.packages = packages
