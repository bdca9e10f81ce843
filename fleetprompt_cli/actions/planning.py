"""Planning: resolve a request against the index and what a tenant has.

``plan_request`` is shared by ``fleetprompt resolve`` and ``install``: it turns
requirement strings into a :class:`Plan` of index entries, each with its
action and the reason it is needed.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from fleetprompt_cli.actions.indexes import CatalogView, open_catalog
from fleetprompt_cli.actions.search import not_found
from fleetprompt_cli.core.index import IndexEntry
from fleetprompt_cli.core.names import Requirement, parse_requirement
from fleetprompt_cli.core.pricing import describe_pricing
from fleetprompt_cli.core.resolver import (
    Candidate,
    PlanItem,
    Reporter,
    Resolution,
    ResolutionConflict,
    resolve,
)
from fleetprompt_cli.errors import DependencyConflict, UsageError
from fleetprompt_cli.indexio.catalog import Catalog
from fleetprompt_cli.settings import Settings

__all__ = ["CatalogSource", "Plan", "PlanStep", "plan_request"]


class CatalogSource:
    """The resolver's package source over the catalog; loads a slug only when asked."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.entries: dict[tuple[str, Version], IndexEntry] = {}
        self.loaded: list[str] = []
        self.warnings: list[str] = []

    def candidates(self, slug: str) -> list[Candidate]:
        self.loaded.append(slug)
        result = []
        for entry in self.catalog.versions(slug):
            field, text = "version", entry.version
            try:
                version = Version(entry.version)
                deps = {}
                for dep, spec in entry.deps.items():
                    field, text = f"dependency {dep}", spec
                    deps[dep] = SpecifierSet(spec)
                field, text = "platform", entry.data.get("platform") or ""
                platform = SpecifierSet(text) if text else None
            except (InvalidVersion, InvalidSpecifier):
                # An unreadable entry is as good as absent; say why it is.
                self.warnings.append(
                    f"skipped {slug} {entry.version} ({entry.where}): invalid {field} "
                    f"specifier {text!r}"
                    if field != "version"
                    else f"skipped {slug} ({entry.where}): invalid version {text!r}"
                )
                continue
            self.entries[(slug, version)] = entry
            # entry.deps keeps each constraint as its author wrote it (">=1.2,<2"),
            # which plans and explanations show instead of packaging's "<2,>=1.2".
            result.append(Candidate(slug, version, deps, entry.yanked, platform, entry.deps))
        return result


@dataclass
class PlanStep:
    """One package of a plan, with its index entry."""

    item: PlanItem
    entry: IndexEntry

    def to_json(self) -> dict[str, Any]:
        includes = self.entry.data.get("includes", {})
        return {
            **self.item.to_json(),
            "name": self.entry.name,
            "min_tier": self.entry.data.get("min_tier", "free"),
            "pricing": self.entry.data.get("pricing", {}),
            "pricing_text": describe_pricing(self.entry.data.get("pricing")),
            "yanked": self.entry.yanked,
            "sha256": self.entry.sha256,
            "includes": {k: [i["name"] for i in v] for k, v in includes.items()},
        }


@dataclass
class Plan:
    """A resolved request: steps in dependency order, and what was asked."""

    requirements: list[Requirement]
    steps: list[PlanStep]
    warnings: list[str] = field(default_factory=list)
    loaded: list[str] = field(default_factory=list)

    @property
    def changes(self) -> list[PlanStep]:
        """The steps that change something (not ``keep``)."""
        return [s for s in self.steps if s.item.action != "keep"]

    def to_json(self) -> dict[str, Any]:
        return {
            "request": [str(r) for r in self.requirements],
            "plan": [s.to_json() for s in self.steps],
            "warnings": self.warnings,
        }


class _Progress(Reporter):
    def __init__(self, callback) -> None:
        self.callback = callback
        self.count = 0

    def loading(self, slug: str) -> None:
        self.count += 1
        self.callback(f"Resolving… {self.count} packages read ({slug})")


def _parse(specs: Sequence[str]) -> list[Requirement]:
    if not specs:
        raise UsageError("name at least one package, e.g. 'customer-support' or 'crm>=1,<2'")
    merged: dict[str, Requirement] = {}
    for spec in specs:
        requirement = parse_requirement(spec)
        if requirement.slug in merged:
            previous = merged[requirement.slug]
            written = ",".join(str(r)[len(r.slug) :] for r in (previous, requirement))
            requirement = Requirement(
                requirement.slug,
                previous.specifier & requirement.specifier,
                written=written.strip(","),
            )
        merged[requirement.slug] = requirement
    return list(merged.values())


def plan_request(
    settings: Settings,
    specs: Sequence[str],
    *,
    installed: Mapping[str, Version] | None = None,
    preferred: Mapping[str, Version] | None = None,
    upgrade: bool | Collection[str] = False,
    allow_prerelease: bool = False,
    progress=None,
    view: CatalogView | None = None,
) -> Plan:
    """Resolve ``specs`` (plus what is installed) into a plan; raises DependencyConflict."""
    requirements = _parse(specs)
    own_view = view is None
    view = view or open_catalog(settings)
    try:
        for requirement in requirements:
            if not view.catalog.versions(requirement.slug):
                error = not_found(requirement.slug, view.catalog.slugs_and_names())
                notes = _problems_of(view, {requirement.slug})
                if notes:
                    error.message += "\n  " + "\n  ".join(notes)
                raise error
        source = CatalogSource(view.catalog)
        reporter = _Progress(progress) if progress else None
        try:
            resolution: Resolution = resolve(
                requirements,
                source,
                installed=installed or {},
                preferred=preferred or {},
                upgrade=upgrade,
                allow_prerelease=allow_prerelease,
                platform_version=Version(settings.platform_version),
                reporter=reporter,
            )
        except ResolutionConflict as conflict:
            details: dict = {
                "explanation": conflict.explanation,
                "derivation": conflict.derivation,
                "packages": conflict.packages,
            }
            message = conflict.explanation
            notes = _skipped_lines(view, source)
            if notes:
                message += "\n\nNote: " + "\n      ".join(notes)
                details["skipped"] = notes
            raise DependencyConflict(message, details=details) from None
    finally:
        if own_view:
            view.catalog.close()
    steps = [PlanStep(item, source.entries[(item.slug, item.version)]) for item in resolution.plan]
    warnings = list(view.warnings) + _skipped_lines(view, source) + list(resolution.warnings)
    return Plan(requirements, steps, warnings, source.loaded)


def _skipped_lines(view: CatalogView, source: CatalogSource) -> list[str]:
    """Why versions of the packages this resolution looked at were skipped."""
    return _problems_of(view, set(source.loaded)) + source.warnings


def _problems_of(view: CatalogView, slugs: set[str]) -> list[str]:
    return [
        f"skipped unreadable index line: {p}"
        for p in view.problems
        if p.file.replace("\\", "/").rsplit("/", 1)[-1] in slugs
    ]
