"""Pricing in words, as the marketplace shows it (plain data in, text out)."""

from __future__ import annotations

from typing import Any

__all__ = ["describe_pricing"]


def _number(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "?"
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def describe_pricing(pricing: dict[str, Any] | None) -> str:
    """ "Free", "Free tier available", "$149/mo" or "15% revenue share"."""
    pricing = pricing or {}
    model = pricing.get("model", "free")
    if model == "free":
        return "Free"
    if model == "freemium":
        return "Free tier available"
    if model == "paid":
        return f"${_number(pricing.get('price'))}/mo"
    if model == "revenue_share":
        return f"{_number(pricing.get('percentage'))}% revenue share"
    return "Custom pricing"
