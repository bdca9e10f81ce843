"""Direct tests of the resolver's interface: the reporter, JSON shapes, loading."""

from __future__ import annotations

import json

import pytest
from packaging.version import Version

from fleetprompt_cli.core.names import parse_requirement
from fleetprompt_cli.core.resolver import Reporter, ResolutionConflict, ResolverError, resolve
from fleetprompt_cli.errors import FleetPromptError

from .support import DictSource

INDEX = {
    "field-service": {
        "1.0.0": {"deps": {"core-skills": ">=1.2,<2"}},
        "2.0.0": {"deps": {"core-skills": ">=2"}},
    },
    "core-skills": {"1.2": {}, "1.9": {}, "2.0": {}},
    "billing": {"1.0": {"deps": {"core-skills": "<2"}}},
    "never-used": {"1.0": {}},
}


class Recorder(Reporter):
    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []

    def loading(self, slug: str) -> None:
        self.events.append(("loading", slug))

    def decided(self, slug: str, version: Version) -> None:
        self.events.append(("decided", f"{slug} {version}"))

    def conflict(self, explanation_fragment: str) -> None:
        self.events.append(("conflict", explanation_fragment))


def test_reporter_sees_loads_decisions_and_conflicts() -> None:
    recorder = Recorder()
    source = DictSource(INDEX)
    requirements = [parse_requirement("field-service"), parse_requirement("billing")]
    resolution = resolve(requirements, source, reporter=recorder)
    assert resolution.versions() == {
        "field-service": Version("1.0.0"),
        "core-skills": Version("1.9"),
        "billing": Version("1.0"),
    }
    assert ("loading", "field-service") in recorder.events
    assert ("decided", "core-skills 1.9") in recorder.events
    # Only reachable packages are asked for, each once.
    assert sorted(source.calls) == ["billing", "core-skills", "field-service"]


def test_plan_json_shape() -> None:
    resolution = resolve(
        [parse_requirement("field-service@1.0.0")],
        DictSource(INDEX),
        installed={"core-skills": Version("1.2")},
    )
    document = resolution.to_json()
    json.dumps(document)
    assert document["plan"] == [
        {
            "slug": "core-skills",
            "version": "1.2",
            "action": "keep",
            "previous": "1.2",
            "requested": False,
            "required_by": [{"slug": "field-service", "version": "1.0.0", "specifier": "<2,>=1.2"}],
            "reason": "required by field-service 1.0.0 (<2,>=1.2)",
        },
        {
            "slug": "field-service",
            "version": "1.0.0",
            "action": "install",
            "previous": None,
            "requested": True,
            "required_by": [],
            "reason": "requested",
        },
    ]
    assert document["warnings"] == []


def test_conflict_is_a_resolver_error_with_structured_derivation() -> None:
    with pytest.raises(ResolutionConflict) as caught:
        resolve(
            [parse_requirement("field-service>=2"), parse_requirement("billing")], DictSource(INDEX)
        )
    error = caught.value
    # A library-quality core: its own base exception, no exit codes.
    assert isinstance(error, ResolverError)
    assert not isinstance(error, FleetPromptError)
    assert not hasattr(error, "exit_code")
    document = error.to_json()
    assert document["kind"] == "conflict"
    assert document["message"] == document["explanation"] == str(error)
    assert "field-service >=2" in error.message
    assert error.packages == ["billing", "core-skills", "field-service"]
    steps = document["derivation"]
    ids = {step["id"] for step in steps}
    for step in steps:
        if step["cause"]["kind"] == "derived":
            assert set(step["cause"]["from"]) <= ids
            assert all(n < step["id"] for n in step["cause"]["from"])
    assert steps[-1]["text"] == "the request is unsatisfiable"
    json.dumps(document)


