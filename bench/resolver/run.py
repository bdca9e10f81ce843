"""Benchmark the resolver against resolvelib and uv on generated graphs.

Usage::

    python bench/resolver/run.py [--sizes small,medium,large] [--variants easy,hard,unsat]
        [--no-uv] [--uv-sizes small,medium] [--timeout 10] [--repeat 1]

Every resolver runs in a fresh subprocess per graph, so peak memory
(``ru_maxrss``) is comparable.  Times for ours and resolvelib are measured
inside that process around the resolve call only: the graph's raw data
(version and specifier texts, as an index file holds them) is generated
before the clock starts, and each resolver's source parses a package's
texts when it is first asked for, so parsing is included but the synthetic
generator is not; uv is timed as a whole ``uv pip compile`` process.  Stub
wheels for uv go to ``bench/out/`` (git-ignored) and are reused across runs.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
OUT = ROOT / "bench" / "out"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from gen_graphs import SIZES, VARIANTS, Graph, all_graphs  # noqa: E402


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class _Parser:
    """Parses version and specifier texts, each distinct text once (as an index reader would)."""

    def __init__(self) -> None:
        from packaging.specifiers import SpecifierSet
        from packaging.version import Version

        self.versions: dict[str, Version] = {}
        self.specifiers: dict[str, SpecifierSet] = {}
        self.Version, self.SpecifierSet = Version, SpecifierSet

    def version(self, text: str):
        found = self.versions.get(text)
        if found is None:
            found = self.versions[text] = self.Version(text)
        return found

    def specifier(self, text: str):
        found = self.specifiers.get(text)
        if found is None:
            found = self.specifiers[text] = self.SpecifierSet(text)
        return found


def _raw(graph: Graph) -> dict[str, list]:
    """Every package's version and specifier texts, generated before timing starts."""
    return {slug: graph.package(slug) for slug in graph.slugs()}


class _Source:
    """Parses a package's texts into candidates when, and only when, it is asked for."""

    def __init__(self, graph: Graph) -> None:
        self.raw = _raw(graph)
        self.parse = _Parser()
        self.loaded = 0

    def candidates(self, slug: str) -> list:
        from fleetprompt_cli.core.resolver import Candidate

        self.loaded += 1
        parse = self.parse
        return [
            Candidate(
                slug,
                parse.version(version),
                {dep: parse.specifier(spec) for dep, spec in deps.items()},
            )
            for version, deps in self.raw.get(slug, [])
        ]


def worker_ours(graph: Graph) -> dict:
    from fleetprompt_cli.core.names import parse_requirement
    from fleetprompt_cli.core.resolver import ResolutionConflict, resolve
    from fleetprompt_cli.core.resolver import solver as solver_module

    # Time the self-check that every solution passes (part of the resolve time).
    check_time = [0.0]
    check_solution = solver_module.check_solution

    def timed_check(*args, **kwargs):
        began = time.perf_counter()
        try:
            return check_solution(*args, **kwargs)
        finally:
            check_time[0] += time.perf_counter() - began

    solver_module.check_solution = timed_check
    source = _Source(graph)
    requirements = [parse_requirement(text) for text in graph.request()]
    baseline = _rss_mb()
    start = time.perf_counter()
    try:
        resolution = resolve(requirements, source)
        result = f"solved ({len(resolution.plan)} pkgs)"
    except ResolutionConflict as conflict:
        lines = conflict.explanation.count("\n") + 1
        result = f"unsat ({lines} lines, {len(conflict.packages)} pkgs)"
        explanation = conflict.explanation
    else:
        explanation = ""
    elapsed = time.perf_counter() - start
    return {
        "time": elapsed,
        "check": check_time[0],
        "result": result,
        "loaded": source.loaded,
        "peak_mb": _rss_mb(),
        "baseline_mb": baseline,
        "explanation": explanation,
    }


