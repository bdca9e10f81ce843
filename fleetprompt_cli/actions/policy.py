"""Tenant policy: show, set and edit it; approve packages; judge what is installed.

The global default policy is ``[policy]`` in config.toml; each tenant may
have a policy in the state store (versioned: every change is a new version,
recorded as a finished ``policy`` directive) that only tightens it.  The
effective policy judges every package an install, upgrade or sync would
bring, before anything is written (:func:`policy_gate`), and refuses with
exit 5 naming the package and the rule.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from fleetprompt_cli.core import policy as rules
from fleetprompt_cli.core.names import canonical_slug
from fleetprompt_cli.core.policy import Candidate, Policy, Verdict
from fleetprompt_cli.errors import InvalidInput, NotFound, UsageError

if TYPE_CHECKING:
    from types import ModuleType

    from fleetprompt_cli.core.index import IndexEntry, LocalIndex
    from fleetprompt_cli.settings import Settings
    from fleetprompt_cli.store.engine import Store

__all__ = [
    "PolicyView",
    "TenantPolicyData",
    "approve",
    "candidate_of",
    "global_policy",
    "judge",
    "list_approvals",
    "parse_assignments",
    "policy_data",
    "policy_gate",
    "set_policy",
    "show_policy",
]


def global_policy(settings: Settings) -> Policy:
    """The global default policy from config.toml (InvalidInput naming a bad rule)."""
    table, where = settings.policy_table
    return rules.parse_policy(table, where)


@dataclass(frozen=True)
class TenantPolicyData:
    """What a tenant's policy check reads from the store: rules in force and approvals."""

    version: int = 0
    rules: dict[str, Any] = field(default_factory=dict)
    approved: frozenset[str] = frozenset()


def policy_data(s: Any, repo: ModuleType, tenant_id: int) -> TenantPolicyData:
    """The tenant's policy and approvals, over an ORM session or a fast reader."""
    if hasattr(repo, "current_policy"):
        row = repo.current_policy(s, tenant_id)
        approved = frozenset(a.slug for a in repo.list_approvals(s, tenant_id))
        if row is None:
            return TenantPolicyData(approved=approved)
        return TenantPolicyData(row.version, dict(row.rules), approved)
    # The fast reader (store/fastread.Reader): plain SQL, no ORM.
    found = s.rows(
        "SELECT version, rules FROM tenant_policies WHERE tenant_id = ?"
        " ORDER BY version DESC LIMIT 1",
        (tenant_id,),
    )
    approved = frozenset(
        row[0]
        for row in s.rows("SELECT slug FROM package_approvals WHERE tenant_id = ?", (tenant_id,))
    )
    if not found:
        return TenantPolicyData(approved=approved)
    version, raw = found[0]
    data = json.loads(raw) if isinstance(raw, str) else dict(raw)
    return TenantPolicyData(version, data, approved)


def _tenant_rules(data: TenantPolicyData, tenant: str) -> Policy | None:
    if not data.version:
        return None
    return rules.parse_policy(data.rules, f"tenant {tenant!r} policy v{data.version}")


# -- judging packages -----------------------------------------------------------


def candidate_of(
    entry: IndexEntry,
    *,
    index_url: str = "",
    owners: Sequence[str] = (),
    signed: bool = False,
    requested: bool = True,
) -> Candidate:
    """What the policy looks at in an index entry."""
    data = entry.data
    pricing = data.get("pricing") or {}
    includes = data.get("includes") or {}
    hidden = data.get("hidden_unicode") or {}
    recorded = int(hidden.get("errors") or 0) if isinstance(hidden, dict) else 0
    # The line's own text (names, descriptions, inline prompts) is scanned
    # too: a line that hides characters without recording them still counts.
    from fleetprompt_cli.core.audit import has_errors, scan_value

    scanned = has_errors(scan_value(data.get("manifest") or {}, "manifest"))
    publishers = tuple(p for p in (data.get("author"), *owners) if isinstance(p, str) and p)
    return Candidate(
        slug=entry.slug,
        version=entry.version,
        index=entry.index,
        index_url=index_url,
        category=data.get("category"),
        publishers=publishers,
        pricing=str(pricing.get("model") or "free") if isinstance(pricing, dict) else "free",
        signed=signed,
        tools=len(includes.get("tools") or []) if isinstance(includes, dict) else 0,
        hidden_errors=max(recorded, int(scanned)),
        requested=requested,
    )


def judge(
    settings: Settings, tenant: str, data: TenantPolicyData, candidates: Sequence[Candidate]
) -> tuple[Policy, list[Verdict]]:
    """The effective policy and its verdict on each candidate."""
    effective = rules.effective(global_policy(settings), _tenant_rules(data, tenant))
    return effective, [rules.evaluate(effective, c, data.approved) for c in candidates]


