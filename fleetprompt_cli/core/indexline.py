"""The model every index line is checked against as it is read.

An index is often a git repository that other people write to, so a line is
untrusted input: each one is validated here (types, sizes, an archive path
that stays inside the index) before anything uses it, and a line that fails
is reported with its file and line number and skipped.  Unknown keys are
allowed (a newer fleetprompt may add some); known keys are strict: ``"yanked":
"false"`` is an error, not a yanked version.

Imported only when a package file is actually (re)read: pydantic is not for
the fast path of a search over an unchanged catalog.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from fleetprompt_cli.core.archive import check_archive_path
from fleetprompt_cli.core.names import SLUG_PATTERN
from fleetprompt_cli.core.vocab import LIMITS

__all__ = ["validate_line"]

_SHA256 = re.compile(r"^[0-9a-f]{64}$")

Short = Annotated[str, Field(max_length=LIMITS.short_text)]
Url = Annotated[str, Field(max_length=LIMITS.url)]
Slug = Annotated[str, Field(max_length=LIMITS.slug, pattern=SLUG_PATTERN)]
Spec = Annotated[str, Field(max_length=LIMITS.specifier)]
Finite = Annotated[float, Field(allow_inf_nan=False, ge=0)]


class _Strict(BaseModel):
    # Strict: no "1" for 1 and no "false" for False; extra keys are allowed
    # so that a newer fleetprompt can add fields.
    model_config = ConfigDict(extra="allow", strict=True, allow_inf_nan=False)


class _Component(_Strict):
    name: Short
    description: Annotated[str, Field(max_length=LIMITS.description)] = ""


class _PricingTier(_Strict):
    name: Short
    limit: int | None = None
    price: Finite


class _Pricing(_Strict):
    model: Short = "free"
    tiers: Annotated[list[_PricingTier], Field(max_length=100)] | None = None
    price: Finite | None = None
    percentage: Finite | None = None


class _ManifestPackage(_Strict):
    long_description: Annotated[str, Field(max_length=LIMITS.long_description)] | None = None
    author_url: Url | None = None
    repository_url: Url | None = None
    documentation_url: Url | None = None
    icon_url: Url | None = None


class _ConfigSpec(_Strict):
    type: Short
    required: bool = False
    choices: Annotated[list[Any], Field(max_length=LIMITS.config_items)] | None = None
    description: Annotated[str, Field(max_length=LIMITS.description)] = ""


class _ManifestComponent(_Strict):
    name: Short
    skills: list[Short] = []
    steps: list[Short] = []
    prompt_file: Url | None = None
    entrypoint: Url | None = None
    system_prompt: Annotated[str, Field(max_length=LIMITS.long_description)] | None = None
    instructions: Annotated[str, Field(max_length=LIMITS.long_description)] | None = None


class _Migration(_Strict):
    from_: Spec = Field("", alias="from")
    rename: dict[str, Short] = {}
    set_default: dict[str, Any] = {}
    remove: list[str] = []


class _ManifestData(_Strict):
    package: _ManifestPackage = _ManifestPackage()
    config: Annotated[dict[str, _ConfigSpec], Field(max_length=LIMITS.config_items)] = {}
    agents: list[_ManifestComponent] = []
    workflows: list[_ManifestComponent] = []
    skills: list[_ManifestComponent] = []
    tools: list[_ManifestComponent] = []
    migrations: list[_Migration] = []
    signals: dict[str, Any] = {}
    dependencies: dict[str, Spec] = {}


class _HiddenUnicode(_Strict):
    # Findings of the content audit published anyway (--allow-hidden-unicode).
    errors: Annotated[int, Field(ge=0)] = 0
    warnings: Annotated[int, Field(ge=0)] = 0
    rules: Annotated[list[Short], Field(max_length=20)] = []


class IndexLine(_Strict):
    """One version line of a package file."""

    schema_: int = Field(1, alias="schema")
    slug: Slug
    name: Annotated[str, Field(min_length=1, max_length=LIMITS.name)]
    version: Annotated[str, Field(min_length=1, max_length=LIMITS.version)]
    description: Annotated[str, Field(max_length=LIMITS.description)] = ""
    category: Short | None = None
    keywords: Annotated[
        list[Annotated[str, Field(max_length=LIMITS.keyword)]], Field(max_length=LIMITS.keywords)
    ] = []
    author: Short | None = None
    license: Short | None = None
    pricing: _Pricing = _Pricing()
    min_tier: Short | None = "free"
    platform: Spec = ""
    deps: Annotated[dict[Slug, Spec], Field(max_length=LIMITS.config_items)] = {}
    includes: dict[Literal["agents", "workflows", "skills", "tools"], list[_Component]] = {}
    sha256: str = Field(pattern=_SHA256.pattern)
    size: Annotated[int, Field(ge=0)] | None = None
    archive: Url
    yanked: bool = False
    published_at: Short | None = None
    hidden_unicode: _HiddenUnicode | None = None
    manifest: _ManifestData = _ManifestData()

    @field_validator("archive")
    @classmethod
    def _archive(cls, value: str) -> str:
        reason = check_archive_path(value)
        if reason:
            raise ValueError(f"{value!r} {reason}" if not reason[0].isupper() else reason)
        return value


_MAX_DEPTH = 64


def _finite(value: Any, depth: int = 0) -> bool:
    """Whether a JSON value holds no NaN or infinity (config defaults are free-form)."""
    if isinstance(value, float):
        return math.isfinite(value)
    if depth > _MAX_DEPTH:
        raise ValueError(f"nested more than {_MAX_DEPTH} levels deep")
    if isinstance(value, list):
        return all(_finite(item, depth + 1) for item in value)
    if isinstance(value, dict):
        return all(_finite(item, depth + 1) for item in value.values())
    return True


def validate_line(data: Any) -> None:
    """Raise ValueError naming the first problems of a parsed index line."""
    try:
        IndexLine.model_validate(data)
    except ValidationError as error:
        raise ValueError(_describe(error)) from None
    if not _finite(data):
        raise ValueError("holds NaN or Infinity, which JSON does not allow")


def _describe(error: ValidationError) -> str:
    parts = []
    for item in error.errors()[:3]:
        where = ".".join(str(p) for p in item["loc"]).replace("schema_", "schema") or "(line)"
        message = re.sub(r" or instance of \w+", "", item["msg"].removeprefix("Value error, "))
        if item["type"] == "missing":
            message = "required field is missing"
        parts.append(f"{where}: {message}")
    more = error.error_count() - len(parts)
    return "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")
