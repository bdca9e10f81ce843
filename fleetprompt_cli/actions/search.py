"""Search, featured and show: read-only views of the catalog.

These run on every ``fleetprompt search``: they import the catalog (stdlib
sqlite3) and the stats reader, never sqlmodel or huey.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from packaging.version import InvalidVersion, Version

from fleetprompt_cli.actions.indexes import open_catalog
from fleetprompt_cli.core.index import IndexEntry
from fleetprompt_cli.core.names import (
    canonical_slug,
    canonical_version,
    is_valid_slug,
    parse_version,
)
from fleetprompt_cli.core.pricing import describe_pricing
from fleetprompt_cli.core.vocab import CATEGORIES, PRICING_MODELS, TIER_ORDER
from fleetprompt_cli.errors import NotFound, UsageError
from fleetprompt_cli.indexio.catalog import SearchHit
from fleetprompt_cli.settings import Settings
from fleetprompt_cli.store import fastread
from fleetprompt_cli.store.stats_reader import (
    PackageFigures,
    ReviewRow,
    read_reviews,
    read_stats,
)

__all__ = [
    "PackageDetail",
    "PackageSummary",
    "SearchResult",
    "featured",
    "search",
    "show",
    "suggest",
]

FEATURED_LIMIT = 6
# A query is cut to this many words and characters (a warning says so): full
# text search over 50,000 terms ran for minutes, and no person types more.
MAX_QUERY_TERMS = 16
MAX_QUERY_CHARS = 500
REVIEWS_SHOWN = 3
# search --sort: best match first (then most installed), or best rated first.
SEARCH_SORTS = ("match", "rating")


@dataclass(frozen=True)
class PackageSummary:
    """One row of a search: the listed version of a package and its figures."""

    slug: str
    name: str
    version: str
    description: str
    category: str
    pricing: dict[str, Any]
    min_tier: str
    verified: bool
    featured: bool
    installs: int
    rating_avg: float | None
    rating_count: int
    index: str
    # The Bayesian average ``search --sort rating`` orders by.
    rating_score: float = 0.0

    @property
    def pricing_text(self) -> str:
        return describe_pricing(self.pricing)

    def to_json(self) -> dict[str, Any]:
        return {
            "slug": self.slug,
            "name": self.name,
            "version": self.version,
            "description": self.description,
            "category": self.category,
            "pricing": self.pricing,
            "pricing_text": self.pricing_text,
            "min_tier": self.min_tier,
            "verified": self.verified,
            "featured": self.featured,
            "install_count": self.installs,
            "rating_avg": self.rating_avg,
            "rating_count": self.rating_count,
            "rating_score": self.rating_score,
            "index": self.index,
        }


@dataclass
class SearchResult:
    query: str
    filters: dict[str, Any]
    packages: list[PackageSummary]
    total: int
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "filters": self.filters,
            "total": self.total,
            "packages": [p.to_json() for p in self.packages],
            "warnings": self.warnings,
        }


def _stats(settings: Settings, slugs: list[str]) -> dict[str, PackageFigures]:
    return read_stats(settings.database_url, slugs)


def _summary(hit: SearchHit, figures: PackageFigures) -> PackageSummary:
    data = hit.data
    return PackageSummary(
        slug=hit.slug,
        name=data.get("name", hit.slug),
        version=data.get("version", ""),
        description=data.get("description", ""),
        category=data.get("category", ""),
        pricing=data.get("pricing", {"model": "free"}),
        min_tier=data.get("min_tier", "free"),
        verified=hit.verified,
        featured=hit.featured,
        installs=figures.install_count,
        rating_avg=_rating(figures),
        rating_count=figures.rating_count,
        index=hit.index,
        rating_score=round(figures.bayesian_rating, 3),
    )


def _rating(figures: PackageFigures) -> float | None:
    return None if figures.rating is None else round(figures.rating, 2)


def _check_choice(value: str | None, choices: tuple[str, ...], what: str) -> None:
    if value is not None and value not in choices:
        raise UsageError(f"unknown {what} {value!r}: expected one of {', '.join(choices)}")


def search(
    settings: Settings,
    query: str = "",
    *,
    category: str | None = None,
    pricing: str | None = None,
    tier: str | None = None,
    limit: int = 20,
    only_featured: bool = False,
    sort: str = "match",
) -> SearchResult:
    """Packages matching ``query`` and the filters: best match, then most installed.

    ``sort="rating"`` orders by the Bayesian average rating instead (see
    :attr:`PackageFigures.bayesian_rating`), then by match and installs.
    """
    _check_choice(sort, SEARCH_SORTS, "sort")
    _check_choice(category, CATEGORIES, "category")
    _check_choice(pricing, PRICING_MODELS, "pricing model")
    _check_choice(tier, tuple(TIER_ORDER), "tier")
    if limit < 1:
        raise UsageError("--limit must be at least 1")
    query, cut = _bounded_query(query)
    view = open_catalog(settings)
    try:
        hits = view.catalog.search(
            query, category=category, pricing=pricing, tier=tier, featured=only_featured
        )
    finally:
        view.catalog.close()
    stats = _stats(settings, [h.slug for h in hits]) if hits else {}
    none = PackageFigures("")
    if sort == "rating":
        hits.sort(
            key=lambda h: (
                -stats.get(h.slug, none).bayesian_rating,
                h.rank,
                -stats.get(h.slug, none).install_count,
                h.slug,
            )
        )
    else:
        hits.sort(key=lambda h: (h.rank, -stats.get(h.slug, none).install_count, h.slug))
    chosen = [_summary(h, stats.get(h.slug, none)) for h in hits[:limit]]
    filters = {"category": category, "pricing": pricing, "tier": tier}
    warnings = view.warnings + [f"skipped unreadable index line: {p}" for p in view.problems]
    if cut:
        warnings.insert(0, cut)
    return SearchResult(query, filters, chosen, len(hits), warnings)


def _bounded_query(query: str) -> tuple[str, str | None]:
    """The query cut to MAX_QUERY_TERMS words and MAX_QUERY_CHARS characters, and a warning."""
    if len(query) <= MAX_QUERY_CHARS and len(query.split()) <= MAX_QUERY_TERMS:
        return query, None
    words = query[: MAX_QUERY_CHARS * 4].split()[:MAX_QUERY_TERMS]
    bounded = " ".join(words)[:MAX_QUERY_CHARS]
    return bounded, (
        f"the query was cut to its first {len(bounded.split())} words"
        f" (at most {MAX_QUERY_TERMS} words and {MAX_QUERY_CHARS} characters)"
    )


def featured(settings: Settings, *, limit: int = FEATURED_LIMIT) -> SearchResult:
    """The featured packages, most installed first."""
    return search(settings, "", limit=limit, only_featured=True)


def suggest(word: str, candidates: list[tuple[str, str]], count: int = 3) -> list[str]:
    """Slugs that look like ``word`` (by slug or by name), best first."""
    import difflib  # Only an unknown slug needs it.

    slugs = [slug for slug, _ in candidates]
    names = {name.lower(): slug for slug, name in candidates}
    found = difflib.get_close_matches(word, slugs, n=count, cutoff=0.6)
    for name in difflib.get_close_matches(word.lower(), list(names), n=count, cutoff=0.6):
        if names[name] not in found:
            found.append(names[name])
    found += [s for s in slugs if word in s and s not in found]
    return found[:count]


def not_found(slug: str, candidates: list[tuple[str, str]]) -> NotFound:
    """A NotFound for an unknown slug, with "did you mean" suggestions."""
    suggestions = suggest(slug, candidates)
    hint = f"; did you mean {', '.join(suggestions)}?" if suggestions else ""
    return NotFound(
        f"package {slug!r} is not in the index{hint}",
        details={"slug": slug, "suggestions": suggestions},
    )


@dataclass
class PackageDetail:
    """Everything the detail page shows about one version of a package."""

    entry: IndexEntry
    versions: list[IndexEntry]
    stats: PackageFigures
    warnings: list[str] = field(default_factory=list)
    reviews: list[ReviewRow] = field(default_factory=list)
    tenant: str = ""
    installed: tuple[str | None, str] | None = None

    @property
    def data(self) -> dict[str, Any]:
        return self.entry.data

    @property
    def manifest(self) -> dict[str, Any]:
        return self.entry.manifest

    @property
    def pricing_text(self) -> str:
        return describe_pricing(self.data.get("pricing"))

    def to_json(self) -> dict[str, Any]:
        data = self.data
        meta = self.manifest.get("package", {})
        return {
            "slug": data["slug"],
            "name": data["name"],
            "version": data["version"],
            "description": data.get("description", ""),
            "long_description": meta.get("long_description", ""),
            "category": data.get("category"),
            "keywords": data.get("keywords", []),
            "author": data.get("author"),
            "author_url": meta.get("author_url"),
            "repository_url": meta.get("repository_url"),
            "documentation_url": meta.get("documentation_url"),
            "icon_url": meta.get("icon_url"),
            "license": data.get("license"),
            "pricing": data.get("pricing"),
            "pricing_text": self.pricing_text,
            "min_tier": data.get("min_tier", "free"),
            "compatibility": {"platform": data.get("platform", "")},
            "dependencies": data.get("deps", {}),
            "includes": data.get("includes", {}),
            "config": self.manifest.get("config", {}),
            "signals": self.manifest.get("signals", {}),
            "sha256": data.get("sha256"),
            "archive": data.get("archive"),
            "published_at": data.get("published_at"),
            "yanked": bool(data.get("yanked")),
            "verified": self.entry.flags.get("verified", False),
            "featured": self.entry.flags.get("featured", False),
            "index": self.entry.index,
            "install_count": self.stats.install_count,
            "active_install_count": self.stats.active_install_count,
            "rating_avg": _rating(self.stats),
            "rating_count": self.stats.rating_count,
            "reviews": [asdict(r) for r in self.reviews],
            "installed": None
            if self.installed is None
            else {"tenant": self.tenant, "version": self.installed[0], "status": self.installed[1]},
            "versions": [
                {
                    "version": v.version,
                    "yanked": v.yanked,
                    "published_at": v.data.get("published_at"),
                }
                for v in self.versions
            ],
        }


def _newest_listed(entries: list[IndexEntry]) -> IndexEntry:
    def final(entry: IndexEntry) -> bool:
        try:
            return not Version(entry.version).is_prerelease
        except InvalidVersion:
            return False

    for wanted in (lambda e: not e.yanked and final(e), lambda e: not e.yanked, lambda e: True):
        chosen = [e for e in entries if wanted(e)]
        if chosen:
            return chosen[-1]
    raise AssertionError("no versions")


def _show_spec(spec: str) -> tuple[str, str]:
    """``slug``, ``slug@1.2.0`` or ``slug==1.2.0`` as (canonical slug, version text)."""
    text = spec.strip()
    if "==" in text and "@" not in text:
        slug_text, _, version = text.partition("==")
    else:
        slug_text, _, version = text.partition("@")
    slug_text, version = slug_text.strip(), version.strip()
    if not is_valid_slug(slug_text) or (not version and (text.endswith(("@", "=")))):
        raise UsageError(
            f"invalid package {spec!r}: expected SLUG, SLUG@VERSION or SLUG==VERSION "
            "(show one version; use 'fleetprompt resolve' for ranges)"
        )
    return canonical_slug(slug_text), version


def show(settings: Settings, spec: str) -> PackageDetail:
    """The detail of ``slug`` or ``slug@version`` (default: the newest listed version)."""
    slug, version = _show_spec(spec)
    view = open_catalog(settings)
    try:
        entries = view.catalog.versions(slug)
        if not entries:
            raise not_found(slug, view.catalog.slugs_and_names())
    finally:
        view.catalog.close()
    if version:
        wanted = canonical_version(parse_version(version))
        matches = [e for e in entries if canonical_version(e.version) == wanted]
        if not matches:
            available = ", ".join(e.version for e in entries)
            raise NotFound(
                f"{slug} has no version {version.strip()} (available: {available})",
                details={"slug": slug, "versions": [e.version for e in entries]},
            )
        entry = matches[0]
    else:
        entry = _newest_listed(entries)
    stats = _stats(settings, [slug]).get(slug, PackageFigures(slug))
    reviews = read_reviews(settings.database_url, slug, REVIEWS_SHOWN) if stats.rating_count else []
    installed = fastread.read_installation(settings.database_url, settings.tenant, slug)
    return PackageDetail(
        entry, entries, stats, list(view.warnings), reviews, settings.tenant, installed
    )
