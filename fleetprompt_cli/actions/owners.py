"""Package owners in an index: list, add, remove (``owners/<slug>``).

The first publisher of a slug becomes its owner (see actions/publish.py);
only an owner may publish, yank, or change the owners of a slug. Every change
goes through :func:`fleetprompt_cli.actions.publish.transact`, like publish
and yank: one commit (and one push to a git index), refused before anything
is written when the actor is not an owner.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from fleetprompt_cli.actions.publish import (
    IndexChange,
    Written,
    check_identity,
    read_owners,
    require_owner,
    split_target,
    transact,
    write_owners,
)
from fleetprompt_cli.core.index import LocalIndex
from fleetprompt_cli.core.names import canonical_slug, is_valid_slug
from fleetprompt_cli.errors import AlreadyExists, NotFound, UsageError
from fleetprompt_cli.settings import Settings

__all__ = ["OwnersResult", "change_owner", "list_owners"]

_ACTOR = "the actor (FLEETPROMPT_ACTOR or 'actor')"


@dataclass
class OwnersResult:
    index: str
    slug: str
    owners: list[str] = field(default_factory=list)
    changed: bool = False
    commit: str | None = None
    pushed: bool = False


def _slug(slug: str) -> str:
    if not is_valid_slug(slug):
        raise UsageError(f"invalid package name {slug!r}")
    return canonical_slug(slug)


def _known(index: LocalIndex, slug: str) -> list[str] | None:
    owners = read_owners(index, slug)
    if owners is None and not index.versions(slug):
        raise NotFound(f"{slug} is not in the index {index.name}")
    return owners


def list_owners(settings: Settings, slug: str, *, index: str | Path | None) -> OwnersResult:
    """The owners of ``slug`` (an empty list: published before owners were recorded)."""
    slug = _slug(slug)
    target = split_target(settings, index)
    found: list[str] = []

    def apply(local: LocalIndex) -> IndexChange:
        found[:] = _known(local, slug) or []
        return IndexChange("List owners of", slug, settings.actor)

    outcome = transact(settings, target, apply, create=False)
    return OwnersResult(target.label if target.url else str(outcome.index.root), slug, found)


def change_owner(
    settings: Settings,
    slug: str,
    identity: str,
    *,
    add: bool,
    index: str | Path | None,
) -> OwnersResult:
    """Add or remove an owner of ``slug``; only an owner may, and the last one stays."""
    slug = _slug(slug)
    identity = check_identity(identity, "IDENTITY")
    actor = check_identity(settings.actor, _ACTOR)
    target = split_target(settings, index)
    result = OwnersResult("", slug)

    def apply(local: LocalIndex) -> IndexChange:
        owners = _known(local, slug)
        claimed = require_owner(local, slug, actor, doing="change the owners of")
        current = claimed if owners is None else owners
        assert current is not None
        if add:
            if identity in current and owners is not None:
                raise AlreadyExists(f"{identity} already owns {slug}")
            new = current if identity in current else [*current, identity]
        else:
            if identity not in current:
                raise NotFound(
                    f"{identity} is not an owner of {slug} (owners: {', '.join(current)})"
                )
            if current == [identity]:
                raise UsageError(
                    f"{identity} is the last owner of {slug}: add another owner before removing it"
                )
            new = [o for o in current if o != identity]
        verb = "Add owner" if add else "Remove owner"
        change = IndexChange(verb, f"{identity} of {slug}", actor)
        written = Written(local)
        try:
            change.records.append(write_owners(local, slug, new, written))
        except BaseException:
            written.undo()
            raise
        change.paths = written.paths(False)
        result.owners = new
        return change

    outcome = transact(settings, target, apply, create=False)
    result.index = target.label if target.url else str(outcome.index.root)
    result.changed = bool(outcome.change.paths)
    result.commit = outcome.commit
    result.pushed = outcome.pushed
    return result