def test_unknown_installed_package_is_kept_with_a_warning() -> None:
    resolution = resolve(
        [parse_requirement("billing")], DictSource(INDEX), installed={"gone": Version("1.0")}
    )
    assert {item.slug: item.action for item in resolution.plan} == {
        "billing": "install",
        "core-skills": "keep" if False else "install",
        "gone": "keep",
    }
    assert any("gone" in warning for warning in resolution.warnings)


def test_installed_version_missing_from_index_is_replaced() -> None:
    resolution = resolve([], DictSource(INDEX), installed={"core-skills": Version("1.5")})
    assert resolution.plan[0].action == "upgrade"
    assert any("no longer in the index" in warning for warning in resolution.warnings)


def test_deep_chain_and_many_versions_are_fast() -> None:
    # A 400-long chain where only the oldest version at the bottom works: PubGrub learns
    # the range facts once instead of trying every combination.
    index: dict = {}
    depth = 400
    for level in range(depth):
        index[f"p{level}"] = {
            f"{v}.0": {"deps": {f"p{level + 1}": f">={v}.0"}} for v in range(1, 30)
        }
    index[f"p{depth}"] = {f"{v}.0": {"deps": {"floor": f"=={v}"}} for v in range(1, 30)}
    index["floor"] = {"1": {}}
    resolution = resolve([parse_requirement("p0")], DictSource(index))
    assert resolution.versions()["p0"] == Version("1.0")
    assert [item.slug for item in resolution.plan][:2] == ["floor", f"p{depth}"]


def test_reporter_hears_each_learned_incompatibility() -> None:
    # pub's "partial satisfier" case: the solver must learn a fact and backjump.
    index = {
        "foo": {"1.0.0": {}, "1.1.0": {"deps": {"left": ">=1,<2", "right": ">=1,<2"}}},
        "left": {"1.0.0": {"deps": {"shared": ">=1.0.0"}}},
        "right": {"1.0.0": {"deps": {"shared": "<2.0.0"}}},
        "shared": {"1.0.0": {"deps": {"target": ">=1,<2"}}, "2.0.0": {}},
        "target": {"1.0.0": {}, "2.0.0": {}},
    }
    recorder = Recorder()
    resolution = resolve(
        [parse_requirement("foo>=1,<2"), parse_requirement("target>=2,<3")],
        DictSource(index),
        reporter=recorder,
    )
    assert resolution.versions() == {"foo": Version("1.0.0"), "target": Version("2.0.0")}
    learned = [text for kind, text in recorder.events if kind == "conflict"]
    assert learned
    assert all(isinstance(text, str) and text for text in learned)


def test_explanations_of_long_derivations_do_not_hit_the_recursion_limit() -> None:
    # Every link of a 1,500-long chain needs the next, and the last is impossible.
    depth = 1500
    index: dict = {f"p{i}": {"1.0": {"deps": {f"p{i + 1}": ">=1"}}} for i in range(depth)}
    index[f"p{depth}"] = {"1.0": {"deps": {"missing": ">=1"}}}
    with pytest.raises(ResolutionConflict) as caught:
        resolve([parse_requirement("p0")], DictSource(index))
    assert "missing, which is not in the index" in caught.value.message
    assert len(caught.value.derivation) > depth


def test_the_garbage_collector_is_paused_only_when_no_other_thread_runs() -> None:
    import gc
    import threading

    seen: list[bool] = []

    class Watch(Reporter):
        def loading(self, slug: str) -> None:
            seen.append(gc.isenabled())

    request = [parse_requirement("billing")]
    resolve(request, DictSource(INDEX), reporter=Watch())
    assert seen and not any(seen)  # alone: paused during the search
    assert gc.isenabled()  # and restored after
    seen.clear()
    release = threading.Event()
    other = threading.Thread(target=release.wait)
    other.start()
    try:
        resolve(request, DictSource(INDEX), reporter=Watch())
    finally:
        release.set()
        other.join()
    assert seen and all(seen)  # another thread runs: the collector is left alone
    assert gc.isenabled()
