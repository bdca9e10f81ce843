"""The dependency resolver: PubGrub over PEP 440 versions, with explanations.

``resolve(requirements, source, ...)`` returns a :class:`Resolution` (a plan,
dependencies first) or raises :class:`ResolutionConflict`, whose message is a
derivation a person can act on.  See :mod:`.solver` for the semantics
(pre-releases, yanked versions, platform, installed packages).
"""

from __future__ import annotations

from .errors import ResolutionConflict
from .model import Action, Candidate, PackageSource, PlanItem, Reporter, Resolution
from .solver import resolve

__all__ = [
    "Action",
    "Candidate",
    "PackageSource",
    "PlanItem",
    "Reporter",
    "Resolution",
    "ResolutionConflict",
    "resolve",
]
