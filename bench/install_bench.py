"""Install throughput: --no-wait installs drained by worker processes, per backend.

    .venv/bin/python bench/install_bench.py            # 500 installs, 100 tenants
    .venv/bin/python bench/install_bench.py --quick    # 50 installs, 10 tenants
    .venv/bin/python bench/install_bench.py --backends sqlite

Five packages of five resources each (2 skills, 2 agents, 1 workflow) are
published into a scratch index; every tenant installs each of them, so there
are 5 installs per tenant.  Directives are written **in-process through the
actions** (``preview_install`` + ``submit``, exactly what ``install
--no-wait`` does, without a process start per install), while 1 or 2 worker
**processes** (``fleetprompt worker``) are already running and drain them.
Reported: installs/s (first enqueue to last finish), enqueue-to-active
latency p50/p95 (directive ``created_at`` to ``finished_at``), a profile of
one directive run in-process, and the whole-process wall time of one
``fleetprompt install --yes`` of a package whose archive is already cached.

PostgreSQL+Redis uses FLEETPROMPT_BENCH_DATABASE_URL (default
postgresql+psycopg://postgres@127.0.0.1:5432/postgres: a scratch database is
created and dropped) and FLEETPROMPT_BENCH_REDIS_URL (default
redis://127.0.0.1:6379/0, a unique queue name).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PACKAGES = 5


def write_packages(src: Path) -> list[Path]:
    """Five packages, five resources each."""
    import tomli_w

    folders = []
    for n in range(PACKAGES):
        slug = f"bench-{n}"
        folder = src / slug
        (folder / "prompts").mkdir(parents=True)
        agents = []
        for name in ("Planner", "Writer"):
            prompt = f"prompts/{name.lower()}.md"
            (folder / prompt).write_text(f"You are the {name} of {slug}.\n" * 20)
            agents.append(
                {"name": name, "description": name, "prompt_file": prompt, "skills": ["a", "b"]}
            )
        manifest = {
            "schema_version": 1,
            "package": {
                "slug": slug,
                "name": f"Bench {n}",
                "version": "1.0.0",
                "description": "benchmark package",
                "category": "operations",
                "author": "bench",
            },
            "skills": [{"name": s, "description": f"skill {s}"} for s in ("a", "b")],
            "agents": agents,
            "workflows": [{"name": "Flow", "steps": ["Planner", "Writer"]}],
        }
        (folder / "fleetprompt.toml").write_text(tomli_w.dumps(manifest))
        folders.append(folder)
    return folders


def cli(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "fleetprompt_cli", *args],
        env=env,
        check=check,
        capture_output=True,
        text=True,
    )


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def create_tenants(slugs: list[str]) -> None:
    """Create the tenants in-process (a CLI process each would dominate the set-up)."""
    from fleetprompt_cli.actions.state import open_state
    from fleetprompt_cli.settings import load_settings
    from fleetprompt_cli.store import repository as repo

    store = open_state(load_settings())
    try:
        with store.session() as s:
            for slug in slugs:
                repo.create_tenant(s, slug)
    finally:
        store.dispose()


def enqueue_all(tenants: int) -> tuple[float, int]:
    """Write every tenant's five --no-wait installs; return (seconds, directives)."""
    from fleetprompt_cli.actions.preview import preview_install, submit
    from fleetprompt_cli.actions.state import open_state
    from fleetprompt_cli.settings import load_settings

    settings = load_settings()
    store = open_state(settings)
    count = 0
    started = time.perf_counter()
    try:
        for n in range(PACKAGES):
            for t in range(tenants):
                preview = preview_install(settings, store, f"t{t}", [f"bench-{n}"])
                submit(settings, store, preview, actor="bench", command="bench install")
                count += 1
    finally:
        store.dispose()
    return time.perf_counter() - started, count


def wait_until_finished(total: int) -> None:
    from fleetprompt_cli.actions.state import open_state
    from fleetprompt_cli.settings import load_settings
    from fleetprompt_cli.store import repository as repo

    store = open_state(load_settings())
    try:
        while True:
            with store.session(readonly=True) as s:
                done = sum(
                    len(repo.list_directives(s, t.id, status=["succeeded", "failed"]))
                    for t in repo.list_tenants(s)
                )
            if done >= total:
                return
            time.sleep(0.2)
    finally:
        store.dispose()


def latencies() -> tuple[list[float], float, float, int]:
    """Per directive created->finished seconds, first created, last finished, failures."""
    from fleetprompt_cli.actions.state import open_state
    from fleetprompt_cli.settings import load_settings
    from fleetprompt_cli.store import repository as repo

    store = open_state(load_settings())
    try:
        with store.session(readonly=True) as s:
            rows = [d for t in repo.list_tenants(s) for d in repo.list_directives(s, t.id)]
    finally:
        store.dispose()
    lat = [(d.finished_at - d.created_at).total_seconds() for d in rows if d.finished_at]
    first = min(d.created_at for d in rows).timestamp()
    last = max(d.finished_at for d in rows if d.finished_at).timestamp()
    return lat, first, last, sum(1 for d in rows if d.status != "succeeded")


