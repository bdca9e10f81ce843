"""``fleetprompt outdated``: what could be upgraded in a tenant, and what is yanked.

For each installed package: its version, the newest version ``fleetprompt
upgrade SLUG`` would give (the newest its dependents, at their installed
versions, allow, and whose own dependencies resolve), and the newest version
in the index overall (not yanked, fit for this platform, a pre-release only
when the installed version is one).  A yanked installed version is flagged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from fleetprompt_cli.actions.indexes import open_catalog
from fleetprompt_cli.actions.inspecting import list_installations
from fleetprompt_cli.actions.planning import plan_request
from fleetprompt_cli.core.index import IndexEntry
from fleetprompt_cli.errors import FleetPromptError
from fleetprompt_cli.settings import Settings

if TYPE_CHECKING:
    from fleetprompt_cli.store.engine import Store

__all__ = ["OutdatedItem", "OutdatedReport", "outdated", "yanked_among"]

_USABLE = ("active", "paused")


@dataclass(frozen=True)
class OutdatedItem:
    """One installed package: what it is at, what an upgrade would give, the newest."""

    slug: str
    version: str
    wanted: str | None
    latest: str | None
    yanked: bool
    note: str = ""

    @property
    def outdated(self) -> bool:
        """Whether a newer version exists at all."""
        return self.latest is not None and Version(self.latest) > Version(self.version)

    def to_json(self) -> dict[str, Any]:
        return {
            "slug": self.slug,
            "version": self.version,
            "wanted": self.wanted,
            "latest": self.latest,
            "yanked": self.yanked,
            "outdated": self.outdated,
            "note": self.note,
        }


@dataclass
class OutdatedReport:
    """The tenant's installed packages, each with its upgrade prospects."""

    tenant: str
    items: list[OutdatedItem]
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "tenant": self.tenant,
            "packages": [item.to_json() for item in self.items],
            "warnings": self.warnings,
        }


def outdated(settings: Settings, store: Store, tenant: str) -> OutdatedReport:
    """Every usable installation of ``tenant`` with its wanted and latest versions."""
    listing = list_installations(store, tenant)
    rows = [i for i in listing.installations if i.status in _USABLE and i.version]
    installed = {row.slug: Version(row.version) for row in rows if row.version}
    platform = Version(settings.platform_version)
    view = open_catalog(settings)
    items: list[OutdatedItem] = []
    try:
        for row in sorted(rows, key=lambda r: r.slug):
            current = Version(row.version or "0")
            entries = view.catalog.versions(row.slug)
            mine = next((e for e in entries if _version(e) == current), None)
            latest = _latest(entries, current, platform)
            wanted, note = None, ""
            if mine is None:
                note = "no longer in the index"
            else:
                try:
                    plan = plan_request(
                        settings, [row.slug], installed=installed, upgrade={row.slug}, view=view
                    )
                    wanted = next(
                        (str(s.item.version) for s in plan.steps if s.item.slug == row.slug), None
                    )
                except FleetPromptError as error:
                    note = f"cannot be upgraded: {error.message.splitlines()[0]}"
            items.append(
                OutdatedItem(
                    row.slug,
                    row.version or "",
                    wanted,
                    None if latest is None else str(latest),
                    bool(mine is not None and mine.yanked),
                    note,
                )
            )
        warnings = list(view.warnings)
    finally:
        view.catalog.close()
    return OutdatedReport(listing.tenant, items, warnings)


def _version(entry: IndexEntry) -> Version | None:
    try:
        return Version(entry.version)
    except InvalidVersion:
        return None


def _latest(entries: list[IndexEntry], current: Version, platform: Version) -> Version | None:
    """The newest usable version: not yanked, fit for the platform, pre-release only if current."""
    best: Version | None = None
    for entry in entries:
        version = _version(entry)
        if version is None or entry.yanked:
            continue
        if version.is_prerelease and not current.is_prerelease:
            continue
        text = entry.data.get("platform")
        try:
            if text and not SpecifierSet(text).contains(platform, prereleases=True):
                continue
        except InvalidSpecifier:
            continue
        if best is None or version > best:
            best = version
    return best


def yanked_among(
    settings: Settings, installed: list[tuple[str, str]]
) -> tuple[set[tuple[str, str]], list[str]]:
    """Which of the (slug, version) pairs are yanked in the indexes, for ``list`` to flag.

    An index that cannot be read is a warning, never a failure of ``list``.
    """
    if not installed:
        return set(), []
    try:
        view = open_catalog(settings)
    except FleetPromptError as error:
        return set(), [f"cannot tell which versions are yanked: {error}"]
    yanked: set[tuple[str, str]] = set()
    try:
        for slug, version in installed:
            wanted = _parsed(version)
            for entry in view.catalog.versions(slug):
                if entry.yanked and wanted is not None and _version(entry) == wanted:
                    yanked.add((slug, version))
    finally:
        view.catalog.close()
    return yanked, list(view.warnings)


def _parsed(version: str) -> Version | None:
    try:
        return Version(version)
    except InvalidVersion:
        return None
