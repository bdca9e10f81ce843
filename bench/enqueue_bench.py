"""Enqueue rate: in-process ``preview_install`` + ``submit``, no workers, per backend.

    .venv/bin/python bench/enqueue_bench.py                  # sqlite and postgres
    .venv/bin/python bench/enqueue_bench.py --backends sqlite --profile

What ``bench/install_bench.py`` does before its workers drain anything: five
packages published into a scratch index, 100 tenants, and every tenant
installs each package (500 directives), written in-process exactly as
``install --no-wait`` writes them.  No worker runs, so the figure is the
enqueue side alone.  Reported per backend: enqueues/s and ms per enqueue
(median of ``--rounds`` rounds, each into a fresh store), and beside it, from
the same run, the queue's own floor: the wake-up alone (``queue.wake``) for
as many directives, which every enqueue pays.  ``postgres`` is PostgreSQL
with the Redis queue (FLEETPROMPT_BENCH_DATABASE_URL / _REDIS_URL, as
install_bench.py: a scratch database is created and dropped).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from install_bench import PACKAGES, backend_env, cli, create_tenants, write_packages

TENANTS = 100


def enqueue(tenants: list[str], packages: int, profiler: cProfile.Profile | None) -> float:
    """Seconds to write every tenant's installs (one directive each)."""
    from fleetprompt_cli.actions.preview import preview_install, submit
    from fleetprompt_cli.actions.state import open_state
    from fleetprompt_cli.settings import load_settings

    settings = load_settings()
    store = open_state(settings)
    try:
        if profiler is not None:
            profiler.enable()
        started = time.perf_counter()
        for n in range(packages):
            for tenant in tenants:
                preview = preview_install(settings, store, tenant, [f"bench-{n}"])
                submit(settings, store, preview, actor="bench", command="bench install")
        elapsed = time.perf_counter() - started
        if profiler is not None:
            profiler.disable()
    finally:
        store.dispose()
    return elapsed


def wake_only(count: int) -> float:
    """Seconds for ``count`` wake-ups alone (the queue's share of every enqueue)."""
    from fleetprompt_cli.queue import wake
    from fleetprompt_cli.settings import load_settings

    settings = load_settings()
    wake(settings, 1, "00000000-0000-0000-0000-000000000000")  # open the queue first
    started = time.perf_counter()
    for n in range(count):
        wake(settings, 1 + n % TENANTS, "00000000-0000-0000-0000-000000000000")
    return time.perf_counter() - started


def run_backend(backend: str, root: Path, index: Path, rounds: int, profile: bool) -> None:
    total = PACKAGES * TENANTS
    times, wakes = [], []
    profiler = cProfile.Profile() if profile else None
    saved = dict(os.environ)
    for round_ in range(rounds):
        env, drop = backend_env(backend, root / f"{backend}-{round_}", index)
        try:
            os.environ.update(env)
            tenants = [f"t{t}" for t in range(TENANTS)]
            create_tenants([*tenants, "warm-up"])
            # One untimed enqueue per round: imports, the catalog, pools.
            enqueue(["warm-up"], 1, None)
            times.append(enqueue(tenants, PACKAGES, profiler if round_ == 0 else None))
            wakes.append(wake_only(total))
        finally:
            os.environ.clear()
            os.environ.update(saved)
            drop()
    best = statistics.median(times)
    floor = statistics.median(wakes)
    print(
        f"{backend:<9} {total} enqueues in {best:6.2f} s = {total / best:7.1f}/s "
        f"({best / total * 1000:5.2f} ms each; rounds {', '.join(f'{t:.2f}' for t in times)} s)"
        f"\n          queue wake-up alone: {total / floor:7.1f}/s "
        f"({floor / total * 1000:5.2f} ms each)",
        flush=True,
    )
    if profiler is not None:
        stats = pstats.Stats(profiler, stream=sys.stdout)
        stats.sort_stats("cumulative").print_stats(r"fleetprompt_cli|huey/storage|redis/client", 30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="sqlite,postgres", help="sqlite,postgres")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="cProfile of the first round")
    args = parser.parse_args()
    # SIGTERM unwinds like ^C, so the scratch database is dropped.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    with tempfile.TemporaryDirectory(prefix="fp-enqueue-bench-") as tmp:
        root = Path(tmp)
        index = root / "index"
        index.mkdir()
        folders = write_packages(root / "src", PACKAGES)
        publisher = {**os.environ, "FLEETPROMPT_HOME": str(root / "publisher")}
        cli(publisher, "publish", *map(str, folders), "--index", str(index))
        print(
            f"{PACKAGES * TENANTS} enqueues ({PACKAGES} packages x {TENANTS} tenants), "
            f"in-process preview_install + submit, no workers; {os.cpu_count()} CPUs",
            flush=True,
        )
        for backend in args.backends.split(","):
            run_backend(backend, root, index, args.rounds, args.profile)


if __name__ == "__main__":
    main()
