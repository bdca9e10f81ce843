"""Install throughput: --no-wait installs drained by worker processes, per backend.

    .venv/bin/python bench/install_bench.py            # 500 installs, 100 tenants
    .venv/bin/python bench/install_bench.py --quick    # 50 installs, 10 tenants
    .venv/bin/python bench/install_bench.py --backends sqlite
    .venv/bin/python bench/install_bench.py --load     # 2,000 installs, 200 tenants,
        # 1/2/4 workers on sqlite, postgres (+Redis) and pgonly; writes a PNG
        # of the queue depth over time (needs the bench extra: matplotlib)

Five packages of five resources each (2 skills, 2 agents, 1 workflow) are
published into a scratch index; every tenant installs each of them, so there
are 5 installs per tenant (``--load``: ten packages, 10 per tenant).
Directives are written **in-process through the actions**
(``preview_install`` + ``submit``, exactly what ``install --no-wait`` does,
without a process start per install), while 1, 2 or 4 worker
**processes** (``fleetprompt worker``) are already running and drain them.
Reported: installs/s (first enqueue to last finish), enqueue-to-active
latency p50/p99 (directive ``created_at`` to ``finished_at``), the worker
processes' and the database server's CPU seconds, a profile of
one directive run in-process, and the whole-process wall time of one
``fleetprompt install --yes`` of a package whose archive is already cached.

PostgreSQL+Redis uses FLEETPROMPT_BENCH_DATABASE_URL (default
postgresql+psycopg://postgres@127.0.0.1:5432/postgres: a scratch database is
created and dropped) and FLEETPROMPT_BENCH_REDIS_URL (default
redis://127.0.0.1:6379/0, a unique queue name).  ``pgonly`` is PostgreSQL
without Redis: FLEETPROMPT_QUEUE_URL names the same scratch database.
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
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PACKAGES = 5
LOAD_PACKAGES = 10
LOAD_TENANTS = 200


def write_packages(src: Path, count: int = PACKAGES) -> list[Path]:
    """``count`` packages, five resources each."""
    import tomli_w

    folders = []
    for n in range(count):
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


def enqueue_all(tenants: int, packages: int = PACKAGES) -> tuple[float, int]:
    """Write every tenant's --no-wait installs; return (seconds, directives)."""
    from fleetprompt_cli.actions.preview import preview_install, submit
    from fleetprompt_cli.actions.state import open_quick
    from fleetprompt_cli.settings import load_settings

    # The store as the CLI opens it (install --no-wait): on its plain drivers.
    settings = load_settings()
    store = open_quick(settings)
    count = 0
    started = time.perf_counter()
    try:
        for n in range(packages):
            for t in range(tenants):
                preview = preview_install(settings, store, f"t{t}", [f"bench-{n}"])
                submit(settings, store, preview, actor="bench", command="bench install")
                count += 1
    finally:
        store.dispose()
    return time.perf_counter() - started, count


def wait_until_finished(total: int, started: float) -> list[tuple[float, int]]:
    """Poll until ``total`` directives ended; return (seconds since ``started``, open) samples.

    One COUNT per poll (not a listing per tenant, which with 200 tenants
    would steal the workers' CPU): the queue depth over time.
    """
    from sqlalchemy import text

    from fleetprompt_cli.actions.state import open_state
    from fleetprompt_cli.settings import load_settings

    store = open_state(load_settings())
    samples: list[tuple[float, int]] = []
    query = text(
        "SELECT COUNT(*), SUM(CASE WHEN status IN ('succeeded', 'failed') THEN 1 ELSE 0 END)"
        " FROM directives"
    )
    try:
        while True:
            with store.connection(readonly=True) as connection:
                written, done = connection.execute(query).one()
            samples.append((time.perf_counter() - started, int(written or 0) - int(done or 0)))
            if (done or 0) >= total:
                return samples
            time.sleep(0.1)
    finally:
        store.dispose()


