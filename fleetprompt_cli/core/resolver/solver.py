"""PubGrub over finite version lists, and :func:`resolve`, which turns its answer into a plan.

The algorithm is the one described in Dart pub's ``solver.md`` and the
pubgrub-rs guide: unit propagation over incompatibilities, decisions, and
conflict resolution that learns a new incompatibility and backjumps.  Version
sets are bitsets over each package's known versions (see :mod:`.terms`).

Semantics decided here:

* **Newest wins.**  A decision takes the newest version still allowed, except
  that an installed package keeps its installed version when it is allowed
  and ``upgrade`` does not cover it.  The next package to decide is the one
  with the fewest versions left (ties: the one discovered first), which
  surfaces conflicts early.
* **Pre-releases** (uv's rule, made deterministic): a package's pre-releases
  are candidates when ``allow_prerelease`` is set, when it has nothing but
  pre-releases, when a requirement on it in the request names a pre-release,
  when the dependency edge through which the resolver first reaches it names
  one, or (for that one version) when it is installed at a pre-release.  The
  choice is made once per package, when its versions are first loaded; an
  edge found later does not reopen it (ask for the pre-release, or use
  ``--pre``).  Specifiers keep PEP 440's own exclusions either way: ``<2.0``
  never contains ``2.0a1`` and ``>1.0`` never contains ``1.0.post1``.
* **Yanked versions** (PEP 592) are candidates only when pinned exactly (a
  specifier set that is one ``==V`` without a wildcard, or ``===V``) by the
  request or by the edge that first reaches the package, or when installed;
  choosing one adds a warning.
* **Platform**: with ``platform_version``, versions whose ``platform`` does
  not contain it are never chosen, and an explanation names them.
* **Installed packages** are part of the root: each must stay selected (at any
  version), and their own dependencies must hold.  An installed package the
  source does not know is kept as is, with a warning.
* **Preferred versions** (a lock's): a package reached for another reason
  keeps its preferred version when it is allowed and ``upgrade`` does not
  cover it, like an installed one; unlike an installed one, it is not
  required, so a package no longer needed drops out.
* Only packages reached through a chosen version's dependencies (or the
  request, or the installed set) are loaded, each at most once.
"""

from __future__ import annotations

import gc
import heapq
import threading
from collections.abc import Collection, Mapping, Sequence

from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

from fleetprompt_cli.core.names import Requirement, canonical_slug

from .check import check_solution
from .explain import build_conflict, describe_incompatibility
from .model import PackageSource, Reporter, Resolution
from .plan import build_plan
from .terms import ROOT, Incompatibility, Package, intersect, is_subset, union

__all__ = ["resolve"]

_ANY = (False, 0)
_INCLUSIVE = frozenset({"==", ">=", "<=", "~=", "===", ">", "<"})


def _names_prerelease(specifier: SpecifierSet) -> bool:
    """Whether a specifier set names a pre-release in an inclusive clause (``>=2.0b1``)."""
    for spec in specifier:
        if spec.operator not in _INCLUSIVE:
            continue
        text = spec.version[:-2] if spec.version.endswith(".*") else spec.version
        try:
            if Version(text).is_prerelease:
                return True
        except InvalidVersion:
            # An arbitrary-equality (===) string need not be a version.
            continue
    return False


def _exact_pin(specifier: SpecifierSet) -> str | None:
    """The version text a set pins exactly (``==1.1`` or ``===1.1``), if it is such a pin."""
    specs = list(specifier)
    if len(specs) != 1:
        return None
    spec = specs[0]
    if spec.operator == "===" or (spec.operator == "==" and not spec.version.endswith(".*")):
        return spec.version
    return None


class _Conflict(Exception):
    """Internal: the root incompatibility was derived."""

    def __init__(self, incompatibility: Incompatibility) -> None:
        super().__init__()
        self.incompatibility = incompatibility


