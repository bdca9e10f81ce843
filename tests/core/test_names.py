"""Names, versions and requirements: our canonical forms agree with packaging's."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from packaging.utils import canonicalize_name, canonicalize_version

from fleetprompt_cli.core.names import (
    canonical_slug,
    canonical_version,
    parse_requirement,
)
from fleetprompt_cli.errors import UsageError

VERSIONS = st.builds(
    lambda epoch, release, pre, post, dev, local: (
        (f"{epoch}!" if epoch else "") + ".".join(map(str, release)) + pre + post + dev + local
    ),
    st.integers(0, 2),
    st.lists(st.integers(0, 12), min_size=1, max_size=4),
    st.sampled_from(["", "a1", "b2", "rc0"]),
    st.sampled_from(["", ".post0", ".post3"]),
    st.sampled_from(["", ".dev0", ".dev5"]),
    st.sampled_from(["", "+local", "+abc.0"]),
)


@settings(derandomize=True, deadline=None, max_examples=300)
@given(VERSIONS)
def test_canonical_version_matches_packaging(text: str):
    assert canonical_version(text) == canonicalize_version(text, strip_trailing_zero=True)


@settings(derandomize=True, deadline=None, max_examples=300)
@given(st.from_regex(r"[A-Za-z0-9]([A-Za-z0-9._-]{0,20}[A-Za-z0-9])?", fullmatch=True))
def test_canonical_slug_matches_packaging(text: str):
    assert canonical_slug(text) == canonicalize_name(text)


@pytest.mark.parametrize(
    "text, slug, spec",
    [
        ("Field_Service", "field-service", ""),
        ("crm==1.2.0", "crm", "==1.2.0"),
        ("crm>=1,<2", "crm", "<2,>=1"),
        ("crm@1.2", "crm", "==1.2"),
        (" crm ~= 1.4 ", "crm", "~=1.4"),
    ],
)
def test_requirement_forms(text: str, slug: str, spec: str):
    requirement = parse_requirement(text)
    assert (requirement.slug, str(requirement.specifier)) == (slug, spec)


@pytest.mark.parametrize("text", ["", "-bad", "crm>>1", "crm@x.y", "crm 1.0"])
def test_bad_requirements(text: str):
    with pytest.raises(UsageError, match="invalid"):
        parse_requirement(text)
