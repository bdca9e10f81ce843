"""Version sets as bitsets, PubGrub terms and incompatibilities.

Each package's known versions are sorted once; a set of its versions is a
Python ``int`` whose bit ``i`` stands for the ``i``-th oldest version.  Set
membership is decided by ``packaging`` (``SpecifierSet.filter``) exactly once
per (package, specifier set), so the search itself only does integer
arithmetic and PEP 440's rules are never re-implemented.

A term is ``(positive, mask)``: positive means "the package is selected at a
version in the set"; negative means "the package is not selected at a version
in the set" (it may be absent).  ``(False, 0)`` is the term that always holds.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from packaging.specifiers import SpecifierSet
from packaging.version import Version

from .model import Candidate

__all__ = [
    "ROOT",
    "Incompatibility",
    "Package",
    "intersect",
    "is_subset",
    "union",
]

# The root package stands for the request itself; no canonical slug is empty.
ROOT = ""

Term = tuple[bool, int]


def intersect(a: Term, b: Term) -> Term:
    """The term that holds exactly when both ``a`` and ``b`` hold."""
    ap, am = a
    bp, bm = b
    if ap:
        return (True, am & bm) if bp else (True, am & ~bm)
    return (True, bm & ~am) if bp else (False, am | bm)


def union(a: Term, b: Term) -> Term:
    """The term that holds when ``a`` or ``b`` holds."""
    ap, am = a
    bp, bm = b
    if ap:
        return (True, am | bm) if bp else (False, bm & ~am)
    return (False, am & ~bm) if bp else (False, am & bm)


def is_subset(a: Term, b: Term) -> bool:
    """Whether every selection satisfying ``a`` also satisfies ``b``."""
    ap, am = a
    bp, bm = b
    if ap:
        return not (am & ~bm) if bp else not (am & bm)
    # A negative term allows the package to be absent, which no positive term does.
    return False if bp else not (bm & ~am)


def _version_of(candidate: Candidate) -> Version:
    return candidate.version


class Package:
    """A package's known versions, sorted oldest first, with cached specifier masks."""

    __slots__ = (
        "candidates",
        "decided_dependencies",
        "dep_incompatibilities",
        "full",
        "installed_index",
        "masks",
        "seq",
        "slug",
        "versions",
    )

    def __init__(self, slug: str, candidates: Sequence[Candidate], seq: int) -> None:
        ordered = sorted(candidates, key=_version_of)
        versions = [candidate.version for candidate in ordered]
        # Two spellings of one version (1.0 and 1.0.0) are one version: keep the first
        # given (a stable sort keeps them adjacent and in their original order).
        if any(a == b for a, b in itertools.pairwise(versions)):
            kept = [0] + [i for i in range(1, len(versions)) if versions[i] != versions[i - 1]]
            ordered = [ordered[i] for i in kept]
            versions = [versions[i] for i in kept]
        self.slug = slug
        self.candidates = ordered
        self.versions = versions
        self.full = (1 << len(self.versions)) - 1
        self.masks: dict[SpecifierSet, int] = {}
        self.dep_incompatibilities: dict[str, list[Incompatibility]] = {}
        self.decided_dependencies: dict[int, list[Incompatibility]] = {}
        self.installed_index: int | None = None
        self.seq = seq

    def mask(self, specifier: SpecifierSet) -> int:
        """The set of known versions ``specifier`` contains (pre-releases included)."""
        mask = self.masks.get(specifier)
        if mask is None:
            # filter() yields the matching versions in their given (sorted) order, so
            # one forward walk finds each one's position.
            versions = self.versions
            mask = i = 0
            for version in specifier.filter(versions, prereleases=True):
                while versions[i] is not version and versions[i] != version:
                    i += 1
                mask |= 1 << i
            self.masks[specifier] = mask
        return mask

    def describe(self, mask: int) -> str:
        """A compact, exact text for a set of known versions (``>=2.0``, ``==1.0 | ==1.2``)."""
        if mask == self.full and len(self.versions) != 1:
            return "*"
        if not mask:
            return "(no versions)"
        runs: list[tuple[int, int]] = []
        i, n = 0, len(self.versions)
        while i < n:
            if mask >> i & 1:
                j = i
                while j + 1 < n and mask >> (j + 1) & 1:
                    j += 1
                runs.append((i, j))
                i = j + 1
            else:
                i += 1
        texts = []
        for low, high in runs:
            if low == high:
                texts.append(f"=={self.versions[low]}")
            elif low == 0:
                texts.append(f"<={self.versions[high]}")
            elif high == n - 1:
                texts.append(f">={self.versions[low]}")
            else:
                texts.append(f">={self.versions[low]},<={self.versions[high]}")
        return " | ".join(texts)


class Incompatibility:
    """A set of terms that must not all hold at once, and why we know it.

    ``kind`` is ``derived`` (then ``causes`` holds the two incompatibilities it
    was derived from) or the name of an external fact: ``root``, ``request``,
    ``installed``, ``dependency``, ``platform``, ``prerelease`` or ``yanked``;
    ``data`` carries what the explanation needs to state that fact.
    """

    __slots__ = ("causes", "data", "kind", "terms")

    def __init__(
        self,
        terms: tuple[tuple[str, bool, int], ...],
        kind: str,
        data: tuple = (),
        causes: tuple[Incompatibility, Incompatibility] | None = None,
    ) -> None:
        self.terms = terms
        self.kind = kind
        self.data = data
        self.causes = causes
