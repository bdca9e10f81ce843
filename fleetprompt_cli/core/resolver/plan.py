"""Turning a solution into a plan: each package's action and reason, dependencies first."""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Sequence

from packaging.version import Version

from fleetprompt_cli.core.names import Requirement

from .model import Action, Candidate, PlanItem, Resolution

__all__ = ["build_plan", "dependency_order"]


def dependency_order(edges: Mapping[str, Sequence[str]]) -> list[str]:
    """Slugs ordered dependencies first; a cycle's members come out in slug order."""
    components = _strongly_connected(edges)
    owner = {slug: n for n, members in enumerate(components) for slug in members}
    # For each component, the components it depends on that are not yet emitted.
    waiting: list[set[int]] = [set() for _ in components]
    dependents: list[set[int]] = [set() for _ in components]
    for slug, deps in edges.items():
        for dep in deps:
            a, b = owner[slug], owner[dep]
            if a != b:
                waiting[a].add(b)
                dependents[b].add(a)
    ready = [(min(members), n) for n, members in enumerate(components) if not waiting[n]]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        _, n = heapq.heappop(ready)
        order.extend(sorted(components[n]))
        for m in dependents[n]:
            waiting[m].discard(n)
            if not waiting[m]:
                heapq.heappush(ready, (min(components[m]), m))
    return order


def _strongly_connected(edges: Mapping[str, Sequence[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative so that deep chains do not hit the recursion limit."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    counter = 0
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, iter(edges.get(start, ())))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(edges.get(child, ()))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                members = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    members.append(member)
                    if member == node:
                        break
                components.append(members)
    return components


def build_plan(
    chosen: Mapping[str, Candidate],
    *,
    requirements: Sequence[Requirement],
    installed: Mapping[str, Version],
    preferred: Mapping[str, Version],
    unknown_installed: Sequence[str],
    warnings: Sequence[str],
) -> Resolution:
    """The plan for a checked solution (every dependency of every chosen version is chosen).

    Each item's action compares the chosen version with the installed (or
    else the preferred) one; installed packages the source did not know are
    kept as they are; the order is :func:`dependency_order`'s.
    """
    requested = {requirement.slug for requirement in requirements}
    required_by: dict[str, list[tuple[str, str, str]]] = {slug: [] for slug in chosen}
    edges: dict[str, list[str]] = {}
    for slug in sorted(chosen):
        candidate = chosen[slug]
        edges[slug] = sorted(candidate.dependencies)
        for dep in edges[slug]:
            required_by[dep].append((slug, str(candidate.version), _written(candidate, dep)))
    notes = list(warnings)
    items: dict[str, PlanItem] = {}
    for slug, candidate in chosen.items():
        previous = installed.get(slug, preferred.get(slug))
        if previous is None:
            action: Action = "install"
        elif candidate.version == previous:
            action = "keep"
        elif candidate.version > previous:
            action = "upgrade"
        else:
            action = "downgrade"
        if candidate.yanked:
            if action != "keep":
                why = "pinned with =="
            elif slug in installed:
                why = "kept because it is installed"
            else:
                why = "kept because it is locked"
            notes.append(f"{slug} {candidate.version} is yanked ({why})")
        items[slug] = PlanItem(
            slug=slug,
            version=candidate.version,
            action=action,
            previous=previous,
            requested=slug in requested,
            required_by=sorted(required_by[slug]),
        )
    for slug in unknown_installed:
        version = installed[slug]
        items[slug] = PlanItem(slug=slug, version=version, action="keep", previous=version)
        edges[slug] = []
    order = dependency_order(edges)
    return Resolution(plan=[items[slug] for slug in order], warnings=sorted(notes))


def _written(candidate: Candidate, dep: str) -> str:
    """A dependency's constraint as its author wrote it (``>=1.2,<2``), else packaging's text."""
    if candidate.written is not None:
        text = candidate.written.get(dep)
        if text is not None:
            return text
    return str(candidate.dependencies[dep])
