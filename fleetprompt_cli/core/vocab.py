"""The fixed vocabularies: the one place each set of words is spelled out.

Manifest words (categories, tiers, pricing models, config types), the
statuses of installations, directives and steps, and the size limits. Every
other module imports them from here (the store's check constraints, the
manifest model's ``Literal`` types, the CLI's choices and styles), so a new
word is added once. Kept free of pydantic and the store so that readers of
the catalog (``search``, ``show``) can know them cheaply.
"""

from __future__ import annotations

from typing import Literal, get_args

__all__ = [
    "CATEGORIES",
    "CONFIG_TYPES",
    "DIRECTIVE_KINDS",
    "DIRECTIVE_STATUSES",
    "FINISHED_DIRECTIVE_STATUSES",
    "INSTALLATION_STATUSES",
    "LIMITS",
    "OPEN_DIRECTIVE_STATUSES",
    "PRICING_MODELS",
    "RELEASE_ACTIONS",
    "RELEASE_STATUSES",
    "RESOURCE_KINDS",
    "STEP_ACTIONS",
    "STEP_STATUSES",
    "TIERS",
    "TIER_ORDER",
    "Category",
    "ConfigType",
    "PricingModel",
    "Tier",
    "tier_rank",
]

# The Literal types are what the manifest model checks against; the tuples
# are derived from them, so the two cannot drift apart.
Category = Literal[
    "operations", "customer_service", "sales", "data", "development", "marketing", "finance", "hr"
]
Tier = Literal["free", "pro", "enterprise"]
PricingModel = Literal["free", "freemium", "paid", "revenue_share"]
ConfigType = Literal["string", "integer", "number", "boolean", "list"]

CATEGORIES: tuple[str, ...] = get_args(Category)
TIERS: tuple[str, ...] = get_args(Tier)
PRICING_MODELS: tuple[str, ...] = get_args(PricingModel)
CONFIG_TYPES: tuple[str, ...] = get_args(ConfigType)
TIER_ORDER = {tier: rank for rank, tier in enumerate(TIERS)}
RESOURCE_KINDS = ("agent", "workflow", "skill", "tool")

# An installation's statuses; core/lifecycle.py holds the transitions between them.
INSTALLATION_STATUSES = (
    "queued",
    "installing",
    "active",
    "paused",
    "failed",
    "cancelled",
    "upgrading",
    "uninstalling",
    "uninstalled",
)
# ``policy``: a policy change or an approval, recorded (finished) for the audit trail.
DIRECTIVE_KINDS = ("install", "upgrade", "uninstall", "rollback", "sync", "policy")
DIRECTIVE_STATUSES = ("pending", "running", "succeeded", "failed", "cancelled")
# A directive in one of these statuses is still to be (or being) applied:
# a worker may claim it, recover may finish it, and it holds its packages.
OPEN_DIRECTIVE_STATUSES = ("pending", "running")
FINISHED_DIRECTIVE_STATUSES = ("succeeded", "failed", "cancelled")
STEP_ACTIONS = ("install", "upgrade", "downgrade", "keep", "uninstall")
STEP_STATUSES = ("pending", "running", "done", "failed", "cancelled", "undone")
# A numbered revision of a package (store/models.py Release): what made it,
# and where it stands (helm's words: the one deployed, those it superseded,
# failed attempts, and the last one of a package since uninstalled).
RELEASE_ACTIONS = (
    "install",
    "upgrade",
    "downgrade",
    "configure",
    "sync",
    "rollback",
    "undo",
)
RELEASE_STATUSES = ("deployed", "superseded", "failed", "uninstalled")


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