def cpu_seconds(pids: list[int]) -> float:
    """User+system CPU seconds of live processes (from /proc; 0 where unreadable)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])
    return total / tick


def server_pids(names: tuple[str, ...]) -> list[int]:
    """Pids of the local database/queue servers (postgres, redis-server) by command name."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                comm = (entry / "comm").read_text().strip()
            except OSError:
                continue
            if comm.startswith(names):
                found.append(int(entry.name))
    return found


def latencies() -> tuple[list[float], float, float, int, float]:
    """Per directive created->finished seconds, first created, last finished, failures,
    first claimed."""
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
    claimed = min(d.heartbeat_at for d in rows if d.heartbeat_at).timestamp()
    return lat, first, last, sum(1 for d in rows if d.status != "succeeded"), claimed


def run_round(
    label: str,
    env: dict[str, str],
    tenants: int,
    workers: int,
    packages: int = PACKAGES,
    *,
    backlog: bool = False,
) -> dict:
    """One round: ``backlog`` writes every directive before the workers start
    (their drain rate, the installer alone); otherwise they run meanwhile."""
    os.environ.update(env)
    create_tenants([f"t{t}" for t in range(tenants)])
    written = enqueue_all(tenants, packages) if backlog else None
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "fleetprompt_cli", "worker"],
            env={**env, "FLEETPROMPT_SWEEP_SECONDS": "5"},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(workers)
    ]
    # PostgreSQL forks a backend per connection: the workers' backends start
    # after this, so the servers' CPU is summed over every server process at
    # the end, minus what those already running had used before the round.
    names = ("postgres", "redis-server")
    servers = server_pids(names) if label != "sqlite" else []
    worker_cpu = cpu_seconds([p.pid for p in procs])
    server_before = {pid: cpu_seconds([pid]) for pid in servers}
    bench_cpu = time.process_time()
    try:
        started = time.perf_counter()
        # The depth is sampled from the first enqueue on, in a thread of its own.
        expected = tenants * packages
        sampled: list[list[tuple[float, int]]] = []
        sampler = threading.Thread(
            target=lambda: sampled.append(wait_until_finished(expected, started))
        )
        sampler.start()
        enqueue_seconds, total = written or enqueue_all(tenants, packages)
        sampler.join()
        samples = sampled[0] if sampled else []
        worker_cpu = cpu_seconds([p.pid for p in procs]) - worker_cpu
        now_servers = server_pids(names) if label != "sqlite" else []
        server_cpu = sum(cpu_seconds([pid]) - server_before.get(pid, 0.0) for pid in now_servers)
        bench_cpu = time.process_time() - bench_cpu
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            proc.wait(timeout=60)
    lat, first, last, failures, claimed = latencies()
    if backlog:
        # From the first claim (the directives were all written before).
        first = claimed
    span = last - first
    if backlog:
        lat = []  # Enqueue-to-active latency means nothing for a backlog.
    result = {
        "label": label,
        "mode": "backlog" if backlog else "live",
        "workers": workers,
        "installs": total,
        "failures": failures,
        "enqueue_s": enqueue_seconds,
        "span_s": span,
        "rate": total / span,
        "p50": statistics.median(lat) if lat else float("nan"),
        "p99": percentile(lat, 0.99) if lat else float("nan"),
        "worker_cpu": worker_cpu,
        "server_cpu": server_cpu,
        "bench_cpu": bench_cpu,
        "samples": samples,
    }
    print(
        f"{label:<8} {result['mode']:<7} workers={workers}  {total} installs in {span:6.1f} s = "
        f"{result['rate']:6.1f}/s  (enqueue {total / enqueue_seconds:6.1f}/s)  "
        f"latency p50 {result['p50']:6.2f} s p99 {result['p99']:6.2f} s  "
        f"failures {failures}\n"
        f"         CPU s: workers {worker_cpu:5.1f}  servers {server_cpu:5.1f}  "
        f"enqueuer {bench_cpu:5.1f}  (wall {span:5.1f} x 2 cores = {2 * span:5.1f})",
        flush=True,
    )
    return result


