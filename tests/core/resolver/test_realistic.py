"""Property tests on indexes shaped like real ones: versions mostly share their dependencies.

The random graphs of ``test_properties`` draw each version's dependencies
independently, so a package's versions rarely agree, and the solver's
backjumps rarely leave a package's term untouched.  Real indexes are the
opposite: a package's consecutive versions usually declare the same
dependencies, with an occasional change (a dependency added, dropped or its
bound moved).  That shape found a plan that left out a needed package (see
``scenarios/sibling_pins_new_dependency.json``), about once in 170
resolutions, which 150 independent draws never did.

Every plan must satisfy every requirement and every dependency of every
chosen version, and every "unsatisfiable" is confirmed by exhaustive search.
``FLEETPROMPT_RESOLVER_EXAMPLES`` sets the number of generated cases (2,000 by
default; e.g. 50,000 for a long run on demand).
"""

from __future__ import annotations

import os

from hypothesis import given, settings
from hypothesis import strategies as st
from packaging.version import Version

from .test_properties import check_case

EXAMPLES = int(os.environ.get("FLEETPROMPT_RESOLVER_EXAMPLES", "2000"))
REALISTIC = settings(settings.get_profile("resolver"), max_examples=EXAMPLES)

SLUGS = ["a", "b", "c", "d", "e", "f"]
VERSIONS = ["1.0", "1.1", "1.2", "2.0", "2.1", "3.0"]
SPECS = ["", "", ">=1.1", "<2", "~=1.0", ">=2", ">=1.1,<3", "==1.*", "!=2.0", "~=2.0"]


@st.composite
def real_indexes(draw):
    """An index of up to 6 packages x 6 versions whose versions share dependencies."""
    slugs = SLUGS[: draw(st.integers(2, 6))]
    index: dict[str, dict] = {}
    for slug in slugs:
        others = [s for s in slugs if s != slug]
        count = draw(st.integers(1, 6))
        versions = VERSIONS[:count] if draw(st.booleans()) else VERSIONS[-count:]
        deps: dict[str, str] = draw(
            st.dictionaries(st.sampled_from(others), st.sampled_from(SPECS), max_size=3)
        )
        entries = {}
        for version in versions:
            # Mostly the same dependencies as the previous version; now and then one
            # is added, dropped or has its bound moved.
            change = draw(st.integers(0, 5))
            if change == 0 and others:
                deps = {**deps, draw(st.sampled_from(others)): draw(st.sampled_from(SPECS))}
            elif change == 1 and deps:
                dropped = draw(st.sampled_from(sorted(deps)))
                deps = {k: v for k, v in deps.items() if k != dropped}
            entries[version] = {"deps": dict(deps)}
        index[slug] = entries
    request = draw(
        st.lists(
            st.tuples(st.sampled_from(slugs), st.sampled_from(SPECS)),
            min_size=1,
            max_size=3,
            unique_by=lambda r: r[0],
        )
    )
    installed = {}
    if draw(st.integers(0, 4)) == 0:
        slug = draw(st.sampled_from(slugs))
        installed[slug] = draw(st.sampled_from(sorted(index[slug])))
    # A lock's versions: preferred, not required (a package may drop out).
    preferred = {
        slug: Version(draw(st.sampled_from(sorted(index[slug]))))
        for slug in draw(st.lists(st.sampled_from(slugs), max_size=3, unique=True))
        if slug not in installed
    }
    options = {
        "allow_prerelease": False,
        "upgrade": draw(st.booleans()),
        "platform_version": None,
        "preferred": preferred,
    }
    return index, request, installed, options


@REALISTIC
@given(real_indexes())
def test_plans_on_realistic_indexes_are_complete_and_conflicts_real(case) -> None:
    check_case(case)
