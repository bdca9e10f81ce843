"""The package manifest, ``fleetprompt.toml``: model, loading and validation.

Validation is complete, not first-error: :func:`load_manifest` collects every
problem (TOML syntax with line and column, missing fields, wrong types, bad
versions and specifiers, dangling references, files that do not exist or
escape the package folder) and raises one :class:`ManifestError` listing
them all, each with its file and field path.
"""

from __future__ import annotations

import math
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    ValidationError,
    field_validator,
    model_validator,
)

from fleetprompt_cli.core.configs import CONFIG_VALUE_TYPES, config_value_matches
from fleetprompt_cli.core.names import canonical_slug, canonical_version, is_valid_slug
from fleetprompt_cli.core.pricing import describe_pricing
from fleetprompt_cli.core.vocab import (
    CATEGORIES,
    LIMITS,
    PRICING_MODELS,
    TIERS,
    Category,
    ConfigType,
    PricingModel,
    Tier,
)
from fleetprompt_cli.errors import InvalidInput

__all__ = [
    "CATEGORIES",
    "MANIFEST_NAME",
    "PRICING_MODELS",
    "SCHEMA_VERSION",
    "TIERS",
    "Agent",
    "ConfigField",
    "Manifest",
    "ManifestError",
    "Problem",
    "Skill",
    "load_manifest",
    "parse_skill_reference",
]

MANIFEST_NAME = "fleetprompt.toml"
SCHEMA_VERSION = 1