def plot(results: list[dict], path: Path) -> None:
    """Queue depth over time, one panel per backend, one line per worker count."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = list(dict.fromkeys(r["label"] for r in results))
    fig, axes = plt.subplots(1, len(labels), figsize=(4 * len(labels), 3), squeeze=False)
    for ax, label in zip(axes[0], labels, strict=True):
        for r in results:
            if r["label"] == label:
                xs, ys = zip(*r["samples"], strict=True)
                ax.plot(xs, ys, label=f"{r['workers']} w {r['mode']}, {r['rate']:.0f}/s")
        ax.set_title(label)
        ax.set_xlabel("seconds")
        ax.set_ylabel("open directives")
        ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    print(f"queue depth plot: {path}", flush=True)


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
    for name in (
        "FLEETPROMPT_DATABASE_URL",
        "FLEETPROMPT_QUEUE_URL",
        "FLEETPROMPT_QUEUE_NAME",
        "FLEETPROMPT_FAULT",
    ):
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
    env["FLEETPROMPT_QUEUE_URL"] = (
        env["FLEETPROMPT_DATABASE_URL"]
        if backend == "pgonly"
        else os.environ.get("FLEETPROMPT_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
    )
    env["FLEETPROMPT_QUEUE_NAME"] = f"fpbench-{uuid.uuid4().hex[:8]}"

    def drop() -> None:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return env, drop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="50 installs into 10 tenants")
    parser.add_argument(
        "--load",
        action="store_true",
        help="2,000 installs into 200 tenants, 1/2/4 workers, all backends, a PNG plot",
    )
    parser.add_argument("--backends", default=None, help="sqlite,postgres,pgonly")
    parser.add_argument("--workers", default=None, help="e.g. 1,2,4")
    parser.add_argument("--plot", default=None, help="where to write the queue-depth PNG")
    parser.add_argument("--no-profile", action="store_true", help="skip the profile and CLI wall")
    parser.add_argument(
        "--modes",
        default="live,backlog",
        help="live: the workers drain while directives are written; backlog: written first",
    )
    args = parser.parse_args()
    # SIGTERM unwinds like ^C, so the workers are stopped and the scratch
    # database dropped (the finally blocks run).
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    tenants = LOAD_TENANTS if args.load else 10 if args.quick else 100
    packages = LOAD_PACKAGES if args.load else PACKAGES
    backends = args.backends or ("sqlite,postgres,pgonly" if args.load else "sqlite,postgres")
    workers_list = args.workers or ("1,2,4" if args.load else "1,2")
    plot_path = args.plot or ("install_load.png" if args.load else None)
    saved = dict(os.environ)
    results = []
    with tempfile.TemporaryDirectory(prefix="fp-install-bench-") as tmp:
        root = Path(tmp)
        index = root / "index"
        index.mkdir()
        folders = write_packages(root / "src", packages)
        publisher = {**os.environ, "FLEETPROMPT_HOME": str(root / "publisher")}
        cli(publisher, "publish", *map(str, folders), "--index", str(index))
        print(
            f"{packages * tenants} installs ({packages} packages x {tenants} tenants), "
            f"5 resources each; {os.cpu_count()} CPUs",
            flush=True,
        )
        for backend in backends.split(","):
            for workers in map(int, workers_list.split(",")):
                home = root / f"{backend}-{workers}"
                env, drop = backend_env(backend, home, index)
                try:
                    for mode in args.modes.split(","):
                        if mode == "backlog":
                            # A fresh store per round: the same 2,000 installs again.
                            drop()
                            env, drop = backend_env(backend, root / f"{backend}-{workers}-b", index)
                        results.append(
                            run_round(
                                backend, env, tenants, workers, packages, backlog=mode == "backlog"
                            )
                        )
                    if plot_path:
                        # After every round: a stopped run keeps its plot so far.
                        plot(results, Path(plot_path))
                    if workers == 1 and not args.no_profile and not args.load:
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