def worker_resolvelib(graph: Graph, timeout: float) -> dict:
    from packaging.specifiers import SpecifierSet
    from resolvelib import AbstractProvider, BaseReporter, Resolver
    from resolvelib.resolvers import ResolutionImpossible, ResolutionTooDeep

    cache: dict[str, list] = {}
    parse = _Parser()
    raw = _raw(graph)

    def versions(slug: str) -> list:
        if slug not in cache:
            cache[slug] = sorted(
                (
                    (
                        parse.version(v),
                        slug,
                        {d: parse.specifier(s) for d, s in deps.items()},
                    )
                    for v, deps in raw.get(slug, [])
                ),
                reverse=True,
            )
        return cache[slug]

    class Provider(AbstractProvider):
        # A minimal provider: newest first; identifiers that were part of the last
        # conflict first (resolvelib's own backjumping hint, as pip does), otherwise in
        # the order resolvelib lists them.  Counting each identifier's candidates would
        # cost a full match per identifier per round and make resolvelib look slower.
        def identify(self, requirement_or_candidate):
            return requirement_or_candidate[1]

        def get_preference(
            self, identifier, resolutions, candidates, information, backtrack_causes
        ):
            return not any(cause.requirement[1] == identifier for cause in backtrack_causes)

        def find_matches(self, identifier, requirements, incompatibilities):
            bad = {c[0] for c in incompatibilities[identifier]}
            specs = [r[2] for r in requirements[identifier]]
            return [
                c
                for c in versions(identifier)
                if c[0] not in bad and all(s.contains(c[0], prereleases=True) for s in specs)
            ]

        def is_satisfied_by(self, requirement, candidate):
            return requirement[2].contains(candidate[0], prereleases=True)

        def get_dependencies(self, candidate):
            return [(None, dep, spec) for dep, spec in candidate[2].items()]

    class OutOfTime(Exception):
        pass

    def stop(signum, frame):
        raise OutOfTime

    requirements = [(None, slug, SpecifierSet()) for slug in graph.request()]
    baseline = _rss_mb()
    # Stop from inside at the cap, so that the memory used so far can still be reported
    # (the parent's subprocess timeout stays as a backstop).
    signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    start = time.perf_counter()
    elapsed: float | None
    try:
        result = Resolver(Provider(), BaseReporter()).resolve(requirements, max_rounds=10**7)
        outcome = f"solved ({len(result.mapping)} pkgs)"
    except ResolutionImpossible:
        outcome = "unsat (no explanation)"
    except ResolutionTooDeep:
        outcome = "too deep"
    except OutOfTime:
        outcome = f"timeout (>{timeout:g} s)"
    elapsed = time.perf_counter() - start
    signal.setitimer(signal.ITIMER_REAL, 0)
    if outcome.startswith("timeout"):
        elapsed = None
    return {"time": elapsed, "result": outcome, "peak_mb": _rss_mb(), "baseline_mb": baseline}


def run_worker(kind: str, graph: Graph, timeout: float | None) -> dict:
    """Run one resolver on one graph in a fresh interpreter."""
    command = [sys.executable, __file__, "--worker", kind, "--graph", graph.size, graph.variant]
    command += ["--timeout", str(timeout or 0)]
    try:
        backstop = None if timeout is None else timeout + 5
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=backstop, check=False
        )
    except subprocess.TimeoutExpired:
        return {"time": None, "result": f"timeout (>{timeout:g} s)", "peak_mb": None}
    if done.returncode != 0:
        return {"time": None, "result": f"error: {done.stderr.strip()[-200:]}", "peak_mb": None}
    return json.loads(done.stdout)


def _dist(slug: str) -> str:
    return slug.replace("-", "_")


def write_wheels(graph: Graph) -> Path:
    """Stub wheels (METADATA with Requires-Dist, WHEEL, RECORD) for every package, cached."""
    directory = OUT / "wheels" / f"{graph.name}-{graph.seed}"
    marker = directory / ".complete"
    if marker.exists():
        return directory
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    for slug in graph.slugs():
        for version, deps in graph.package(slug):
            info = f"{_dist(slug)}-{version}.dist-info"
            metadata = f"Metadata-Version: 2.1\nName: {slug}\nVersion: {version}\n" + "".join(
                f"Requires-Dist: {dep}{spec}\n" for dep, spec in deps.items()
            )
            wheel = "Wheel-Version: 1.0\nGenerator: bench\nRoot-Is-Purelib: true\n"
            wheel += "Tag: py3-none-any\n"
            record = f"{info}/METADATA,,\n{info}/WHEEL,,\n{info}/RECORD,,\n"
            path = directory / f"{_dist(slug)}-{version}-py3-none-any.whl"
            with zipfile.ZipFile(path, "w") as archive:
                archive.writestr(f"{info}/METADATA", metadata)
                archive.writestr(f"{info}/WHEEL", wheel)
                archive.writestr(f"{info}/RECORD", record)
    marker.touch()
    return directory