class _Solver:
    def __init__(
        self,
        requirements: Sequence[Requirement],
        source: PackageSource,
        installed: Mapping[str, Version],
        preferred: Mapping[str, Version],
        upgrade: bool | Collection[str],
        allow_prerelease: bool,
        platform_version: Version | None,
        reporter: Reporter,
    ) -> None:
        self.source = source
        self.requirements = [
            Requirement(canonical_slug(r.slug), r.specifier, r.written) for r in requirements
        ]
        self.installed = {canonical_slug(slug): v for slug, v in installed.items()}
        self.preferred = {canonical_slug(slug): v for slug, v in preferred.items()}
        self.upgrade: frozenset[str]
        if isinstance(upgrade, bool):
            self.upgrade_all, self.upgrade = upgrade, frozenset()
        else:
            self.upgrade_all, self.upgrade = False, frozenset(canonical_slug(s) for s in upgrade)
        self.allow_prerelease = allow_prerelease
        self.platform_version = platform_version
        self.reporter = reporter
        # Formatting a fragment per learned incompatibility costs time; skip it for no listener.
        self.report_conflicts = type(reporter).conflict is not Reporter.conflict
        self.warnings: list[str] = []
        self.unknown_installed: list[str] = []
        self.root_incompatibilities: list[Incompatibility] | None = None

        self.packages: dict[str, Package] = {}
        self.unknown: set[str] = set()
        self.prerelease_named: set[str] = set()
        self.pins: dict[str, set[str]] = {}
        self.incompatibilities: dict[str, list[Incompatibility]] = {}

        # The partial solution: assignments are (slug, positive, mask, level, cause,
        # previous accumulated term); a decision has cause None.
        self.assignments: list[tuple] = []
        self.accumulated: dict[str, tuple[bool, int]] = {}
        self.history: dict[str, list[int]] = {}
        self.decided: dict[str, int] = {}
        self.level = 0
        # Packages waiting for a decision, keyed (not yet in a conflict, versions left,
        # discovery order); entries go stale and are skipped rather than removed.
        self.queue: list[tuple[int, int, int, str]] = []
        self.conflicted: set[str] = set()

        root = Package(ROOT, [], 0)
        root.versions = [Version("0")]
        root.full = 1
        self.packages[ROOT] = root
        for requirement in self.requirements:
            self._note_edge(requirement.slug, requirement.specifier)

    # -- loading -----------------------------------------------------------------

    def _note_edge(self, slug: str, specifier: SpecifierSet) -> None:
        if _names_prerelease(specifier):
            self.prerelease_named.add(slug)
        pin = _exact_pin(specifier)
        if pin is not None:
            self.pins.setdefault(slug, set()).add(pin)

    def _load(self, slug: str) -> Package | None:
        package = self.packages.get(slug)
        if package is not None or slug in self.unknown:
            return package
        self.reporter.loading(slug)
        candidates = [
            c
            for c in self.source.candidates(slug)
            if c.slug == slug or canonical_slug(c.slug) == slug
        ]
        if not candidates:
            self.unknown.add(slug)
            return None
        package = Package(slug, candidates, len(self.packages))
        self.packages[slug] = package
        installed = self.installed.get(slug)
        held = installed if installed is not None else self.preferred.get(slug)
        if held is not None:
            # The version to keep when allowed (installed, or locked): also exempt
            # from the yanked and pre-release exclusions.
            try:
                package.installed_index = package.versions.index(held)
            except ValueError:
                how = "is installed" if installed is not None else "was locked"
                self.warnings.append(
                    f"{slug} {held} {how} but is no longer in the index; it will be replaced"
                )
        self._add_exclusions(package)
        return package

    def _add_exclusions(self, package: Package) -> None:
        """Record, as incompatibilities, the versions that are not candidates and why."""
        slug = package.slug
        candidates = package.candidates
        check_platform = self.platform_version is not None
        if (
            not any(c.yanked for c in candidates)
            and not (check_platform and any(c.platform is not None for c in candidates))
            and (self.allow_prerelease or not any(v.is_prerelease for v in package.versions))
        ):
            # The common case: every known version is a candidate.
            return
        keep = 0 if package.installed_index is None else 1 << package.installed_index
        prereleases = yanked = 0
        platforms: dict[str, int] = {}
        pins = self.pins.get(slug, ())
        for i, candidate in enumerate(package.candidates):
            bit = 1 << i
            if candidate.version.is_prerelease:
                prereleases |= bit
            if candidate.yanked and not any(
                pin == str(candidate.version) or _same_version(pin, candidate.version)
                for pin in pins
            ):
                yanked |= bit
            if (
                self.platform_version is not None
                and candidate.platform is not None
                and not candidate.platform.contains(self.platform_version, prereleases=True)
            ):
                key = str(candidate.platform)
                platforms[key] = platforms.get(key, 0) | bit
        allow = (
            self.allow_prerelease or prereleases == package.full or slug in self.prerelease_named
        )
        if not allow and prereleases & ~keep:
            self._add(Incompatibility(((slug, True, prereleases & ~keep),), "prerelease"))
        if yanked & ~keep:
            self._add(Incompatibility(((slug, True, yanked & ~keep),), "yanked"))
        for text, mask in platforms.items():
            data = (text, str(self.platform_version))
            self._add(Incompatibility(((slug, True, mask),), "platform", data))

    def _add(self, incompatibility: Incompatibility) -> None:
        for slug, _, _ in incompatibility.terms:
            self.incompatibilities.setdefault(slug, []).append(incompatibility)

    def _dependencies(self, slug: str, index: int) -> list[Incompatibility]:
        """The incompatibilities that state what ``slug`` at ``index`` depends on."""
        if slug == ROOT:
            return self._root_dependencies()
        package = self.packages[slug]
        cached = package.decided_dependencies.get(index)
        if cached is not None:
            return cached
        candidate = package.candidates[index]
        bit = 1 << index
        result: list[Incompatibility] = []
        package.decided_dependencies[index] = result
        for dep, specifier in candidate.dependencies.items():
            known = package.dep_incompatibilities.setdefault(dep, [])
            for incompatibility in known:
                if incompatibility.terms[0][2] & bit:
                    result.append(incompatibility)
                    break
            else:
                made = self._dependency(package, index, dep, specifier)
                if made is not None:
                    known.append(made)
                    self._add(made)
                    result.append(made)
        return result

    def _dependency(
        self, package: Package, index: int, dep: str, specifier: SpecifierSet
    ) -> Incompatibility | None:
        slug = package.slug
        if dep not in self.packages:
            self._note_edge(dep, specifier)
        target = self._load(dep)
        # The fact "these versions of slug depend on dep in specifier" holds for every
        # neighbouring version that declares the same edge; stating it for the whole run
        # lets one conflict rule out all of them at once.
        candidates = package.candidates
        low = high = index
        while low > 0 and _same_spec(candidates[low - 1].dependencies.get(dep), specifier):
            low -= 1
        while high + 1 < len(candidates) and _same_spec(
            candidates[high + 1].dependencies.get(dep), specifier
        ):
            high += 1
        own = ((1 << (high + 1)) - 1) ^ ((1 << low) - 1)
        # The specifier's text is only needed for an explanation: keep the object, and
        # the author's own spelling of it when the source gave one.
        written = candidates[index].written
        data = (dep, specifier, target is None, None if written is None else written.get(dep))
        if dep == slug:
            # A package that depends on itself constrains its own version.
            mask = package.mask(specifier)
            if (mask >> index) & 1:
                return None
            return Incompatibility(((slug, True, 1 << index),), "dependency", data)
        mask = 0 if target is None else target.mask(specifier)
        if not mask:
            # "Depends on nothing that exists": the versions themselves are unusable.
            return Incompatibility(((slug, True, own),), "dependency", data)
        return Incompatibility(((slug, True, own), (dep, False, mask)), "dependency", data)

    def _root_dependencies(self) -> list[Incompatibility]:
        if self.root_incompatibilities is not None:
            return self.root_incompatibilities
        result: list[Incompatibility] = []
        self.root_incompatibilities = result
        for requirement in self.requirements:
            slug = requirement.slug
            target = self._load(slug)
            mask = 0 if target is None else target.mask(requirement.specifier)
            data = (slug, requirement.specifier, target is None, requirement.written)
            terms: tuple = ((ROOT, True, 1),)
            if mask:
                terms += ((slug, False, mask),)
            result.append(Incompatibility(terms, "request", data))
        for slug in sorted(self.installed):
            target = self._load(slug)
            if target is None:
                self.unknown_installed.append(slug)
                self.warnings.append(
                    f"{slug} {self.installed[slug]} is installed but not in the index; kept as is"
                )
                continue
            kept = (slug, str(self.installed[slug]))
            terms = ((ROOT, True, 1), (slug, False, target.full))
            result.append(Incompatibility(terms, "installed", kept))
        for incompatibility in result:
            self._add(incompatibility)
        return result

    # -- the partial solution -------------------------------------------------------

    def _assign(self, slug: str, positive: bool, mask: int, cause: Incompatibility | None) -> None:
        previous = self.accumulated.get(slug)
        term = (positive, mask) if previous is None else intersect(previous, (positive, mask))
        self.accumulated[slug] = term
        self.history.setdefault(slug, []).append(len(self.assignments))
        self.assignments.append((slug, positive, mask, self.level, cause, previous))
        if term[0] and slug not in self.decided:
            package = self.packages[slug]
            heapq.heappush(
                self.queue,
                (slug not in self.conflicted, term[1].bit_count(), package.seq, slug),
            )

    def _backtrack(self, level: int) -> None:
        touched = set()
        assignments = self.assignments
        while assignments and assignments[-1][3] > level:
            slug, _, _, _, cause, previous = assignments.pop()
            self.history[slug].pop()
            if previous is None:
                del self.accumulated[slug]
            else:
                self.accumulated[slug] = previous
            if cause is None:
                del self.decided[slug]
            touched.add(slug)
        self.level = level
        self._requeue(touched)

    def _requeue(self, slugs) -> None:
        for slug in slugs:
            term = self.accumulated.get(slug)
            if term is not None and term[0] and slug not in self.decided:
                key = (slug not in self.conflicted, term[1].bit_count(), self.packages[slug].seq)
                heapq.heappush(self.queue, (*key, slug))

    # -- the algorithm --------------------------------------------------------------

    def solve(self) -> dict[str, int]:
        start = Incompatibility(((ROOT, False, 1),), "root")
        self._add(start)
        slug: str | None = ROOT
        while slug is not None:
            self._propagate(slug)
            slug = self._decide()
        return {s: i for s, i in self.decided.items() if s != ROOT}

    def undecided(self) -> list[str]:
        """Packages the partial solution requires but has not decided (none, when solved).

        PubGrub's solution is complete only when no positive term is left
        undecided; the queue is an index for choosing the next package, and
        this is the definition it must agree with.
        """
        return sorted(
            slug
            for slug, (positive, _) in self.accumulated.items()
            if positive and slug not in self.decided
        )

    def _propagate(self, start: str) -> None:
        accumulated = self.accumulated
        changed = [start]
        pending = {start}
        while changed:
            slug = changed.pop()
            pending.discard(slug)
            incompatibilities = self.incompatibilities.get(slug, ())
            i = len(incompatibilities)
            while i:
                i -= 1
                incompatibility = incompatibilities[i]
                # Relation of the incompatibility to the partial solution: satisfied,
                # almost satisfied (one term inconclusive, returned) or neither.
                open_term = None
                useless = False
                for term in incompatibility.terms:
                    s, positive, mask = term
                    current = accumulated.get(s)
                    if current is None:
                        if not positive and not mask:
                            continue
                        if positive and not mask:
                            # "Selected at no version" can never hold.
                            useless = True
                            break
                        inconclusive = True
                    elif current[0]:
                        held = current[1]
                        if positive:
                            if not held & ~mask:
                                continue
                            if not held & mask:
                                useless = True
                                break
                        else:
                            if not held & mask:
                                continue
                            if not held & ~mask:
                                useless = True
                                break
                        inconclusive = True
                    else:
                        held = current[1]
                        if positive:
                            if not mask & ~held:
                                useless = True
                                break
                        elif not mask & ~held:
                            continue
                        inconclusive = True
                    if inconclusive:
                        if open_term is not None:
                            useless = True
                            break
                        open_term = term
                if useless:
                    continue
                if open_term is None:
                    learned = self._resolve_conflict(incompatibility)
                    open_term = self._open_term(learned)
                    s, positive, mask = open_term
                    self._assign(s, not positive, mask, learned)
                    changed = [s]
                    pending = {s}
                    break
                s, positive, mask = open_term
                self._assign(s, not positive, mask, incompatibility)
                if s not in pending:
                    pending.add(s)
                    changed.append(s)

    def _open_term(self, incompatibility: Incompatibility) -> tuple[str, bool, int]:
        """The one term of a just-learned incompatibility that the solution leaves open."""
        for term in incompatibility.terms:
            s, positive, mask = term
            current = self.accumulated.get(s, (False, 0))
            if not is_subset(current, (positive, mask)):
                return term
        raise AssertionError("a learned incompatibility must be almost satisfied")

    def _satisfier(self, slug: str, term: tuple[bool, int]) -> int:
        """The index of the earliest assignment after which ``term`` is satisfied."""
        current = None
        assignments = self.assignments
        for k in self.history.get(slug, ()):
            _, positive, mask, _, _, _ = assignments[k]
            current = (positive, mask) if current is None else intersect(current, (positive, mask))
            if is_subset(current, term):
                return k
        raise AssertionError("term is not satisfied")

    def _resolve_conflict(self, incompatibility: Incompatibility) -> Incompatibility:
        created = False
        assignments = self.assignments
        while True:
            terms = incompatibility.terms
            if not terms or (len(terms) == 1 and terms[0][0] == ROOT and terms[0][1]):
                raise _Conflict(incompatibility)
            satisfier = -1
            satisfier_term: tuple[str, bool, int] | None = None
            found = []
            for term in terms:
                s, positive, mask = term
                if not positive and not mask:
                    continue
                k = self._satisfier(s, (positive, mask))
                found.append(k)
                if k > satisfier:
                    satisfier, satisfier_term = k, term
            assert satisfier_term is not None
            previous_level = 1
            for k in found:
                if k != satisfier:
                    previous_level = max(previous_level, assignments[k][3])
            slug, positive, mask = satisfier_term
            _, s_positive, s_mask, s_level, s_cause, _ = assignments[satisfier]
            current = (s_positive, s_mask)
            for k in self.history[slug]:
                if k >= satisfier:
                    break
                _, a_positive, a_mask, a_level, _, _ = assignments[k]
                current = intersect(current, (a_positive, a_mask))
                if is_subset(current, (positive, mask)):
                    previous_level = max(previous_level, a_level)
                    break
            if s_cause is None or previous_level < s_level:
                if created:
                    self._add(incompatibility)
                    # Like uv, decide the packages that take part in conflicts first:
                    # later conflicts among them then undo fewer unrelated decisions.
                    new = [s for s, _, _ in incompatibility.terms if s not in self.conflicted]
                    self.conflicted.update(new)
                    if self.report_conflicts:
                        self.reporter.conflict(
                            describe_incompatibility(incompatibility, self.packages)
                        )
                self._backtrack(previous_level)
                if created:
                    self._requeue(new)
                return incompatibility
            incompatibility = _prior_cause(incompatibility, s_cause, slug)
            created = True

    def _decide(self) -> str | None:
        queue = self.queue
        accumulated = self.accumulated
        while queue:
            fresh, count, _, slug = heapq.heappop(queue)
            if slug in self.decided:
                continue
            term = accumulated.get(slug)
            if (
                term is None
                or not term[0]
                or term[1].bit_count() != count
                or fresh != (slug not in self.conflicted)
            ):
                continue
            mask = term[1]
            package = self.packages[slug]
            index = package.installed_index
            if index is None or not (mask >> index) & 1 or self.upgrade_all or slug in self.upgrade:
                index = mask.bit_length() - 1
            dependencies = self._dependencies(slug, index)
            # Deciding a version one of whose dependencies already fails would be an
            # immediate conflict; propagating instead rules that version out.
            for incompatibility in dependencies:
                for s, p, m in incompatibility.terms:
                    if s != slug and not is_subset(accumulated.get(s, _ANY), (p, m)):
                        break
                else:
                    # The invariant this loop relies on: every package with a
                    # positive, undecided term has a live entry in the queue.  The
                    # entry just popped must go back, because the propagation that
                    # follows can end in a conflict whose backjump leaves this
                    # package's term as it is (the learned fact need not name it):
                    # then nothing else requeues it, and the solution would be
                    # "complete" without it (a plan missing a needed package).
                    heapq.heappush(queue, (fresh, count, package.seq, slug))
                    return slug
            self.level += 1
            self.decided[slug] = index
            self._assign(slug, True, 1 << index, None)
            if slug != ROOT:
                self.reporter.decided(slug, package.versions[index])
            return slug
        return None