# Signal types are lower-case dot-separated segments, at least two of them.
# Subscriptions may end in ``.*`` to match every type under a prefix.
_SIGNAL_TYPE = re.compile(r"^[a-z0-9_]+(\.[a-z0-9_]+)+$")
_SIGNAL_PATTERN = re.compile(r"^[a-z0-9_]+(\.[a-z0-9_]+)*(\.\*)?$")
_COMPONENT_NAME = re.compile(r"^\S(.*\S)?$")


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a manifest: where, and what was expected."""

    file: str
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}: {self.field}" if self.field else self.file
        return f"{where}: {self.message}"


class ManifestError(InvalidInput):
    """A manifest with one or more problems; ``problems`` lists them all."""

    kind = "manifest"

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        count = len(problems)
        heading = f"{count} problem{'s' if count != 1 else ''} in {problems[0].file}"
        lines = "\n".join(f"  - {p.field or '(file)'}: {p.message}" for p in problems)
        super().__init__(
            f"{heading}:\n{lines}",
            details={
                "problems": [
                    {"file": p.file, "field": p.field, "message": p.message} for p in problems
                ]
            },
        )


class _Model(BaseModel):
    # No NaN or Infinity anywhere: JSON (the index, --json) has no such numbers.
    model_config = ConfigDict(extra="forbid", populate_by_name=True, allow_inf_nan=False)


Short = Annotated[str, Field(max_length=LIMITS.short_text)]
Description = Annotated[str, Field(max_length=LIMITS.description)]
Url = Annotated[str, Field(max_length=LIMITS.url)]
ComponentName = Annotated[str, Field(pattern=_COMPONENT_NAME.pattern, max_length=LIMITS.short_text)]


def _check_value(value: Any, where: str = "value", depth: int = 0) -> None:
    """A config value (default, choice, migration default): finite, within the size limits."""
    if depth > 32:
        raise ValueError(f"{where} is nested more than 32 levels deep")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{where} {value!r} is not a finite number (JSON has no NaN or Infinity)")
    if isinstance(value, str) and len(value) > LIMITS.config_string:
        raise ValueError(f"{where} is longer than {LIMITS.config_string} characters")
    if isinstance(value, list | dict):
        if len(value) > LIMITS.config_items:
            raise ValueError(f"{where} has more than {LIMITS.config_items} items")
        for item in value.values() if isinstance(value, dict) else value:
            _check_value(item, where, depth + 1)


def _check_specifier(value: str) -> str:
    # The author's text is kept as written (SpecifierSet would reorder it);
    # only its validity is checked here.
    if len(value) > LIMITS.specifier:
        raise ValueError(f"version specifier is longer than {LIMITS.specifier} characters")
    try:
        SpecifierSet(value)
        return value.strip()
    except InvalidSpecifier:
        raise ValueError(
            f"invalid version specifier {value!r}: expected PEP 440, e.g. '>=1.2,<2'"
        ) from None


class PricingTier(_Model):
    name: Short
    limit: int | None = None
    price: float = Field(ge=0)


class Pricing(_Model):
    """The pricing model and its config (tiers, price or revenue share)."""

    model: PricingModel = "free"
    tiers: list[PricingTier] | None = None
    price: float | None = Field(default=None, ge=0)
    percentage: float | None = Field(default=None, gt=0, le=100)

    @model_validator(mode="after")
    def _config_matches_model(self) -> Pricing:
        needs = {"freemium": "tiers", "paid": "price", "revenue_share": "percentage"}
        wanted = needs.get(self.model)
        if wanted and getattr(self, wanted) is None:
            raise ValueError(f"pricing model {self.model!r} needs '{wanted}'")
        for name in ("tiers", "price", "percentage"):
            if name != wanted and getattr(self, name) is not None:
                raise ValueError(f"'{name}' does not apply to pricing model {self.model!r}")
        return self

    def describe(self) -> str:
        """Pricing in words, as the marketplace shows it."""
        return describe_pricing(self.model_dump(exclude_none=True))


class PackageMeta(_Model):
    """The ``[package]`` table."""

    slug: str
    name: str = Field(min_length=1, max_length=LIMITS.name)
    version: str
    description: str = Field(min_length=1, max_length=LIMITS.description)
    long_description: str | None = Field(None, max_length=LIMITS.long_description)
    readme: str | None = None
    category: Category
    keywords: list[Annotated[str, Field(max_length=LIMITS.keyword)]] = Field(
        [], max_length=LIMITS.keywords
    )
    author: str = Field(min_length=1, max_length=LIMITS.short_text)
    author_url: Url | None = None
    repository_url: Url | None = None
    documentation_url: Url | None = None
    license: Short = "MIT"
    icon_url: Url | None = None
    min_tier: Tier = "free"
    pricing: Pricing = Pricing()

    @field_validator("slug")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not is_valid_slug(value):
            raise ValueError(
                f"invalid slug {value[:80]!r}: use letters, digits and dashes, e.g. 'field-service'"
            )
        if len(value) > LIMITS.slug:
            raise ValueError(f"slug is {len(value)} characters, over the {LIMITS.slug} limit")
        return canonical_slug(value)

    @field_validator("version")
    @classmethod
    def _version(cls, value: str) -> str:
        if len(value) > LIMITS.version:
            raise ValueError(f"version is longer than {LIMITS.version} characters")
        try:
            parsed = Version(value)
        except InvalidVersion:
            raise ValueError(
                f"invalid version {value!r}: expected a PEP 440 version such as '1.2.0'"
            ) from None
        if parsed.local is not None:
            raise ValueError(
                f"local version {value!r} cannot be published: drop '+{parsed.local}' "
                "(a local version could shadow the public one)"
            )
        return str(parsed)

    @model_validator(mode="after")
    def _one_description_source(self) -> PackageMeta:
        if self.long_description is not None and self.readme is not None:
            raise ValueError("give either 'long_description' or 'readme', not both")
        return self


class Compatibility(_Model):
    platform: str = ""

    @field_validator("platform")
    @classmethod
    def _platform(cls, value: str) -> str:
        return _check_specifier(value)


class Skill(_Model):
    name: ComponentName
    description: Description = ""
    entrypoint: str | None = None
    instructions: str | None = None


class Agent(_Model):
    name: ComponentName
    description: Description = ""
    system_prompt: str | None = None
    prompt_file: str | None = None
    skills: list[str] = []
    config: dict[str, Any] = {}

    @field_validator("config")
    @classmethod
    def _config(cls, value: dict[str, Any]) -> dict[str, Any]:
        _check_value(value, "config")
        return value

    @model_validator(mode="after")
    def _one_prompt_source(self) -> Agent:
        if self.system_prompt is not None and self.prompt_file is not None:
            raise ValueError("give either 'system_prompt' or 'prompt_file', not both")
        return self


class Workflow(_Model):
    name: ComponentName
    description: Description = ""
    steps: list[str] = []


class Tool(_Model):
    name: ComponentName
    description: Description = ""
    entrypoint: str | None = None


class ConfigField(_Model):
    """One key of the installation config schema."""

    type: ConfigType
    default: Any = None
    required: bool = False
    choices: list[Any] | None = None
    description: Description = ""

    @model_validator(mode="after")
    def _default_and_choices_match_type(self) -> ConfigField:
        _check_value(self.default, "default")
        _check_value(self.choices, "choices")
        if self.default is not None and not config_value_matches(self.type, self.default):
            raise ValueError(f"default {self.default!r} is not of type {self.type!r}")
        for choice in self.choices or []:
            if not config_value_matches(self.type, choice):
                raise ValueError(f"choice {choice!r} is not of type {self.type!r}")
        if (
            self.choices is not None
            and self.default is not None
            and self.default not in self.choices
        ):
            raise ValueError(f"default {self.default!r} is not one of the choices {self.choices!r}")
        return self


class Subscription(_Model):
    type: str
    handler: str

    @field_validator("type")
    @classmethod
    def _type(cls, value: str) -> str:
        if not _SIGNAL_PATTERN.fullmatch(value) or "." not in value:
            raise ValueError(
                f"invalid signal type {value!r}: expected lower-case dot-separated segments "
                "[a-z0-9_]+, at least two, optionally ending in '.*'"
            )
        return value


def _signal_type(value: str) -> str:
    if not _SIGNAL_TYPE.fullmatch(value):
        raise ValueError(
            f"invalid signal type {value!r}: expected lower-case dot-separated "
            "segments [a-z0-9_]+, at least two (e.g. 'field_service.job.completed')"
        )
    return value


class Signals(_Model):
    emits: list[Annotated[str, AfterValidator(_signal_type)]] = []
    subscribes: list[Subscription] = []


class Migration(_Model):
    """Carries an installation's config from older versions on upgrade."""

    from_: str = Field(alias="from")
    rename: dict[str, str] = {}
    set_default: dict[str, Any] = {}
    remove: list[str] = []

    @field_validator("from_")
    @classmethod
    def _from(cls, value: str) -> str:
        return _check_specifier(value)

    @field_validator("set_default")
    @classmethod
    def _set_default(cls, value: dict[str, Any]) -> dict[str, Any]:
        for key, item in value.items():
            _check_value(item, f"set_default.{key}")
        return value


