"""The self-check every solution passes before :func:`~.solver.resolve` returns it.

A plan that leaves out a needed package, or holds a version a constraint
excludes, is the worst answer a package manager can give: it installs an
incomplete set and exits 0.  This check restates what a solution *is*,
independently of how the solver found it, and turns any such bug into an
:class:`~.errors.InconsistentResolution` instead of a wrong plan:

* every requirement of the request is chosen, at a version its specifier
  contains;
* every dependency of every chosen version is chosen, at a version the
  dependency's specifier contains (a package may depend on itself);
* every installed package is still in the solution;
* no chosen version is outside the platform.

Membership is decided by ``packaging`` itself (``SpecifierSet.contains``), not
by the solver's cached version sets, so a bug in those is caught too.  Each
distinct (specifier, version) pair is checked once.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

from packaging.specifiers import SpecifierSet
from packaging.version import Version

from fleetprompt_cli.core.names import Requirement

from .errors import InconsistentResolution
from .model import Candidate

__all__ = ["check_solution"]


def check_solution(
    requirements: Sequence[Requirement],
    chosen: Mapping[str, Candidate],
    *,
    installed: Collection[str] = (),
    kept: Collection[str] = (),
    undecided: Sequence[str] = (),
    platform_version: Version | None = None,
) -> None:
    """Raise :class:`InconsistentResolution` unless ``chosen`` is a complete, valid solution.

    ``kept`` are installed packages the source does not know (kept as they
    are, outside ``chosen``); ``undecided`` are packages the solver found
    required but never decided (always empty for a correct solver).
    """
    problems = [f"{slug} is required but no version was chosen" for slug in undecided]
    checked: dict[tuple[SpecifierSet, Version], bool] = {}

    def contains(specifier: SpecifierSet, version: Version) -> bool:
        key = (specifier, version)
        found = checked.get(key)
        if found is None:
            found = checked[key] = specifier.contains(version, prereleases=True)
        return found

    for requirement in requirements:
        candidate = chosen.get(requirement.slug)
        if candidate is None:
            problems.append(f"the request names {requirement}, which the solution leaves out")
        elif requirement.specifier and not contains(requirement.specifier, candidate.version):
            problems.append(f"the request names {requirement}, but {candidate.version} was chosen")
    for slug in installed:
        if slug not in chosen and slug not in kept:
            problems.append(f"{slug} is installed, but the solution leaves it out")
    for slug, candidate in chosen.items():
        for dep, specifier in candidate.dependencies.items():
            target = chosen.get(dep)
            text = candidate.written.get(dep) if candidate.written else None
            text = str(specifier) if text is None else text
            wanted = f"{dep} {text}" if text else dep
            if target is None:
                problems.append(
                    f"{slug} {candidate.version} depends on {wanted}, which the solution leaves out"
                )
            elif specifier and not contains(specifier, target.version):
                problems.append(
                    f"{slug} {candidate.version} depends on {wanted}, "
                    f"but {dep} {target.version} was chosen"
                )
        if (
            platform_version is not None
            and candidate.platform is not None
            and not candidate.platform.contains(platform_version, prereleases=True)
        ):
            problems.append(
                f"{slug} {candidate.version} requires platform {candidate.platform}, "
                f"but this is platform {platform_version}"
            )
    if problems:
        raise InconsistentResolution(problems)
