"""Signals: publish and delivery throughput, and publish-to-delivery latency, per backend.

    .venv/bin/python bench/signals_bench.py                 # 10,000 signals, 10 subscribers
    .venv/bin/python bench/signals_bench.py --quick         # 1,000 signals
    .venv/bin/python bench/signals_bench.py --backends sqlite

One tenant with 10 subscribers (agents of one installation, each subscribed
to ``bench.*``), so N signals make 10*N deliveries.  Reported per backend:

* publish/s: 4 publisher **processes**, one signal per transaction (the
  tenant's counter row is the point of contention), and a check that the
  sequence has no gap;
* deliveries/s: ``signals dispatch`` in-process with the default batch (500
  signals per transaction), and, as the baseline it is compared with, the
  same dispatcher with one signal per transaction (``--batch 1``) over a
  tenth of the log;
* latency: with a ``fleetprompt worker`` process running, the time from
  ``signals emit`` (which wakes the worker through the queue) to the
  delivery row being visible, p50/p95 over 50 signals.

PostgreSQL+Redis uses FLEETPROMPT_BENCH_DATABASE_URL (default
postgresql+psycopg://postgres@127.0.0.1:5432/postgres: a scratch database is
created and dropped) and FLEETPROMPT_BENCH_REDIS_URL (default
redis://127.0.0.1:6379/0, a unique queue name).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SUBSCRIBERS = 10
PUBLISHERS = 4
LATENCY_SAMPLES = 50

_PUBLISH = """
import sys
from fleetprompt_cli.store import repository as repo
from fleetprompt_cli.store.engine import open_store
store = open_store(sys.argv[1], busy_timeout=60.0)
tenant_id, n = int(sys.argv[2]), int(sys.argv[3])
for i in range(n):
    with store.session() as s:
        repo.append_signal(s, tenant_id, "bench.event.happened", "bench", data={"i": i})
store.dispose()
"""


def backend_env(backend: str, home: Path) -> tuple[dict[str, str], Any]:
    env = {**os.environ, "FLEETPROMPT_HOME": str(home), "NO_COLOR": "1"}
    for name in ("FLEETPROMPT_DATABASE_URL", "FLEETPROMPT_QUEUE_URL", "FLEETPROMPT_FAULT"):
        env.pop(name, None)
    if backend == "sqlite":
        env["FLEETPROMPT_DATABASE_URL"] = f"sqlite:///{home / 'state.db'}"
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


def setup(store: Any, tenant: str) -> int:
    from fleetprompt_cli.store import repository as repo

    with store.session() as s:
        tenant_id = repo.saved_id(repo.create_tenant(s, tenant))
        inst = repo.plan_installation(s, tenant_id, "bench-pkg", "1.0.0", actor="bench")
        specs = [
            repo.SubscriptionSpec(f"Agent {n}", "agent", ("bench.*",)) for n in range(SUBSCRIBERS)
        ]
        repo.replace_subscriptions(s, tenant_id, repo.saved_id(inst), "bench-pkg", specs)
    return tenant_id


def publish(url: str, tenant_id: int, n: int, env: dict[str, str]) -> float:
    per = n // PUBLISHERS
    started = time.perf_counter()
    children = [
        subprocess.Popen([sys.executable, "-c", _PUBLISH, url, str(tenant_id), str(per)], env=env)
        for _ in range(PUBLISHERS)
    ]
    for child in children:
        if child.wait() != 0:
            raise SystemExit("a publisher failed")
    return per * PUBLISHERS / (time.perf_counter() - started)


def gapless(store: Any, tenant_id: int, n: int) -> bool:
    from fleetprompt_cli.store import repository as repo

    with store.session(readonly=True) as s:
        sequences = [r.sequence for r in repo.signal_rows(s, tenant_id, 0, n + 1)]
    return sequences == list(range(1, n + 1))


def dispatch_rate(store: Any, tenant: str, batch: int) -> tuple[float, int]:
    from fleetprompt_cli.actions.signals import dispatch

    started = time.perf_counter()
    result = dispatch(store, tenant, batch=batch)
    n = result.delivered + result.dead
    return n / (time.perf_counter() - started), n


def latency(env: dict[str, str], store: Any, tenant: str) -> list[float]:
    """Emit with a worker running; the time until the delivery row is there."""
    from fleetprompt_cli.actions.signals import emit
    from fleetprompt_cli.settings import load_settings
    from fleetprompt_cli.store import repository as repo

    worker = subprocess.Popen(
        [sys.executable, "-m", "fleetprompt_cli", "worker", "--workers", "2"],
        env={**env, "FLEETPROMPT_SWEEP_SECONDS": "30"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        settings = load_settings()
        time.sleep(2.0)  # the worker starts (imports, opens the queue)
        samples = []
        with store.session(readonly=True) as s:
            tenant_id = repo.saved_id(repo.get_tenant(s, tenant))
        for n in range(LATENCY_SAMPLES):
            started = time.perf_counter()
            sequence = emit(settings, store, tenant, "bench.latency.probe", data=str(n)).event[
                "sequence"
            ]
            while True:
                with store.session(readonly=True) as s:
                    done = repo.count_delivered(s, tenant_id, sequence)
                if done >= SUBSCRIBERS:
                    break
                if time.perf_counter() - started > 30:
                    raise SystemExit("no delivery within 30 s: is the worker running?")
                time.sleep(0.001)
            samples.append(time.perf_counter() - started)
        return samples
    finally:
        os.environ.clear()
        os.environ.update(saved)
        worker.terminate()
        worker.wait(timeout=60)


def run(backend: str, n: int) -> None:
    from fleetprompt_cli.store.engine import open_store

    with tempfile.TemporaryDirectory(prefix="fp-signals-bench-") as tmp:
        env, drop = backend_env(backend, Path(tmp))
        try:
            url = env["FLEETPROMPT_DATABASE_URL"]
            store = open_store(url, busy_timeout=60.0)
            tenant_id = setup(store, "bench")
            setup(store, "baseline")
            rate = publish(url, tenant_id, n, env)
            ok = gapless(store, tenant_id, n)
            print(f"  publish ({PUBLISHERS} processes): {rate:8.0f} signals/s; gapless: {ok}")
            batched, delivered = dispatch_rate(store, "bench", 500)
            print(f"  dispatch --batch 500:       {batched:8.0f} deliveries/s ({delivered})")
            base_tenant = _tenant_id(store, "baseline")
            publish(url, base_tenant, n // 10, env)
            single, delivered = dispatch_rate(store, "baseline", 1)
            print(f"  baseline --batch 1:         {single:8.0f} deliveries/s ({delivered})")
            samples = latency(env, store, "bench")
            p50 = statistics.median(samples) * 1000
            p95 = statistics.quantiles(samples, n=20)[18] * 1000
            print(f"  publish -> delivery (worker): p50 {p50:6.1f} ms, p95 {p95:6.1f} ms")
            store.dispose()
        finally:
            drop()


def _tenant_id(store: Any, name: str) -> int:
    from fleetprompt_cli.store import repository as repo

    with store.session(readonly=True) as s:
        return repo.saved_id(repo.get_tenant(s, name))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,000 signals")
    parser.add_argument("--backends", default="sqlite,postgres")
    args = parser.parse_args()
    n = 1_000 if args.quick else 10_000
    print(f"{n} signals, 1 tenant, {SUBSCRIBERS} subscribers ({n * SUBSCRIBERS} deliveries)")
    for backend in args.backends.split(","):
        print(f"{backend}:")
        run(backend, n)


if __name__ == "__main__":
    main()