def signed_releases(
    settings: Settings, indexes: Sequence[LocalIndex], entries: Sequence[IndexEntry]
) -> set[tuple[str, str]]:
    """(slug, version) of the entries whose signature holds under the index's pinned keys."""
    from fleetprompt_cli.actions.trust import trusted_keys
    from fleetprompt_cli.core.names import canonical_version
    from fleetprompt_cli.indexio.verify import check_entry, read_signatures

    sources = {source.name: source for source in settings.indexes}
    roots = {index.name: index for index in indexes}
    rings: dict[str, Any] = {}
    signed = set()
    for entry in entries:
        source, index = sources.get(entry.index), roots.get(entry.index)
        if source is None or index is None:
            continue
        if entry.index not in rings:
            rings[entry.index], _ = trusted_keys(settings, source, index.root)
        records, _bad = read_signatures(index.root, entry.slug)
        mine = records.get(canonical_version(entry.version), [])
        if mine and not check_entry(entry, mine, rings[entry.index], "require"):
            signed.add((entry.slug, entry.version))
    return signed


def policy_gate(
    settings: Settings,
    tenant: str,
    data: TenantPolicyData,
    entries: Sequence[tuple[IndexEntry, bool]],
    indexes: Sequence[LocalIndex] = (),
    *,
    doing: str = "install",
    raise_refusal: bool = True,
) -> list[Verdict]:
    """Judge ``(entry, requested)`` pairs; raise PolicyDenied (exit 5) if one is refused."""
    urls = {source.name: source.url for source in settings.indexes}
    signed: set[tuple[str, str]] = set()
    effective = rules.effective(global_policy(settings), _tenant_rules(data, tenant))
    if effective.get("require_signed"):
        signed = signed_releases(settings, indexes, [entry for entry, _ in entries])
    owners: dict[str, list[str]] = {}
    if effective.get("allow_publishers") is not None or effective.get("deny_publishers"):
        # The publishers are the line's author and the owners the index
        # records (an owners file that cannot be read refuses, naming it).
        from fleetprompt_cli.actions.publish import read_owners

        roots = {index.name: index for index in indexes}
        for entry, _ in entries:
            index = roots.get(entry.index)
            if index is not None:
                owners[entry.slug] = read_owners(index, entry.slug) or []
    candidates = [
        candidate_of(
            entry,
            index_url=urls.get(entry.index, ""),
            owners=owners.get(entry.slug, ()),
            signed=(entry.slug, entry.version) in signed,
            requested=requested,
        )
        for entry, requested in entries
    ]
    _, verdicts = judge(settings, tenant, data, candidates)
    if raise_refusal and any(not v.allowed for v in verdicts):
        raise rules.refusal(verdicts, tenant, doing)
    return verdicts


# -- showing and changing ------------------------------------------------------------


@dataclass
class PolicyView:
    """A tenant's policy: the global one, the tenant's version, the effective rules."""

    tenant: str
    global_rules: dict[str, Any]
    version: int
    tenant_rules: dict[str, Any]
    effective: dict[str, Any]
    approved: list[str]
    actor: str | None = None
    at: datetime | None = None
    directive: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "tenant": self.tenant,
            "global": self.global_rules,
            "version": self.version,
            "policy": self.tenant_rules,
            "effective": self.effective,
            "approved": self.approved,
            "actor": self.actor,
            "at": None if self.at is None else self.at.isoformat(),
            "directive": self.directive,
        }


def _view(settings: Settings, s: Any, repo: ModuleType, tenant_id: int, name: str) -> PolicyView:
    base = global_policy(settings)
    row = repo.current_policy(s, tenant_id)
    mine = None if row is None else rules.parse_policy(row.rules, f"tenant {name!r} policy")
    effective = rules.effective(base, mine)
    return PolicyView(
        name,
        base.to_json(),
        0 if row is None else row.version,
        {} if mine is None else mine.to_json(),
        effective.to_json(),
        sorted(a.slug for a in repo.list_approvals(s, tenant_id)),
        None if row is None else row.actor,
        None if row is None else row.created_at,
        None if row is None else row.directive_id,
    )


def show_policy(settings: Settings, store: Store, tenant: str) -> PolicyView:
    """The tenant's policy (and the global one it tightens)."""
    from fleetprompt_cli.actions.tenants import tenant_of
    from fleetprompt_cli.store import repository as repo

    tenant_id, name, _ = tenant_of(store, tenant)
    with store.session(readonly=True) as s:
        return _view(settings, s, repo, tenant_id, name)


def parse_assignments(assignments: Sequence[str]) -> dict[str, Any]:
    """``RULE=VALUE`` pairs, VALUE in TOML syntax (``["a", "b"]``, ``true``, ``"allow"``)."""
    out: dict[str, Any] = {}
    for item in assignments:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise UsageError(f"{item[:80]!r}: expected RULE=VALUE")
        try:
            out[key] = tomllib.loads(f"v = {value.strip()}")["v"]
        except tomllib.TOMLDecodeError:
            raise UsageError(
                f'{key}: {value[:80]!r} is not a TOML value (lists: ["a", "b"]; '
                "true/false; strings in quotes)"
            ) from None
    return out


