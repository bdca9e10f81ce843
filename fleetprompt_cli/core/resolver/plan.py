"""Ordering a plan so that every package comes after its dependencies."""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Sequence

__all__ = ["dependency_order"]


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
