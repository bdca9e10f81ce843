"""The fixed vocabularies of the manifest (kept apart so that readers of the
catalog need not import pydantic to know them)."""

from __future__ import annotations

__all__ = ["CATEGORIES", "CONFIG_TYPES", "PRICING_MODELS", "TIERS", "TIER_ORDER"]

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
