"""Package names, versions and requirements, all through ``packaging``.

A package is identified by its canonical slug (PEP 503, as ``packaging.utils``
``canonicalize_name``) and a version by the canonical slug and the
canonical version, so ``1.0`` and ``1.0.0`` are the same version.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from packaging.version import InvalidVersion, Version

from fleetprompt_cli.errors import UsageError

if TYPE_CHECKING:
    # Imported where used: compiling its grammar costs search and show ~10 ms.
    from packaging.specifiers import SpecifierSet

__all__ = [
    "SLUG_PATTERN",
    "Requirement",
    "canonical_slug",
    "canonical_version",
    "is_valid_slug",
    "parse_requirement",
    "parse_specifier",
    "parse_version",
]

# A slug as authors write it: letters, digits and single separators, starting
# and ending with a letter or digit (PEP 508 names, which canonicalize_name
# folds to lower case with dashes).
SLUG_PATTERN = r"^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?$"
_SLUG = re.compile(SLUG_PATTERN)
_REQUIREMENT = re.compile(r"^\s*(?P<slug>[A-Za-z0-9][A-Za-z0-9._-]*)\s*(?P<rest>.*?)\s*$")


def is_valid_slug(text: str) -> bool:
    """Whether ``text`` is a well-formed package name."""
    return bool(_SLUG.match(text))


_SEPARATORS = re.compile(r"[-_.]+")


def canonical_slug(text: str) -> str:
    """The canonical form of a slug: lower case, runs of ``-_.`` as one dash (PEP 503)."""
    # Not packaging.utils.canonicalize_name: importing packaging.utils pulls in
    # packaging.tags, ~50 ms on every command for a one-line rule.
    return _SEPARATORS.sub("-", text).lower()


def canonical_version(version: Version | str) -> str:
    """The canonical text of a version, trailing ``.0`` parts stripped (1.0.0 -> 1)."""
    parsed = version if isinstance(version, Version) else Version(version)
    release = list(parsed.release)
    while len(release) > 1 and release[-1] == 0:
        release.pop()
    text = f"{parsed.epoch}!" if parsed.epoch else ""
    text += ".".join(map(str, release))
    if parsed.pre is not None:
        text += f"{parsed.pre[0]}{parsed.pre[1]}"
    if parsed.post is not None:
        text += f".post{parsed.post}"
    if parsed.dev is not None:
        text += f".dev{parsed.dev}"
    if parsed.local is not None:
        text += f"+{parsed.local}"
    return text


# At most this many characters in a version (a 5,000-digit version would
# overflow Python's int conversion); the README documents it.
MAX_VERSION_LENGTH = 64
MAX_REQUIREMENT_LENGTH = 200


def parse_version(text: str) -> Version:
    """Parse a PEP 440 version or raise :class:`UsageError`."""
    if len(text) > MAX_VERSION_LENGTH:
        raise UsageError(
            f"invalid version {text[:20]}…: longer than {MAX_VERSION_LENGTH} characters"
        )
    try:
        return Version(text)
    except (InvalidVersion, ValueError):
        raise UsageError(f"invalid version {text!r}: expected a PEP 440 version") from None


def _check_versions(specifier: SpecifierSet, text: str) -> SpecifierSet:
    for spec in specifier:
        if len(spec.version) > MAX_VERSION_LENGTH:
            raise UsageError(
                f"invalid requirement {text[:40]}…: a version is longer than "
                f"{MAX_VERSION_LENGTH} characters"
            )
    return specifier


def parse_specifier(text: str) -> SpecifierSet:
    """Parse a PEP 440 specifier set (``>=1,<2``) or raise :class:`UsageError`."""
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    if len(text) > MAX_REQUIREMENT_LENGTH:
        raise UsageError(f"version specifier longer than {MAX_REQUIREMENT_LENGTH} characters")
    try:
        return _check_versions(SpecifierSet(text), text)
    except InvalidSpecifier:
        raise UsageError(f"invalid version specifier {text!r}: expected e.g. '>=1.2,<2'") from None


@dataclass(frozen=True)
class Requirement:
    """A request for a package: a canonical slug and a version specifier set."""

    slug: str
    specifier: SpecifierSet
    # The specifier as the person wrote it (``>=1,<2``), for messages; not compared.
    written: str | None = field(default=None, compare=False)

    def __str__(self) -> str:
        text = self.written if self.written is not None else str(self.specifier)
        return f"{self.slug}{text}" if text else self.slug


def parse_requirement(text: str) -> Requirement:
    """Parse ``slug``, ``slug==1.2.0``, ``slug>=1,<2`` or ``slug@1.2.0``."""
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    if len(text) > MAX_REQUIREMENT_LENGTH:
        raise UsageError(
            f"invalid requirement {text[:40]}…: longer than {MAX_REQUIREMENT_LENGTH} characters"
        )
    match = _REQUIREMENT.match(text)
    if not match or not is_valid_slug(match["slug"]):
        raise UsageError(
            f"invalid requirement {text!r}: expected 'slug', 'slug==1.2.0', "
            "'slug>=1,<2' or 'slug@1.2.0'"
        )
    slug = canonical_slug(match["slug"])
    rest = match["rest"]
    if rest.startswith("@"):
        version = parse_version(rest[1:].strip())
        return Requirement(slug, SpecifierSet(f"=={version}"))
    if not rest:
        return Requirement(slug, SpecifierSet())
    try:
        return Requirement(slug, _check_versions(SpecifierSet(rest), text), written=rest.strip())
    except InvalidSpecifier:
        raise UsageError(
            f"invalid requirement {text!r}: {rest!r} is not a version specifier "
            "(expected e.g. '>=1,<2', '==1.2.0' or '@1.2.0')"
        ) from None