def run_uv(graph: Graph, timeout: float) -> dict:
    """Time ``uv pip compile`` as a whole process over stub wheels for the graph."""
    uv = ROOT / ".venv" / "bin" / "uv"
    wheels = write_wheels(graph)
    requirements = OUT / f"{graph.name}-requirements.in"
    requirements.write_text("".join(f"{slug}\n" for slug in graph.request()))
    cache = OUT / "uv-cache"
    shutil.rmtree(cache, ignore_errors=True)
    command = [
        str(uv), "pip", "compile", "--no-index", "--find-links", str(wheels), "--offline",
        "--cache-dir", str(cache), "--python", sys.executable, "--quiet", str(requirements),
    ]  # fmt: skip
    env = {**os.environ, "NO_COLOR": "1"}
    start = time.perf_counter()
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, check=False, env=env
        )
    except subprocess.TimeoutExpired:
        return {"time": None, "result": f"timeout (>{timeout:g} s)"}
    elapsed = time.perf_counter() - start
    if done.returncode == 0:
        pins = sum(1 for line in done.stdout.splitlines() if "==" in line)
        return {"time": elapsed, "result": f"solved ({pins} pkgs)"}
    lines = done.stderr.strip().count("\n") + 1
    return {"time": elapsed, "result": f"unsat ({lines} lines)", "stderr": done.stderr}


def _fmt_time(entry: dict) -> str:
    return "-" if entry.get("time") is None else f"{entry['time'] * 1000:,.0f} ms"


def _fmt_check(entry: dict) -> str:
    """The self-check's share of our resolve time (it is included in that time)."""
    if not entry.get("time") or entry.get("check") is None:
        return "-"
    return f"{100 * entry['check'] / entry['time']:.1f}%"


def _fmt_mb(entry: dict) -> str:
    if entry.get("peak_mb") is None:
        return "-"
    # What the resolve added to the process's peak (the generated input data
    # is in the baseline); at a timeout, the growth so far: a lower bound.
    used = entry["peak_mb"] - entry.get("baseline_mb", 0)
    return f"{used:.0f}" + (">" if entry.get("time") is None else "")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="small,medium,large")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--timeout", type=float, default=10.0, help="resolvelib cap per graph")
    parser.add_argument("--no-uv", action="store_true")
    parser.add_argument("--repeat", type=int, default=1, help="runs of ours per graph (best)")
    parser.add_argument("--uv-sizes", default="small,medium", help="sizes to run uv on")
    parser.add_argument("--show-explanations", action="store_true")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--graph", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        graph = Graph(*args.graph)
        if args.worker == "ours":
            print(json.dumps(worker_ours(graph)))
        else:
            print(json.dumps(worker_resolvelib(graph, args.timeout)))
        return 0

    sizes = [s for s in args.sizes.split(",") if s]
    unknown = set(sizes) - set(SIZES)
    if unknown:
        parser.error(f"unknown sizes: {', '.join(sorted(unknown))}")
    uv_sizes = set() if args.no_uv else set(args.uv_sizes.split(","))
    OUT.mkdir(parents=True, exist_ok=True)
    header = (
        f"{'graph':<14} {'ours':>10} {'check':>7} {'ours result':<28} {'ours MB':>8} "
        f"{'resolvelib':>11} {'resolvelib result':<22} {'rl MB':>6} {'uv':>10} {'uv result':<20}"
    )
    print("MB: growth of peak RSS during the resolve (input data excluded)")
    print("check: the self-check's share of our time (every solution is checked)")
    print(header)
    print("-" * len(header))
    rows = []
    for graph in all_graphs(sizes, args.variants.split(",")):
        # The best of --repeat fresh runs: this machine's other load only adds time.
        runs = [run_worker("ours", graph, None) for _ in range(args.repeat)]
        ours = min(runs, key=lambda entry: entry["time"])
        theirs = run_worker("resolvelib", graph, args.timeout)
        uv = run_uv(graph, 120) if graph.size in uv_sizes else {"time": None, "result": "not run"}
        rows.append({"graph": graph.name, "ours": ours, "resolvelib": theirs, "uv": uv})
        print(
            f"{graph.name:<14} {_fmt_time(ours):>10} {_fmt_check(ours):>7} "
            f"{ours['result']:<28} {_fmt_mb(ours):>8} "
            f"{_fmt_time(theirs):>11} {theirs['result']:<22} {_fmt_mb(theirs):>6} "
            f"{_fmt_time(uv):>10} {uv['result']:<20}",
            flush=True,
        )
        if args.show_explanations and ours.get("explanation"):
            print(ours["explanation"])
    (OUT / "resolver-results.json").write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