def _same_spec(a: SpecifierSet | None, b: SpecifierSet) -> bool:
    return a is b or (a is not None and a == b)


def _same_version(pin: str, version: Version) -> bool:
    try:
        return Version(pin) == version
    except InvalidVersion:
        return False


def _prior_cause(
    incompatibility: Incompatibility, cause: Incompatibility, slug: str
) -> Incompatibility:
    """Resolve two incompatibilities on ``slug`` into the one they imply together."""
    terms: dict[str, tuple[bool, int]] = {}
    own: tuple[bool, int] | None = None
    for s, positive, mask in incompatibility.terms:
        if s == slug:
            own = (positive, mask)
        else:
            terms[s] = (positive, mask)
    for s, positive, mask in cause.terms:
        if s == slug:
            other = (positive, mask)
            own = other if own is None else union(own, other)
        elif s in terms:
            terms[s] = intersect(terms[s], (positive, mask))
        else:
            terms[s] = (positive, mask)
    if own is not None and own != (False, 0):
        terms[slug] = own
    merged = tuple((s, p, m) for s, (p, m) in terms.items() if p or m)
    return Incompatibility(merged, "derived", causes=(incompatibility, cause))


def resolve(
    requirements: Sequence[Requirement],
    source: PackageSource,
    *,
    installed: Mapping[str, Version] | None = None,
    preferred: Mapping[str, Version] | None = None,
    upgrade: bool | Collection[str] = False,
    allow_prerelease: bool = False,
    platform_version: Version | None = None,
    reporter: Reporter | None = None,
) -> Resolution:
    """Choose a version of every needed package, or raise :class:`ResolutionConflict`.

    ``installed`` packages stay in the solution (their versions kept unless the
    request forces a change or ``upgrade`` names them); ``preferred`` versions
    (a lock's) are kept the same way when their package is needed at all.
    """
    solver = _Solver(
        requirements,
        source,
        installed or {},
        preferred or {},
        upgrade,
        allow_prerelease,
        platform_version,
        reporter or Reporter(),
    )
    # The search allocates many small objects and no reference cycles; the cyclic
    # garbage collector's passes over them cost 25-100% more time on large graphs,
    # so it is paused for the duration and restored after.  The collector is
    # process-wide, so only when this is the only thread: a worker's other
    # threads never run with it paused because of us.
    collecting = gc.isenabled() and threading.active_count() == 1
    if collecting:
        gc.disable()
    try:
        decided = solver.solve()
        chosen = {slug: solver.packages[slug].candidates[i] for slug, i in decided.items()}
        check_solution(
            solver.requirements,
            chosen,
            installed=solver.installed,
            kept=solver.unknown_installed,
            undecided=solver.undecided(),
            platform_version=platform_version,
        )
        return build_plan(
            chosen,
            requirements=solver.requirements,
            installed=solver.installed,
            preferred=solver.preferred,
            unknown_installed=solver.unknown_installed,
            warnings=solver.warnings,
        )
    except _Conflict as conflict:
        raise build_conflict(conflict.incompatibility, solver.packages) from None
    finally:
        if collecting:
            gc.enable()
