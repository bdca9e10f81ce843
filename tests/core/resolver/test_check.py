"""The self-check every solution passes before resolve() returns it."""

from __future__ import annotations

import pytest
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from fleetprompt_cli.core.names import Requirement, parse_requirement
from fleetprompt_cli.core.resolver import (
    Candidate,
    InconsistentResolution,
    ResolverError,
    resolve,
)
from fleetprompt_cli.core.resolver import solver as solver_module
from fleetprompt_cli.core.resolver.check import check_solution

from .support import DictSource


def _candidate(slug: str, version: str, platform: str | None = None, **deps: str) -> Candidate:
    return Candidate(
        slug,
        Version(version),
        {dep: SpecifierSet(spec) for dep, spec in deps.items()},
        platform=SpecifierSet(platform) if platform else None,
    )


def _problems(requirements, chosen, **options) -> list[str]:
    with pytest.raises(InconsistentResolution) as caught:
        check_solution(requirements, chosen, **options)
    error = caught.value
    assert isinstance(error, ResolverError)
    assert "please report" in str(error)
    return error.problems


def test_a_complete_solution_passes() -> None:
    chosen = {
        "a": _candidate("a", "1.0", b="~=1.0", a=">=1"),  # a self-dependency it satisfies
        "b": _candidate("b", "1.2"),
    }
    check_solution([Requirement("a", SpecifierSet(">=1"))], chosen, installed=["b"])


def test_a_dependency_left_out_is_named() -> None:
    chosen = {"a": _candidate("a", "1.0", b="", c=""), "c": _candidate("c", "1.0")}
    problems = _problems([parse_requirement("a")], chosen)
    assert problems == ["a 1.0 depends on b, which the solution leaves out"]


def test_a_dependency_at_an_excluded_version_is_named() -> None:
    chosen = {"a": _candidate("a", "1.0", d="~=1.0"), "d": _candidate("d", "2.0")}
    assert _problems([parse_requirement("a")], chosen) == [
        "a 1.0 depends on d ~=1.0, but d 2.0 was chosen"
    ]


def test_requirements_installed_undecided_and_platform_are_checked() -> None:
    chosen = {"a": _candidate("a", "2.0", platform=">=3")}
    problems = _problems(
        [parse_requirement("a<2"), parse_requirement("b")],
        chosen,
        installed=["x", "kept"],
        kept=["kept"],
        undecided=["z"],
        platform_version=Version("2.5"),
    )
    assert problems == [
        "z is required but no version was chosen",
        "the request names a<2, but 2.0 was chosen",
        "the request names b, which the solution leaves out",
        "x is installed, but the solution leaves it out",
        "a 2.0 requires platform >=3, but this is platform 2.5",
    ]


def test_resolve_never_returns_a_solution_that_fails_the_check(monkeypatch) -> None:
    # Fault injection: a solver that "forgets" a package it decided.
    solve = solver_module._Solver.solve

    def forgetful(self):
        decided = solve(self)
        decided.pop("b")
        return decided

    monkeypatch.setattr(solver_module._Solver, "solve", forgetful)
    index = {"a": {"1.0": {"deps": {"b": ">=1"}}}, "b": {"1.0": {}}}
    with pytest.raises(InconsistentResolution) as caught:
        resolve([parse_requirement("a")], DictSource(index))
    assert caught.value.problems == ["a 1.0 depends on b >=1, which the solution leaves out"]
