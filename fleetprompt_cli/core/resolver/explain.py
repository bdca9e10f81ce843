"""Turning the root incompatibility of a failed resolution into an explanation.

The text follows PubGrub's error reporting (pub's ``solver.md``, pubgrub-rs's
default reporter): a chain of "Because X and Y, Z." sentences from external
facts to the conclusion, numbering a derived fact when it is used twice.  The
same proof is returned as data, for ``--json``.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping

from .errors import ResolutionConflict
from .terms import ROOT, Incompatibility, Package

__all__ = ["build_conflict", "describe_incompatibility"]

_UNSATISFIABLE = "the request is unsatisfiable"


def build_conflict(
    incompatibility: Incompatibility, packages: Mapping[str, Package]
) -> ResolutionConflict:
    """The error for a derivation ending in ``incompatibility`` (no solution exists)."""
    writer = _Writer(incompatibility, packages)
    return ResolutionConflict(
        writer.explanation(), derivation=writer.derivation(), packages=writer.involved()
    )


def describe_incompatibility(
    incompatibility: Incompatibility, packages: Mapping[str, Package]
) -> str:
    """One sentence stating an incompatibility (an external fact or a conclusion)."""
    return _Writer(incompatibility, packages).state(incompatibility)


class _Writer:
    def __init__(self, root: Incompatibility, packages: Mapping[str, Package]) -> None:
        self.root = root
        self.packages = packages
        self.lines: list[str] = []
        self.refs: dict[int, int] = {}
        self.uses: dict[int, int] = {}
        self.nodes: list[Incompatibility] = []

    def walk(self) -> None:
        """Count how often each derived fact is used and list the nodes causes first."""
        if self.nodes:
            return
        root = self.root
        seen: set[int] = set()
        stack: list[tuple[Incompatibility, bool]] = [(root, False)]
        while stack:
            node, expanded = stack.pop()
            if expanded:
                self.nodes.append(node)
                continue
            if id(node) in seen:
                continue
            seen.add(id(node))
            stack.append((node, True))
            if node.causes:
                for cause in reversed(node.causes):
                    self.uses[id(cause)] = self.uses.get(id(cause), 0) + 1
                    if id(cause) not in seen:
                        stack.append((cause, False))

    # -- words ------------------------------------------------------------------------

    def term(self, slug: str, mask: int) -> str:
        package = self.packages.get(slug)
        text = "*" if package is None else package.describe(mask)
        return slug if text == "*" else f"{slug} {text}"

    def terms(self, incompatibility: Incompatibility) -> list[tuple[str, bool, int]]:
        return [t for t in incompatibility.terms if t[0] != ROOT]

    def conclusion(self, incompatibility: Incompatibility) -> str:
        """The meaning of a derived incompatibility, as a clause."""
        terms = self.terms(incompatibility)
        if not terms:
            return _UNSATISFIABLE
        positive = [self.term(s, m) for s, p, m in terms if p]
        negative = [self.term(s, m) for s, p, m in terms if not p]
        if len(terms) == 1:
            return f"{positive[0]} cannot be used" if positive else f"{negative[0]} is required"
        if len(positive) == 1 and len(negative) == 1:
            return f"{positive[0]} depends on {negative[0]}"
        if not negative:
            return f"{_join(positive, 'and')} are incompatible"
        if not positive:
            return f"{_join(negative, 'or')} is required"
        if len(positive) == 1:
            return f"{positive[0]} depends on {_join(negative, 'or')}"
        return f"{_join(positive, 'and')} together require {_join(negative, 'or')}"

    def fact(self, incompatibility: Incompatibility) -> str:
        """The statement of an external fact."""
        kind, data = incompatibility.kind, incompatibility.data
        if kind == "request":
            slug, specifier, unknown = data[0], _written(data), data[2]
            if unknown:
                return f"you asked for {slug}, which is not in the index"
            wanted = f"{slug} {specifier}" if specifier else slug
            if len(incompatibility.terms) == 1:
                return f"you asked for {wanted}, which matches no version of {slug}"
            return f"you asked for {wanted}"
        if kind == "installed":
            slug, version = data
            return f"{slug} {version} is installed"
        first = incompatibility.terms[0] if incompatibility.terms else (ROOT, True, 1)
        who = self.term(first[0], first[2])
        if kind == "dependency":
            dep, specifier, unknown = data[0], _written(data), data[2]
            if unknown:
                return f"{who} depends on {dep}, which is not in the index"
            wanted = f"{dep} {specifier}" if specifier else dep
            if len(incompatibility.terms) == 1:
                return f"{who} depends on {wanted}, which matches no version of {dep}"
            return f"{who} depends on {wanted}"
        if kind == "platform":
            specifier, platform = data
            return f"{who} requires platform {specifier} but this is platform {platform}"
        if kind == "prerelease":
            what = "is a pre-release" if first[2].bit_count() == 1 else "are pre-releases"
            return (
                f"{who} {what}, not considered unless asked for "
                f"(--pre, or a constraint on {first[0]} naming a pre-release)"
            )
        if kind == "yanked":
            return f"{who} is yanked, which is only used when pinned exactly with =="
        return "the request must be satisfied"

    def state(self, incompatibility: Incompatibility) -> str:
        if incompatibility.causes:
            return self.conclusion(incompatibility)
        return self.fact(incompatibility)

    def facts(self, a: Incompatibility, b: Incompatibility) -> str:
        if a.kind == "request" and b.kind == "request" and len(a.terms) == len(b.terms) == 2:
            return f"{self.fact(a)} and {self.fact(b)[len('you asked for ') :]}"
        first = self.fact(a)
        # A fact with its own comma ("depends on x, which is not in the index") needs
        # one before the "and" too, or the sentence reads as if the clause went on.
        return f"{first}, and {self.fact(b)}" if ", " in first else f"{first} and {self.fact(b)}"

    # -- the report ---------------------------------------------------------------

    def explanation(self) -> str:
        if not self.root.causes:
            return f"Because {self.fact(self.root)}, {self.conclusion(self.root)}."
        self.walk()
        # Writing recurses once or twice per derivation step; a long proof must not
        # hit the interpreter's default limit.
        limit = sys.getrecursionlimit()
        sys.setrecursionlimit(max(limit, 4 * len(self.nodes) + 1000))
        try:
            self.build(self.root)
        finally:
            sys.setrecursionlimit(limit)
        return "\n".join(self.lines)

    def build(self, current: Incompatibility) -> None:
        self._build(current)
        if self.uses.get(id(current), 0) > 1 and id(current) not in self.refs:
            self.refs[id(current)] = len(self.refs) + 1
            self.lines[-1] += f" ({self.refs[id(current)]})"

    def _build(self, current: Incompatibility) -> None:
        assert current.causes is not None
        first, second = current.causes
        conclusion = self.conclusion(current)
        if first.causes and second.causes:
            ref1, ref2 = self.refs.get(id(first)), self.refs.get(id(second))
            if ref1 and ref2:
                self.lines.append(
                    f"Because {self.conclusion(first)} ({ref1}) and "
                    f"{self.conclusion(second)} ({ref2}), {conclusion}."
                )
            elif ref1 or ref2:
                known, other = (first, second) if ref1 else (second, first)
                self.build(other)
                self.lines.append(
                    f"And because {self.conclusion(known)} ({self.refs[id(known)]}), {conclusion}."
                )
            else:
                self.build(first)
                if id(first) in self.refs:
                    self.lines.append("")
                    self.build(current)
                else:
                    self.refs[id(first)] = len(self.refs) + 1
                    self.lines[-1] += f" ({self.refs[id(first)]})"
                    self.lines.append("")
                    self.build(second)
                    self.lines.append(
                        f"And because {self.conclusion(first)} ({self.refs[id(first)]}), "
                        f"{conclusion}."
                    )
        elif first.causes or second.causes:
            derived, external = (first, second) if first.causes else (second, first)
            ref = self.refs.get(id(derived))
            if ref:
                self.lines.append(
                    f"Because {self.fact(external)} and {self.conclusion(derived)} ({ref}), "
                    f"{conclusion}."
                )
                return
            assert derived.causes is not None
            prior1, prior2 = derived.causes
            if bool(prior1.causes) != bool(prior2.causes):
                prior_derived, prior_external = (
                    (prior1, prior2) if prior1.causes else (prior2, prior1)
                )
                self.build(prior_derived)
                self.lines.append(
                    f"And because {self.facts(prior_external, external)}, {conclusion}."
                )
            else:
                self.build(derived)
                self.lines.append(f"And because {self.fact(external)}, {conclusion}.")
        else:
            self.lines.append(f"Because {self.facts(first, second)}, {conclusion}.")

    # -- the data -------------------------------------------------------------------

    def derivation(self) -> list[dict]:
        self.walk()
        ids = {id(node): n for n, node in enumerate(self.nodes, start=1)}
        steps = []
        for node in self.nodes:
            terms = [
                {"slug": s, "positive": p, "versions": self.packages[s].describe(m)}
                if s in self.packages
                else {"slug": s, "positive": p, "versions": "*"}
                for s, p, m in self.terms(node)
            ]
            if node.causes:
                cause: dict = {"kind": "derived", "from": [ids[id(c)] for c in node.causes]}
            else:
                cause = {"kind": node.kind, **_data(node)}
            steps.append(
                {"id": ids[id(node)], "text": self.state(node), "terms": terms, "cause": cause}
            )
        return steps

    def involved(self) -> list[str]:
        self.walk()
        slugs: set[str] = set()
        for node in self.nodes:
            slugs.update(s for s, _, _ in self.terms(node))
            if node.kind in ("request", "dependency", "installed"):
                slugs.add(node.data[0])
        slugs.discard(ROOT)
        return sorted(slugs)


def _data(node: Incompatibility) -> dict:
    if node.kind in ("request", "dependency"):
        return {
            "slug": node.data[0],
            "specifier": _written(node.data),
            "in_index": not node.data[2],
        }
    if node.kind == "installed":
        return {"slug": node.data[0], "version": node.data[1]}
    if node.kind == "platform":
        return {"platform": node.data[0], "platform_version": node.data[1]}
    return {}


def _written(data: tuple) -> str:
    """A request's or dependency's constraint as its author wrote it, else packaging's text.

    ``data`` is ``(slug, specifier, unknown, written)``.
    """
    written = data[3]
    return written if written is not None else str(data[1])


def _join(items: list[str], word: str) -> str:
    if len(items) == 1:
        return items[0]
    return f"{', '.join(items[:-1])} {word} {items[-1]}"
