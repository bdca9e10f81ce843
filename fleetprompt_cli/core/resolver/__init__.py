"""The dependency resolver: PubGrub over PEP 440 versions, with explanations.

``resolve(requirements, source, ...)`` returns a :class:`Resolution` (a plan,
dependencies first) or raises :class:`ResolutionConflict`, whose explanation is a
derivation a person can act on.  Every exception derives from
:class:`ResolverError` and knows nothing of the program around it; a solution
that fails the self-check (:mod:`.check`) raises
:class:`InconsistentResolution` instead of being returned.  See :mod:`.solver` for the semantics
(pre-releases, yanked versions, platform, installed packages).
"""

from __future__ import annotations

from .errors import InconsistentResolution, ResolutionConflict, ResolverError
from .model import Action, Candidate, PackageSource, PlanItem, Reporter, Resolution
from .solver import resolve

__all__ = [
    "Action",
    "Candidate",
    "InconsistentResolution",
    "PackageSource",
    "PlanItem",
    "Reporter",
    "Resolution",
    "ResolutionConflict",
    "ResolverError",
    "resolve",
]
