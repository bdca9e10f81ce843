"""Seeded dependency graphs for the resolver benchmark, generated on demand.

A graph is never stored: each package's versions and dependencies are a pure
function of (seed, size, variant, slug), computed when the package is asked
for, so a 10,000 x 30 graph costs no memory until a resolver loads it (and a
resolver that loads fewer packages pays for fewer).

* **base packages** ``pkg-NNNNN`` form a DAG: each depends on three packages
  a little further down (a window of ~N/50), with lower bounds that rise with
  its own version (``>=``, sometimes ``>=X,<99``), always satisfiable by the
  newest version.  The request is the first ten packages.
* **easy**: only base packages; newest-everywhere is a solution.
* **hard**: the newest half of the versions of three requested packages also
  depend on ``anchor-R`` (which needs ``pin-R ==1.0.0``) and on a chain
  ``trap-R-0 -> ... -> trap-R-(D-1)`` whose every version ends in ``pin-R
  ==2.0.0``.  The conflict shows only at depth D+1; the solution is to take an
  older version of the top-level package.  A backtracking resolver that tries
  the trap's versions one by one faces V**D combinations.
* **unsat**: as hard, but every version of those packages has the trap, so
  no solution exists and the explanation must say why.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass

__all__ = ["SIZES", "VARIANTS", "Graph", "all_graphs"]

SIZES = {"small": (200, 10), "medium": (2_000, 20), "large": (10_000, 30)}
VARIANTS = ("easy", "hard", "unsat")
ROOTS = 10
HARD_ROOTS = 3

# A raw version: (version text, {dependency slug: specifier text}).
RawVersion = tuple[str, dict[str, str]]


def version_text(k: int) -> str:
    """The k-th oldest version of every generated package (1.0.0, 1.1.0, ... 2.0.0, ...)."""
    return _VERSION_TEXTS[k] if k < len(_VERSION_TEXTS) else f"{1 + k // 5}.{k % 5}.0"


_VERSION_TEXTS = [f"{1 + k // 5}.{k % 5}.0" for k in range(64)]


@dataclass(frozen=True)
class Graph:
    """One benchmark graph: a size, a variant and a seed."""

    size: str
    variant: str
    seed: int = 20_260_101

    @property
    def name(self) -> str:
        return f"{self.size}-{self.variant}"

    @property
    def packages(self) -> int:
        return SIZES[self.size][0]

    @property
    def versions(self) -> int:
        return SIZES[self.size][1]

    @property
    def depth(self) -> int:
        return {"small": 10, "medium": 20, "large": 30}[self.size]

    def request(self) -> list[str]:
        """The requirements (slugs, any version) the benchmark resolves."""
        return [self._base(i) for i in range(ROOTS)]

    @staticmethod
    def _base(i: int) -> str:
        return f"pkg-{i:05d}"

    def slugs(self) -> Iterator[str]:
        """Every package of the graph (for writing wheels)."""
        for i in range(self.packages):
            yield self._base(i)
        if self.variant != "easy":
            for r in range(HARD_ROOTS):
                yield f"anchor-{r}"
                yield f"pin-{r}"
                for d in range(self.depth):
                    yield f"trap-{r}-{d}"

    def package(self, slug: str) -> list[RawVersion]:
        """The versions of ``slug`` with their dependencies; ``[]`` when unknown."""
        n, v = self.packages, self.versions
        if slug.startswith("pkg-"):
            i = int(slug[4:])
            if not 0 <= i < n:
                return []
            return self._base_package(i)
        if self.variant == "easy":
            return []
        kind, _, rest = slug.partition("-")
        if kind == "pin":
            return [(version_text(k), {}) for k in range(v)]
        if kind == "anchor":
            return [(version_text(k), {f"pin-{rest}": "==1.0.0"}) for k in range(v)]
        if kind == "trap":
            r, _, d_text = rest.partition("-")
            d = int(d_text)
            rng = random.Random(f"{self.seed}-trap-{r}-{d}")
            # Embed the trap in the graph: each link also needs a deep base package.
            deep = self._base(rng.randrange(n // 2, n))
            result = []
            for k in range(v):
                deps = {deep: f">={version_text(k // 3)}"}
                if d + 1 < self.depth:
                    deps[f"trap-{r}-{d + 1}"] = f">={version_text(k // 2)}"
                else:
                    deps[f"pin-{r}"] = "==2.0.0"
                result.append((version_text(k), deps))
            return result
        return []

    def _base_package(self, i: int) -> list[RawVersion]:
        n, v = self.packages, self.versions
        rng = random.Random(self.seed * 1_000_003 + i)
        window = max(20, n // 50)
        ahead = list(range(i + 1, min(n, i + 1 + window)))
        targets = rng.sample(ahead, min(3, len(ahead)))
        capped = {t: rng.random() < 0.3 for t in targets}
        names = {t: self._base(t) for t in targets}
        result = []
        for k in range(v):
            deps = {}
            low = version_text(k // 2)
            for t in targets:
                deps[names[t]] = f">={low},<99" if capped[t] else f">={low}"
            trapped = i < HARD_ROOTS and (
                (self.variant == "hard" and k >= v // 2) or self.variant == "unsat"
            )
            if trapped:
                deps[f"anchor-{i}"] = ">=1.0.0"
                deps[f"trap-{i}-0"] = ">=1.0.0"
            result.append((version_text(k), deps))
        return result


def all_graphs(sizes: list[str], variants: list[str] | None = None) -> list[Graph]:
    """The graphs for the given sizes (in size order) and variants."""
    return [Graph(size, variant) for size in sizes for variant in (variants or VARIANTS)]
