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
as many directives, which every enqueue pays.  ``--stores drivers,engine``
(the default) times both ways of opening the store, alternating in each
round: as the CLI opens it (a DriverStore) and the ORM store.  ``postgres`` is PostgreSQL
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


def enqueue(
    tenants: list[str], packages: int, profiler: cProfile.Profile | None, kind: str = "drivers"
) -> float:
    """Seconds to write every tenant's installs (one directive each).

    ``kind``: the store as the CLI opens it (``drivers``: a DriverStore) or
    the ORM store (``engine``), for comparison.
    """
    from fleetprompt_cli.actions.preview import preview_install, submit
    from fleetprompt_cli.actions.state import open_quick, open_state
    from fleetprompt_cli.settings import load_settings

    settings = load_settings()
    store = open_quick(settings) if kind == "drivers" else open_state(settings)
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


def run_backend(
    backend: str, root: Path, index: Path, rounds: int, profile: bool, kinds: list[str]
) -> None:
    total = PACKAGES * TENANTS
    times: dict[str, list[float]] = {kind: [] for kind in kinds}
    wakes = []
    profiler = cProfile.Profile() if profile else None
    saved = dict(os.environ)
    for round_ in range(rounds):
        # The store kinds alternate within a round, each into a fresh store.
        for kind in kinds:
            env, drop = backend_env(backend, root / f"{backend}-{round_}-{kind}", index)
            try:
                os.environ.update(env)
                tenants = [f"t{t}" for t in range(TENANTS)]
                create_tenants([*tenants, "warm-up"])
                # One untimed enqueue per round: imports, the catalog, pools.
                enqueue(["warm-up"], 1, None, kind)
                watched = profiler if round_ == 0 and kind == kinds[0] else None
                times[kind].append(enqueue(tenants, PACKAGES, watched, kind))
                if kind == kinds[0]:
                    wakes.append(wake_only(total))
            finally:
                os.environ.clear()
                os.environ.update(saved)
                drop()
    for kind in kinds:
        best = statistics.median(times[kind])
        rounds_text = ", ".join(f"{t:.2f}" for t in times[kind])
        print(
            f"{backend:<9} {kind:<8} {total} enqueues in {best:6.2f} s = {total / best:7.1f}/s "
            f"({best / total * 1000:5.2f} ms each; rounds {rounds_text} s)",
            flush=True,
        )
    floor = statistics.median(wakes)
    print(
        f"{backend:<9} queue wake-up alone: {total / floor:7.1f}/s "
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
    parser.add_argument(
        "--stores",
        default="drivers,engine",
        help="drivers (a DriverStore, as the CLI opens it), engine (the ORM store)",
    )
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
            run_backend(backend, root, index, args.rounds, args.profile, args.stores.split(","))


if __name__ == "__main__":
    main()