def read_policy_file(path: Any) -> dict[str, Any]:
    """A policy TOML file: rules at the top level or under ``[policy]``."""
    from pathlib import Path

    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise NotFound(f"{path}: no such policy file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"{path}: cannot read the policy file ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput(f"{path}: not valid TOML ({exc})") from None
    if set(data) == {"policy"} and isinstance(data["policy"], dict):
        return dict(data["policy"])
    return data


def set_policy(
    settings: Settings,
    store: Store,
    tenant: str,
    new_rules: dict[str, Any],
    *,
    where: str,
    replace: bool = False,
    unset: Sequence[str] = (),
) -> PolicyView:
    """Write the tenant's next policy version (merged with the current one unless ``replace``).

    Refused before anything is written: an unknown rule or a bad value
    (exit 8), a rule that loosens the global policy (exit 8, naming it).
    """
    from fleetprompt_cli.actions.publish import check_identity
    from fleetprompt_cli.actions.tenants import tenant_of
    from fleetprompt_cli.store import repository as repo

    actor = check_identity(settings.actor, "the actor (FLEETPROMPT_ACTOR or 'actor')")
    base = global_policy(settings)
    rules.parse_policy(new_rules, where)
    for rule in unset:
        if rule not in rules.RULES:
            raise InvalidInput(
                f"--unset: unknown policy rule {rule[:60]!r}", details={"rule": rule}
            )
    tenant_id, name, _ = tenant_of(store, tenant)
    with store.session() as s:
        repo.lock_tenant(s, tenant_id)
        row = repo.current_policy(s, tenant_id)
        merged = {} if replace or row is None else dict(row.rules)
        merged.update(new_rules)
        for rule in unset:
            merged.pop(rule, None)
        parsed = rules.parse_policy(merged, where)
        rules.check_tightens(parsed, base)
        if row is not None and parsed.to_json() == rules.parse_policy(row.rules, where).to_json():
            return _view(settings, s, repo, tenant_id, name)
        directive = repo.create_directive(
            s,
            tenant_id,
            actor=actor,
            kind="policy",
            command="policy set",
            arguments={"policy": parsed.to_json(), "source": where},
        )
        repo.add_policy_version(
            s, tenant_id, parsed.to_json(), actor=actor, directive_id=directive.id
        )
        repo.finish_directive(s, tenant_id, directive.id, "succeeded")
        return _view(settings, s, repo, tenant_id, name)


def approve(settings: Settings, store: Store, tenant: str, slug: str) -> tuple[str, bool]:
    """Approve ``slug`` to install tools in the tenant; returns (slug, newly approved).

    The package must be installed in the tenant or published in a configured
    index (NotFound, exit 3, otherwise).  Recorded as a ``policy`` directive.
    """
    from fleetprompt_cli.actions.publish import check_identity
    from fleetprompt_cli.actions.tenants import tenant_of
    from fleetprompt_cli.store import repository as repo

    actor = check_identity(settings.actor, "the actor (FLEETPROMPT_ACTOR or 'actor')")
    slug = canonical_slug(slug)
    tenant_id, name, _ = tenant_of(store, tenant)
    with store.session(readonly=True) as s:
        installed = repo.find_installation(s, tenant_id, slug) is not None
    if not installed and not _published(settings, slug):
        raise NotFound(
            f"{slug} is not installed in tenant {name!r} and not in any configured index: "
            "nothing to approve",
            details={"slug": slug, "tenant": name},
        )
    with store.session() as s:
        repo.lock_tenant(s, tenant_id)
        directive = repo.create_directive(
            s,
            tenant_id,
            actor=actor,
            kind="policy",
            command=f"approve {slug}",
            arguments={"approve": slug},
        )
        _, new = repo.add_approval(s, tenant_id, slug, actor=actor, directive_id=directive.id)
        if new:
            repo.finish_directive(s, tenant_id, directive.id, "succeeded")
        else:
            s.rollback()
        return slug, new


def _published(settings: Settings, slug: str) -> bool:
    from fleetprompt_cli.actions.indexes import open_catalog

    view = open_catalog(settings)
    try:
        return bool(view.catalog.versions(slug))
    finally:
        view.catalog.close()


def list_approvals(store: Store, tenant: str) -> list[dict[str, Any]]:
    """The tenant's approved packages: slug, who, when."""
    from fleetprompt_cli.actions.tenants import tenant_of
    from fleetprompt_cli.store import repository as repo

    tenant_id, _, _ = tenant_of(store, tenant)
    with store.session(readonly=True) as s:
        return [
            {
                "slug": a.slug,
                "actor": a.actor,
                "at": a.created_at.isoformat(),
                "directive": a.directive_id,
            }
            for a in repo.list_approvals(s, tenant_id)
        ]
