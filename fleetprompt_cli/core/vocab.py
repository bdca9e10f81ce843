"""The fixed vocabularies of the manifest (kept apart so that readers of the
catalog need not import pydantic to know them)."""

from __future__ import annotations

__all__ = [
    "CATEGORIES",
    "CONFIG_TYPES",
    "LIMITS",
    "PRICING_MODELS",
    "TIERS",
    "TIER_ORDER",
    "tier_rank",
]

CATEGORIES = (
    "operations",
    "customer_service",
    "sales",
    "data",
    "development",
    "marketing",
    "finance",
    "hr",
)
TIERS = ("free", "pro", "enterprise")
TIER_ORDER = {tier: rank for rank, tier in enumerate(TIERS)}
PRICING_MODELS = ("free", "freemium", "paid", "revenue_share")
CONFIG_TYPES = ("string", "integer", "number", "boolean", "list")


def tier_rank(tier: object) -> int:
    """A tier's rank; anything that is not a known tier ranks above every tier.

    The tier gate fails closed: ``"platinum"``, ``"PRO"``, ``""`` or ``null`` in
    an index line make a package installable by no tenant, not by every one.
    """
    return TIER_ORDER.get(tier, len(TIERS)) if isinstance(tier, str) else len(TIERS)


class LIMITS:
    """Size limits of manifests and index lines (documented in the README)."""

    slug = 64  # characters, as crates.io
    version = 64  # characters of a version text
    name = 100
    description = 512
    long_description = 65_536
    keyword = 50
    keywords = 20
    short_text = 200  # author, license, component names, tier, category
    url = 2_000
    specifier = 200
    config_string = 10_000  # a string config value (default or choice)
    config_items = 1_000  # items in a list value, choices, config keys
    index_line = 1_048_576  # characters of one index line
