"""Tenant policy: what a tenant may install, checked before anything is written.

A policy is a flat table of rules (docs/governance.md is the contract):

========================  ===================================================
``allow_indexes``         globs over the index's name or URL; only these
``deny_indexes``          globs; never these
``allow_publishers``      globs over the package's ``author`` and index owners
``deny_publishers``
``allow_categories``      globs over the package's category
``deny_categories``
``allow_slugs``           globs over the package slug
``deny_slugs``
``require_signed``        ``true``: unsigned releases are refused
``allow_pricing``         pricing models allowed (``free``, ``freemium``,
                          ``paid``, ``revenue_share``)
``require_approval``      ``true``: a package that installs tools needs
                          ``fleetprompt approve SLUG`` first
``hidden_unicode``        ``refuse`` (default) or ``allow``: packages
                          published with hidden-Unicode errors
========================  ===================================================

A **global** policy (``[policy]`` in config.toml) applies to every tenant; a
tenant policy can only **tighten** it (:func:`check_tightens` refuses a rule
that loosens it, naming the rule).  The effective policy is the two merged
(:func:`effective`): deny lists add up, allow lists are the tenant's (which
lie within the global ones), booleans are ``or``-ed.  An absent allow list
allows everything.

Pure: no I/O.  Globs are :mod:`fnmatch` patterns matched case-insensitively.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from fleetprompt_cli.core.vocab import PRICING_MODELS
from fleetprompt_cli.errors import ExitCode, FleetPromptError, InvalidInput

__all__ = [
    "BOOL_RULES",
    "LIST_RULES",
    "RULES",
    "Candidate",
    "Policy",
    "PolicyDenied",
    "Verdict",
    "check_tightens",
    "effective",
    "evaluate",
    "parse_policy",
    "refusal",
]

# The subjects the allow/deny globs apply to.
SUBJECTS = ("indexes", "publishers", "categories", "slugs")
LIST_RULES = tuple(f"{kind}_{subject}" for subject in SUBJECTS for kind in ("allow", "deny"))
BOOL_RULES = ("require_signed", "require_approval")
HIDDEN_UNICODE = ("refuse", "allow")
RULES = (*LIST_RULES, "allow_pricing", *BOOL_RULES, "hidden_unicode")
_MAX_PATTERNS = 200
_MAX_PATTERN = 200


class PolicyDenied(FleetPromptError):
    """A package the tenant's policy refuses (exit 5, naming the rule)."""

    exit_code = ExitCode.DENIED
    kind = "policy"


@dataclass(frozen=True)
class Policy:
    """Parsed rules; ``None`` for an allow list means "everything"."""

    rules: dict[str, Any] = field(default_factory=dict)

    def get(self, rule: str) -> Any:
        return self.rules.get(rule)

    @property
    def hidden_unicode(self) -> str:
        return str(self.rules.get("hidden_unicode") or "refuse")

    def to_json(self) -> dict[str, Any]:
        return {rule: self.rules[rule] for rule in RULES if rule in self.rules}


