"""The resolver's exceptions: one base of their own, each carrying its data.

Like resolvelib's ``ResolverException``, these know nothing of the program
around the resolver: no exit codes, no output.  The application maps them
(``actions/planning.py`` turns a conflict into the CLI's conflict error; an
inconsistent resolution is a bug and is reported as one).
"""

from __future__ import annotations

__all__ = ["InconsistentResolution", "ResolutionConflict", "ResolverError"]


class ResolverError(Exception):
    """Base of every exception the resolver raises."""


class ResolutionConflict(ResolverError):
    """No solution exists; ``explanation`` is the derivation a person can act on.

    ``derivation`` is the same proof as structured data: a list of steps,
    causes before the steps they lead to, the last one being the conclusion.
    ``packages`` names every package the explanation involves.
    """

    def __init__(self, explanation: str, *, derivation: list[dict], packages: list[str]) -> None:
        super().__init__(explanation)
        self.explanation = explanation
        self.derivation = derivation
        self.packages = packages

    @property
    def message(self) -> str:
        """The explanation (the text a person reads)."""
        return self.explanation

    def to_json(self) -> dict:
        """The conflict as a JSON-ready object."""
        return {
            "kind": "conflict",
            "message": self.explanation,
            "explanation": self.explanation,
            "derivation": self.derivation,
            "packages": self.packages,
        }


class InconsistentResolution(ResolverError):
    """The resolver produced a solution that fails its own check: a bug, never bad input.

    ``problems`` lists what is wrong, one sentence each ("b 1.0 depends on
    d ~=1.0, which the solution leaves out").  A plan that fails the check is
    never returned.
    """

    def __init__(self, problems: list[str]) -> None:
        shown = "; ".join(problems[:5])
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        super().__init__(
            f"the resolver's solution failed its self-check: {shown}{more}. "
            "This is a bug in fleetprompt; please report it with the command you ran."
        )
        self.problems = problems
