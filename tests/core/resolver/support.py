"""An in-memory package source built from plain data, recording what it is asked."""

from __future__ import annotations

from collections.abc import Mapping

from packaging.specifiers import SpecifierSet
from packaging.version import Version

from fleetprompt_cli.core.resolver import Candidate


class DictSource:
    """Candidates from ``{slug: {version: {"deps": {...}, "yanked": .., "platform": ..}}}``."""

    def __init__(self, index: Mapping[str, Mapping[str, Mapping]]) -> None:
        self.calls: list[str] = []
        self.index: dict[str, list[Candidate]] = {}
        for slug, versions in index.items():
            self.index[slug] = [
                Candidate(
                    slug=slug,
                    version=Version(version),
                    dependencies={
                        dep: SpecifierSet(spec) for dep, spec in entry.get("deps", {}).items()
                    },
                    yanked=entry.get("yanked", False),
                    platform=SpecifierSet(entry["platform"]) if "platform" in entry else None,
                )
                for version, entry in versions.items()
            ]

    def candidates(self, slug: str) -> list[Candidate]:
        self.calls.append(slug)
        return list(self.index.get(slug, []))