def _patterns(value: Any, where: str, rule: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidInput(f"{where}: {rule}: expected a list of strings (glob patterns)")
    if len(value) > _MAX_PATTERNS:
        raise InvalidInput(f"{where}: {rule}: at most {_MAX_PATTERNS} patterns")
    for pattern in value:
        if not pattern.strip() or len(pattern) > _MAX_PATTERN or not pattern.isprintable():
            raise InvalidInput(
                f"{where}: {rule}: {pattern[:40]!r} is not a pattern "
                f"(1-{_MAX_PATTERN} printable characters)"
            )
    return list(dict.fromkeys(value))


def parse_policy(data: Any, where: str) -> Policy:
    """Validate a policy table (from TOML or JSON); ``where`` names it in messages.

    Unknown keys and wrong types are refused (InvalidInput, exit 8), naming the key.
    """
    if not isinstance(data, Mapping):
        raise InvalidInput(f"{where}: a policy is a table of rules")
    rules: dict[str, Any] = {}
    for key, value in data.items():
        if key not in RULES:
            raise InvalidInput(
                f"{where}: unknown policy rule {str(key)[:60]!r} (known: {', '.join(RULES)})",
                details={"rule": str(key)[:60]},
            )
        if key in LIST_RULES:
            rules[key] = _patterns(value, where, key)
        elif key == "allow_pricing":
            models = _patterns(value, where, key)
            unknown = [m for m in models if m not in PRICING_MODELS]
            if unknown:
                raise InvalidInput(
                    f"{where}: allow_pricing: unknown pricing model {unknown[0][:40]!r} "
                    f"(known: {', '.join(PRICING_MODELS)})"
                )
            rules[key] = models
        elif key in BOOL_RULES:
            if not isinstance(value, bool):
                raise InvalidInput(f"{where}: {key}: expected true or false")
            rules[key] = value
        else:  # hidden_unicode
            if value not in HIDDEN_UNICODE:
                raise InvalidInput(f"{where}: hidden_unicode: expected 'refuse' or 'allow'")
            rules[key] = value
    return Policy(rules)


def _within(pattern: str, allowed: Sequence[str]) -> bool:
    """Whether a tenant allow pattern lies within the global allow list.

    It does when it is one of the global patterns, or when the global
    patterns match it as a name (``team-*`` lies within ``*``).
    """
    lowered = pattern.lower()
    return any(lowered == a.lower() or fnmatch.fnmatchcase(lowered, a.lower()) for a in allowed)


def check_tightens(tenant: Policy, base: Policy) -> None:
    """Refuse a tenant rule that loosens the global policy (InvalidInput naming it)."""

    def refuse(rule: str, why: str) -> None:
        raise InvalidInput(
            f"policy rule {rule} loosens the global policy: {why}; a tenant policy can "
            "only tighten it",
            details={"rule": rule},
        )

    for subject in SUBJECTS:
        rule = f"allow_{subject}"
        mine, theirs = tenant.get(rule), base.get(rule)
        if mine is not None and theirs is not None:
            outside = [p for p in mine if not _within(p, theirs)]
            if outside:
                refuse(rule, f"{outside[0]!r} is not within the global {theirs}")
    mine, theirs = tenant.get("allow_pricing"), base.get("allow_pricing")
    if mine is not None and theirs is not None:
        extra = [m for m in mine if m not in theirs]
        if extra:
            refuse("allow_pricing", f"{extra[0]!r} is not allowed globally ({theirs})")
    for rule in BOOL_RULES:
        if base.get(rule) and tenant.get(rule) is False:
            refuse(rule, "the global policy sets it to true")
    if base.hidden_unicode == "refuse" and tenant.get("hidden_unicode") == "allow":
        refuse("hidden_unicode", "the global policy refuses hidden Unicode")


def effective(base: Policy, tenant: Policy | None) -> Policy:
    """The global policy tightened by the tenant's (which :func:`check_tightens` accepted)."""
    if tenant is None:
        return base
    rules: dict[str, Any] = {}
    for rule in RULES:
        mine, theirs = tenant.get(rule), base.get(rule)
        if rule.startswith("deny_"):
            merged = list(dict.fromkeys([*(theirs or []), *(mine or [])]))
            if merged:
                rules[rule] = merged
        elif rule in BOOL_RULES:
            if mine or theirs:
                rules[rule] = True
        elif rule == "hidden_unicode":
            if mine is not None or theirs is not None:
                refuse = "refuse" in (mine, theirs) or (mine is None and theirs is None)
                rules[rule] = "refuse" if refuse else "allow"
        else:  # allow lists: the tenant's when given (within the global one)
            chosen = mine if mine is not None else theirs
            if chosen is not None:
                rules[rule] = chosen
    return Policy(rules)


@dataclass(frozen=True)
class Candidate:
    """What the policy looks at in one package version about to be installed."""

    slug: str
    version: str
    index: str = ""
    index_url: str = ""
    category: str | None = None
    publishers: tuple[str, ...] = ()
    pricing: str = "free"
    signed: bool = False
    tools: int = 0
    hidden_errors: int = 0
    requested: bool = True


@dataclass
class Verdict:
    """The policy's answer for one package: allowed, or the rules that refuse it."""

    slug: str
    version: str
    refusals: list[dict[str, str]] = field(default_factory=list)
    requested: bool = True

    @property
    def allowed(self) -> bool:
        return not self.refusals

    def refuse(self, rule: str, why: str) -> None:
        self.refusals.append({"rule": rule, "message": why})

    def to_json(self) -> dict[str, Any]:
        return {
            "slug": self.slug,
            "version": self.version,
            "allowed": self.allowed,
            "requested": self.requested,
            "refusals": self.refusals,
        }


def _match(values: Sequence[str], patterns: Sequence[str]) -> str | None:
    for value in values:
        for pattern in patterns:
            if fnmatch.fnmatchcase(value.lower(), pattern.lower()):
                return value
    return None


def evaluate(policy: Policy, candidate: Candidate, approved: set[str] | frozenset[str]) -> Verdict:
    """Every rule of ``policy`` that refuses ``candidate`` (``approved``: slugs approved)."""
    verdict = Verdict(candidate.slug, candidate.version, requested=candidate.requested)
    subjects: dict[str, list[str]] = {
        "indexes": [v for v in (candidate.index, candidate.index_url) if v],
        "publishers": list(candidate.publishers),
        "categories": [candidate.category] if candidate.category else [],
        "slugs": [candidate.slug],
    }
    singular = {
        "indexes": "index",
        "publishers": "publisher",
        "categories": "category",
        "slugs": "slug",
    }
    for subject, values in subjects.items():
        deny = policy.get(f"deny_{subject}")
        if deny:
            hit = _match(values, deny)
            if hit is not None:
                verdict.refuse(f"deny_{subject}", f"{singular[subject]} {hit!r} is denied")
        allow = policy.get(f"allow_{subject}")
        if allow is not None and _match(values, allow) is None:
            shown = ", ".join(repr(v) for v in values) or "(none)"
            what = (
                f"none of the {subject} {shown} is allowed"
                if len(values) > 1
                else f"{singular[subject]} {shown} is not allowed"
            )
            verdict.refuse(f"allow_{subject}", what)
    pricing = policy.get("allow_pricing")
    if pricing is not None and candidate.pricing not in pricing:
        verdict.refuse("allow_pricing", f"pricing model {candidate.pricing!r} is not allowed")
    if policy.get("require_signed") and not candidate.signed:
        verdict.refuse("require_signed", "the release is not signed")
    if policy.get("require_approval") and candidate.tools and candidate.slug not in approved:
        verdict.refuse(
            "require_approval",
            f"it installs {candidate.tools} tool(s): run 'fleetprompt approve {candidate.slug}'",
        )
    if candidate.hidden_errors and policy.hidden_unicode == "refuse":
        verdict.refuse(
            "hidden_unicode",
            f"published with {candidate.hidden_errors} hidden-Unicode error(s)",
        )
    return verdict


def refusal(verdicts: Sequence[Verdict], tenant: str, doing: str = "install") -> PolicyDenied:
    """The one error for the refused verdicts: each package, each rule."""
    refused = [v for v in verdicts if not v.allowed]
    lines = [
        f"{v.slug} {v.version}{'' if v.requested else ' (a dependency)'}: "
        f"{r['rule']}: {r['message']}"
        for v in refused
        for r in v.refusals
    ]
    return PolicyDenied(
        f"tenant {tenant!r} policy refuses to {doing}:\n  "
        + "\n  ".join(lines)
        + "\nnothing was changed",
        details={"tenant": tenant, "verdicts": [v.to_json() for v in verdicts]},
    )
