"""Property tests on random small graphs: plans are valid, "unsatisfiable" is true."""

from __future__ import annotations

import contextlib

from hypothesis import given, settings
from hypothesis import strategies as st
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from fleetprompt_cli.core.names import Requirement
from fleetprompt_cli.core.resolver import Candidate, ResolutionConflict, resolve

from .support import DictSource

RESOLVER = settings.get_profile("resolver")

SLUGS = ["a", "b", "c", "d", "e"]
VERSIONS = ["1.0", "1.1", "2.0", "2.1", "3.0"]
SPECS = ["", ">=1.1", "<2.0", "==2.0", "!=1.1", ">=2.0,<3", "~=1.0", "==1.*", ">2.0", "==1.1"]


@st.composite
def scenarios(draw):
    """A random index of up to five packages, a request, an installed set and options."""
    allow_prerelease = draw(st.booleans())
    pool = [*VERSIONS, "2.0rc1"] if allow_prerelease else VERSIONS
    slugs = SLUGS[: draw(st.integers(2, 5))]
    index = {}
    for slug in slugs:
        versions = draw(st.lists(st.sampled_from(pool), min_size=0, max_size=4, unique=True))
        entries = {}
        for version in versions:
            deps = draw(
                st.dictionaries(
                    st.sampled_from([*slugs, "ghost"]).filter(lambda s, me=slug: s != me),
                    st.sampled_from(SPECS),
                    max_size=2,
                )
            )
            entry: dict = {"deps": deps}
            if draw(st.integers(0, 5)) == 0:
                entry["yanked"] = True
            if draw(st.integers(0, 5)) == 0:
                entry["platform"] = ">=3"
            entries[version] = entry
        index[slug] = entries
    request = draw(
        st.lists(st.tuples(st.sampled_from(slugs), st.sampled_from(SPECS)), min_size=1, max_size=3)
    )
    installed = {}
    for slug in draw(st.lists(st.sampled_from(slugs), max_size=2, unique=True)):
        if index[slug]:
            installed[slug] = draw(st.sampled_from(sorted(index[slug])))
    options = {
        "allow_prerelease": allow_prerelease,
        "upgrade": draw(st.booleans()),
        "platform_version": draw(st.sampled_from([None, Version("2.5")])),
    }
    return index, request, installed, options


def _pin(specifier: SpecifierSet) -> Version | None:
    specs = list(specifier)
    if len(specs) == 1 and specs[0].operator == "==" and not specs[0].version.endswith(".*"):
        return Version(specs[0].version)
    return None


def _eligible(candidate: Candidate, pins: set[Version], installed, options) -> bool:
    platform = options["platform_version"]
    if (
        platform is not None
        and candidate.platform is not None
        and not candidate.platform.contains(platform, prereleases=True)
    ):
        return False
    if candidate.version.is_prerelease and not options["allow_prerelease"]:
        return False
    if candidate.yanked:
        return candidate.version in pins or installed.get(candidate.slug) == candidate.version
    return True


def exhaustive(source: DictSource, requirements, installed, options) -> bool:
    """Whether any solution exists where yanked versions are only request pins or installed."""
    pins = {r.slug: _pin(r.specifier) for r in requirements}
    constraints: dict[str, list[SpecifierSet]] = {}
    for requirement in requirements:
        constraints.setdefault(requirement.slug, []).append(requirement.specifier)
    for slug in installed:
        constraints.setdefault(slug, []).append(SpecifierSet())

    def search(chosen: dict[str, Candidate], constraints: dict[str, list[SpecifierSet]]) -> bool:
        open_slugs = sorted(s for s in constraints if s not in chosen)
        if not open_slugs:
            return True
        slug = open_slugs[0]
        for candidate in source.index.get(slug, []):
            if not _eligible(candidate, {pins.get(slug)}, installed, options):
                continue
            if not all(s.contains(candidate.version, prereleases=True) for s in constraints[slug]):
                continue
            extended = {k: list(v) for k, v in constraints.items()}
            ok = True
            for dep, specifier in candidate.dependencies.items():
                extended.setdefault(dep, []).append(specifier)
                if dep in chosen and not specifier.contains(chosen[dep].version, prereleases=True):
                    ok = False
            if ok and search({**chosen, slug: candidate}, extended):
                return True
        return False

    return search({}, constraints)


def check_plan(resolution, source: DictSource, requirements, installed, options) -> None:
    """Every constraint holds in the plan, and nothing ineligible was chosen."""
    chosen = {item.slug: item for item in resolution.plan}
    candidates = {
        slug: next(c for c in source.index[slug] if c.version == item.version)
        for slug, item in chosen.items()
    }
    pins: dict[str, set[Version]] = {}
    for requirement in requirements:
        assert requirement.slug in chosen
        version = chosen[requirement.slug].version
        assert requirement.specifier.contains(version, prereleases=True)
        pins.setdefault(requirement.slug, set()).add(_pin(requirement.specifier))
    for slug in installed:
        assert slug in chosen
    held = {**options.get("preferred", {}), **installed}
    for slug, item in chosen.items():
        version = held.get(slug)
        assert item.previous == version
        if version is None:
            continue
        expected = (
            "keep"
            if item.version == version
            else "upgrade"
            if item.version > version
            else "downgrade"
        )
        assert item.action == expected
    for candidate in candidates.values():
        for dep, specifier in candidate.dependencies.items():
            assert dep in chosen
            assert specifier.contains(chosen[dep].version, prereleases=True)
            pins.setdefault(dep, set()).add(_pin(specifier))
    for slug, candidate in candidates.items():
        assert _eligible(candidate, pins.get(slug, set()), held, options), candidate
        if slug not in held:
            assert chosen[slug].action == "install"


def check_case(case):
    """Resolve a generated case: a valid plan, or a conflict that exhaustive search confirms.

    Returns the resolution (None for a conflict) and the inputs it was made from.
    """
    index, request, installed_text, options = case
    source = DictSource(index)
    requirements = [Requirement(slug, SpecifierSet(spec)) for slug, spec in request]
    installed = {slug: Version(v) for slug, v in installed_text.items()}
    try:
        resolution = resolve(requirements, source, installed=installed, **options)
    except ResolutionConflict as conflict:
        assert conflict.explanation.endswith("the request is unsatisfiable.")
        assert not exhaustive(source, requirements, installed, options), conflict.explanation
        return None, requirements, installed, options
    check_plan(resolution, source, requirements, installed, options)
    return resolution, requirements, installed, options


@settings(RESOLVER)
@given(scenarios())
def test_plans_are_valid_and_conflicts_are_real(case) -> None:
    resolution, requirements, installed, options = check_case(case)
    if resolution is None:
        return
    index = case[0]
    # Same input, same answer.
    again = resolve(requirements, DictSource(index), installed=installed, **options)
    assert again.to_json() == resolution.to_json()


@settings(RESOLVER)
@given(scenarios())
def test_only_reachable_packages_are_loaded(case) -> None:
    index, request, installed_text, options = case
    source = DictSource(index)
    requirements = [Requirement(slug, SpecifierSet(spec)) for slug, spec in request]
    installed = {slug: Version(v) for slug, v in installed_text.items()}
    with contextlib.suppress(ResolutionConflict):
        resolve(requirements, source, installed=installed, **options)
    reachable, stack = set(), [r.slug for r in requirements] + list(installed)
    while stack:
        slug = stack.pop()
        if slug in reachable:
            continue
        reachable.add(slug)
        for candidate in source.index.get(slug, []):
            stack.extend(candidate.dependencies)
    assert set(source.calls) <= reachable
    assert len(source.calls) == len(set(source.calls))
