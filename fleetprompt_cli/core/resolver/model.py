"""The resolver's inputs and outputs: candidates, the source, the reporter, the plan."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from packaging.specifiers import SpecifierSet
from packaging.version import Version

__all__ = [
    "Action",
    "Candidate",
    "PackageSource",
    "PlanItem",
    "Reporter",
    "Resolution",
]

Action = Literal["install", "upgrade", "downgrade", "keep"]


@dataclass(frozen=True, slots=True)
class Candidate:
    """One known version of a package, with what resolution needs to know about it."""

    slug: str
    version: Version
    dependencies: Mapping[str, SpecifierSet]
    yanked: bool = False
    platform: SpecifierSet | None = None
    # The dependencies' constraints as the author wrote them (``>=1.2,<2``), for
    # plans and explanations; packaging's own text (``<2,>=1.2``) when absent.
    written: Mapping[str, str] | None = None


class PackageSource(Protocol):
    """Where the resolver gets the versions of a package (an index reader, a test double)."""

    def candidates(self, slug: str) -> Sequence[Candidate]:
        """Every known version of ``slug``, in any order; ``[]`` when it is unknown."""
        ...


class Reporter:
    """Progress hooks; every hook does nothing unless a subclass overrides it."""

    def loading(self, slug: str) -> None:
        """The resolver is about to ask the source for ``slug``'s versions."""

    def decided(self, slug: str, version: Version) -> None:
        """The resolver tentatively chose ``version`` of ``slug``."""

    def conflict(self, explanation_fragment: str) -> None:
        """The resolver learned an incompatibility (a one-sentence description)."""


@dataclass
class PlanItem:
    """One package of a resolution: its version, what changes, and why it is needed."""

    slug: str
    version: Version
    action: Action
    previous: Version | None = None
    requested: bool = False
    required_by: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def reason(self) -> str:
        """A short human text: ``requested``, ``required by a 1.0 (>=1.2,<2)``, ``installed``."""
        parts = []
        if self.requested:
            parts.append("requested")
        if self.required_by:
            needs = ", ".join(
                f"{slug} {version} ({specifier or '*'})"
                for slug, version, specifier in self.required_by
            )
            parts.append(f"required by {needs}")
        if not parts:
            parts.append("installed")
        return "; ".join(parts)

    def to_json(self) -> dict:
        """The item as a JSON-ready object."""
        return {
            "slug": self.slug,
            "version": str(self.version),
            "action": self.action,
            "previous": None if self.previous is None else str(self.previous),
            "requested": self.requested,
            "required_by": [
                {"slug": slug, "version": version, "specifier": specifier}
                for slug, version, specifier in self.required_by
            ],
            "reason": self.reason,
        }


@dataclass
class Resolution:
    """A solved request: the plan in dependency order (dependencies first) and warnings."""

    plan: list[PlanItem]
    warnings: list[str] = field(default_factory=list)

    def versions(self) -> dict[str, Version]:
        """The chosen version of every package, by slug."""
        return {item.slug: item.version for item in self.plan}

    def to_json(self) -> dict:
        """The resolution as a JSON-ready object."""
        return {"plan": [item.to_json() for item in self.plan], "warnings": list(self.warnings)}