def run_round(label: str, env: dict[str, str], tenants: int, workers: int) -> dict:
    os.environ.update(env)
    create_tenants([f"t{t}" for t in range(tenants)])
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "fleetprompt_cli", "worker"],
            env={**env, "FLEETPROMPT_SWEEP_SECONDS": "5"},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(workers)
    ]
    try:
        enqueue_seconds, total = enqueue_all(tenants)
        wait_until_finished(total)
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            proc.wait(timeout=60)
    lat, first, last, failures = latencies()
    span = last - first
    result = {
        "label": label,
        "workers": workers,
        "installs": total,
        "failures": failures,
        "enqueue_s": enqueue_seconds,
        "span_s": span,
        "rate": total / span,
        "p50": statistics.median(lat),
        "p95": percentile(lat, 0.95),
    }
    print(
        f"{label:<16} workers={workers}  {total} installs in {span:6.1f} s = "
        f"{result['rate']:6.1f} installs/s  (enqueue {enqueue_seconds:5.1f} s, "
        f"{total / enqueue_seconds:6.1f}/s)  latency p50 {result['p50']:6.2f} s  "
        f"p95 {result['p95']:6.2f} s  failures {failures}",
        flush=True,
    )
    return result


def profile_one(env: dict[str, str]) -> str:
    """cProfile of one directive run in-process (archive already cached)."""
    os.environ.update(env)
    from fleetprompt_cli.actions.directive_runner import run_directive
    from fleetprompt_cli.actions.preview import preview_install, submit
    from fleetprompt_cli.actions.state import open_state
    from fleetprompt_cli.settings import load_settings

    create_tenants(["profiled"])
    settings = load_settings()
    store = open_state(settings)
    try:
        preview = preview_install(settings, store, "profiled", ["bench-0"])
        directive = submit(settings, store, preview, actor="bench", command="profile").directive_id
        profiler = cProfile.Profile()
        started = time.perf_counter()
        profiler.enable()
        outcome = run_directive(settings, store, preview.tenant_id, directive)
        profiler.disable()
        elapsed = time.perf_counter() - started
    finally:
        store.dispose()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("cumulative").print_stats(
        r"fleetprompt_cli|sqlalchemy/orm/session|tarfile", 14
    )
    lines = [line for line in out.getvalue().splitlines() if line.strip()]
    body = [line for line in lines if "/" in line or "ncalls" in line]
    return f"one directive ({outcome.status}) in {elapsed * 1000:.1f} ms:\n" + "\n".join(body)


def install_wall(env: dict[str, str]) -> float:
    create_tenants(["solo"])
    started = time.perf_counter()
    cli(env, "install", "bench-1", "--yes", "--tenant", "solo")
    return time.perf_counter() - started


def backend_env(backend: str, home: Path, index: Path) -> tuple[dict[str, str], callable]:
    env = {
        **os.environ,
        "FLEETPROMPT_HOME": str(home),
        "FLEETPROMPT_INDEX": str(index),
        "NO_COLOR": "1",
    }
    for name in ("FLEETPROMPT_DATABASE_URL", "FLEETPROMPT_QUEUE_URL", "FLEETPROMPT_FAULT"):
        env.pop(name, None)
    if backend == "sqlite":
        return env, lambda: None
    import psycopg

    admin = os.environ.get(
        "FLEETPROMPT_BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    )
    name = f"fleetprompt_bench_{uuid.uuid4().hex[:8]}"
    conninfo = admin.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    env["FLEETPROMPT_DATABASE_URL"] = admin.rsplit("/", 1)[0] + "/" + name
    env["FLEETPROMPT_QUEUE_URL"] = os.environ.get(
        "FLEETPROMPT_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0"
    )
    env["FLEETPROMPT_QUEUE_NAME"] = f"fpbench-{uuid.uuid4().hex[:8]}"

    def drop() -> None:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return env, drop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="50 installs into 10 tenants")
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--workers", default="1,2")
    args = parser.parse_args()
    tenants = 10 if args.quick else 100
    saved = dict(os.environ)
    with tempfile.TemporaryDirectory(prefix="fp-install-bench-") as tmp:
        root = Path(tmp)
        index = root / "index"
        index.mkdir()
        folders = write_packages(root / "src")
        publisher = {**os.environ, "FLEETPROMPT_HOME": str(root / "publisher")}
        cli(publisher, "publish", *map(str, folders), "--index", str(index))
        print(
            f"{PACKAGES * tenants} installs ({PACKAGES} packages x {tenants} tenants), "
            f"5 resources each; {os.cpu_count()} CPUs",
            flush=True,
        )
        for backend in args.backends.split(","):
            for workers in map(int, args.workers.split(",")):
                home = root / f"{backend}-{workers}"
                env, drop = backend_env(backend, home, index)
                try:
                    run_round(backend, env, tenants, workers)
                    if workers == 1:
                        print(
                            f"  install --yes (cached archive), whole process: "
                            f"{install_wall(env):.2f} s",
                            flush=True,
                        )
                        print("  " + profile_one(env).replace("\n", "\n  "), flush=True)
                finally:
                    os.environ.clear()
                    os.environ.update(saved)
                    drop()


if __name__ == "__main__":
    main()