class Manifest(_Model):
    """A validated ``fleetprompt.toml``."""

    schema_version: StrictInt
    package: PackageMeta
    compatibility: Compatibility = Compatibility()
    dependencies: dict[str, str] = {}
    skills: list[Skill] = []
    agents: list[Agent] = []
    workflows: list[Workflow] = []
    tools: list[Tool] = []
    config: dict[str, ConfigField] = {}
    signals: Signals = Signals()
    migrations: list[Migration] = []

    @field_validator("dependencies")
    @classmethod
    def _dependencies(cls, value: dict[str, str]) -> dict[str, str]:
        result: dict[str, str] = {}
        for slug, spec in value.items():
            if not is_valid_slug(slug) or len(slug) > LIMITS.slug:
                raise ValueError(f"invalid dependency name {slug[:80]!r}")
            result[canonical_slug(slug)] = _check_specifier(spec)
        return result

    @property
    def slug(self) -> str:
        return self.package.slug

    @property
    def version(self) -> Version:
        return Version(self.package.version)

    @property
    def canonical_version(self) -> str:
        return canonical_version(self.package.version)

    def includes(self) -> dict[str, list[dict[str, str]]]:
        """What the package installs, grouped by kind, names and descriptions only."""
        return {
            kind: [{"name": c.name, "description": c.description} for c in getattr(self, kind)]
            for kind in ("agents", "workflows", "skills", "tools")
        }

    def to_data(self) -> dict[str, Any]:
        """The manifest as plain JSON-ready data, TOML field names."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


def parse_skill_reference(reference: str) -> tuple[str | None, str]:
    """Split ``DEP:SKILL`` into (canonical dependency slug, skill); own skills give None."""
    if ":" in reference:
        dep, skill = reference.split(":", 1)
        return canonical_slug(dep.strip()), skill.strip()
    return None, reference


def load_manifest(path: Path) -> tuple[Manifest, Path]:
    """Load and fully validate a manifest; ``path`` is a package folder or the file.

    Returns the manifest (with ``readme`` folded into ``long_description``)
    and the package folder.  Raises :class:`ManifestError` with every problem.
    """
    path = Path(path)
    file = path / MANIFEST_NAME if path.is_dir() else path
    root = file.parent
    label = str(file)
    if not file.is_file():
        raise ManifestError(
            [
                Problem(
                    label,
                    "",
                    "no such file (expected a package folder "
                    f"containing {MANIFEST_NAME}, or the file itself)",
                )
            ]
        )
    try:
        # utf-8-sig: a byte-order mark (as some Windows editors write) is accepted.
        data = tomllib.loads(file.read_text(encoding="utf-8-sig"))
    except UnicodeDecodeError as error:
        raise ManifestError([Problem(label, "", f"not UTF-8 text: {error}")]) from None
    except tomllib.TOMLDecodeError as error:
        raise ManifestError([Problem(label, "", f"invalid TOML: {error}")]) from None
    except RecursionError:
        raise ManifestError([Problem(label, "", "invalid TOML: nested too deeply")]) from None
    problems: list[Problem] = []
    try:
        manifest = validate_data(data, root, label)
    except ManifestError as error:
        problems = error.problems
    except RecursionError:
        problems = [Problem(label, "", "nested too deeply")]
    # What publish would refuse to archive (links, special files, sizes).
    from fleetprompt_cli.core.archive import check_package_files

    try:
        check_package_files(root)
    except InvalidInput as error:
        problems.append(Problem(label, "(files)", error.message))
    if problems:
        raise ManifestError(problems)
    return manifest, root


def validate_data(data: dict[str, Any], root: Path, label: str) -> Manifest:
    """Validate parsed manifest data against the model and the package folder."""
    schema = data.get("schema_version")
    if isinstance(schema, int) and not isinstance(schema, bool) and schema > SCHEMA_VERSION:
        raise ManifestError(
            [
                Problem(
                    label,
                    "schema_version",
                    f"manifest schema {schema} is newer than this fleetprompt supports "
                    f"({SCHEMA_VERSION}): upgrade fleetprompt",
                )
            ]
        )
    problems: list[Problem] = []
    try:
        manifest = Manifest.model_validate(data)
    except ValidationError as error:
        problems = [_problem_from_pydantic(label, e) for e in error.errors()]
    problems += _check_references(data, root, label)
    if problems:
        raise ManifestError(problems)
    if manifest.package.readme is not None:
        text = (root / manifest.package.readme).read_text(encoding="utf-8", errors="replace")
        if len(text) > LIMITS.long_description:
            raise ManifestError(
                [
                    Problem(
                        label,
                        "package.readme",
                        f"{manifest.package.readme} is longer than "
                        f"{LIMITS.long_description} characters",
                    )
                ]
            )
        manifest.package.long_description = text
    return manifest


def _problem_from_pydantic(label: str, error: Any) -> Problem:
    parts: list[str] = []
    for part in error["loc"]:
        if isinstance(part, int):
            parts[-1:] = [f"{parts[-1]}[{part}]"] if parts else [f"[{part}]"]
        elif part == "from_":
            parts.append("from")
        else:
            parts.append(str(part))
    message = error["msg"]
    if error["type"] == "missing":
        message = "required field is missing"
    elif error["type"] == "extra_forbidden":
        message = "unknown field"
    elif message.startswith("Value error, "):
        message = message.removeprefix("Value error, ")
    elif "input" in error and error["type"] not in ("missing",):
        message = f"{message} (got {error['input']!r})"
    return Problem(label, ".".join(parts), message)


def _check_file(root: Path, relative: str, label: str, field: str) -> Problem | None:
    """A referenced file must exist inside the package folder."""
    if "\x00" in relative:
        return Problem(label, field, f"{relative!r} contains a NUL character")
    candidate = Path(relative)
    if candidate.is_absolute():
        return Problem(
            label,
            field,
            f"{relative!r} is an absolute path: use a path relative to the package folder",
        )
    resolved_root = root.resolve()
    target = (root / candidate).resolve()
    if not target.is_relative_to(resolved_root):
        return Problem(label, field, f"{relative!r} points outside the package folder")
    if not target.is_file():
        return Problem(label, field, f"file {relative!r} does not exist in the package folder")
    return None


def _items(data: Any, key: str) -> list[dict[str, Any]]:
    """The tables of an array-of-tables field, skipping malformed ones (pydantic reports those)."""
    value = data.get(key) if isinstance(data, dict) else None
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _table(data: Any, key: str) -> dict[str, Any]:
    value = data.get(key) if isinstance(data, dict) else None
    return value if isinstance(value, dict) else {}


def _strings(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _check_references(data: dict[str, Any], root: Path, label: str) -> list[Problem]:
    """Cross-references and files, checked on the raw data so that they are
    reported together with any type errors pydantic found."""
    problems: list[Problem] = []

    def add(field: str, message: str) -> None:
        problems.append(Problem(label, field, message))

    def check_file(relative: Any, field: str) -> None:
        if isinstance(relative, str) and (problem := _check_file(root, relative, label, field)):
            problems.append(problem)

    package = _table(data, "package")
    raw_slug = package.get("slug")
    slug = (
        canonical_slug(raw_slug) if isinstance(raw_slug, str) and is_valid_slug(raw_slug) else None
    )
    check_file(package.get("readme"), "package.readme")
    dependencies = {canonical_slug(k) for k in _table(data, "dependencies") if is_valid_slug(k)}
    if slug is not None and slug in dependencies:
        add(f"dependencies.{slug}", "a package cannot depend on itself")

    names: dict[str, set[str]] = {}
    for kind in ("skills", "agents", "workflows", "tools"):
        seen: set[str] = set()
        for i, component in enumerate(_items(data, kind)):
            name = component.get("name")
            if not isinstance(name, str):
                continue
            if name in seen:
                add(f"{kind}[{i}].name", f"duplicate {kind[:-1]} name {name!r}")
            seen.add(name)
        names[kind] = seen

    for kind in ("skills", "tools"):
        for i, component in enumerate(_items(data, kind)):
            check_file(component.get("entrypoint"), f"{kind}[{i}].entrypoint")
    for i, agent in enumerate(_items(data, "agents")):
        check_file(agent.get("prompt_file"), f"agents[{i}].prompt_file")
        for j, reference in enumerate(_strings(agent.get("skills"))):
            dep, skill = parse_skill_reference(reference)
            field = f"agents[{i}].skills[{j}]"
            if dep is None:
                if skill not in names["skills"]:
                    add(
                        field,
                        f"skill {skill!r} is not a skill of this package (declare it "
                        "under [[skills]] or name a dependency's skill as 'DEP:SKILL')",
                    )
            elif dep not in dependencies:
                add(field, f"{reference!r} names {dep!r}, which is not in [dependencies]")
            elif not skill:
                add(field, f"{reference!r} names no skill after ':'")
    workflow_parts = names["agents"] | names["skills"]
    for i, workflow in enumerate(_items(data, "workflows")):
        for j, step in enumerate(_strings(workflow.get("steps"))):
            if step not in workflow_parts:
                add(
                    f"workflows[{i}].steps[{j}]",
                    f"step {step!r} is not an agent or skill of this package",
                )

    signals = _table(data, "signals")
    if slug is not None:
        own_prefix = slug.replace("-", "_") + "."
        for i, signal in enumerate(_strings(signals.get("emits"))):
            if _SIGNAL_TYPE.fullmatch(signal) and not signal.startswith(own_prefix):
                add(
                    f"signals.emits[{i}]",
                    f"signal {signal!r} must start with {own_prefix!r}: "
                    "a package emits only under its own slug",
                )
    # A handler is one of the package's own agents, workflows or skills
    # (signal handlers are per resource kind; a tool has none).
    components = names["agents"] | names["workflows"] | names["skills"]
    for i, subscription in enumerate(_items(signals, "subscribes")):
        handler = subscription.get("handler")
        if isinstance(handler, str) and handler not in components:
            add(
                f"signals.subscribes[{i}].handler",
                f"handler {handler!r} is not a component of this package "
                "(an agent, workflow or skill)",
            )

    config = _table(data, "config")
    for i, migration in enumerate(_items(data, "migrations")):
        for old, new in _table(migration, "rename").items():
            if isinstance(new, str) and new not in config:
                add(
                    f"migrations[{i}].rename.{old}",
                    f"renames to {new!r}, which is not a key of [config]",
                )
        for key, value in _table(migration, "set_default").items():
            spec = config.get(key)
            value_type = spec.get("type") if isinstance(spec, dict) else None
            if spec is None:
                add(f"migrations[{i}].set_default.{key}", f"{key!r} is not a key of [config]")
            elif value_type in CONFIG_VALUE_TYPES and not config_value_matches(value_type, value):
                add(
                    f"migrations[{i}].set_default.{key}",
                    f"{value!r} is not of type {value_type!r}",
                )
    return problems
