"""`show` and `search` with 10,000 reviews on a package, against none.

The bundled index; fresh SQLite state stores (and, with --pg URL0 URL1, two
PostgreSQL ones).  Prints the median wall time of whole `show` and `search`
processes (as a user runs them) against a store with no reviews and one
with 10,000 reviews of customer-support (helpful counts spread over them),
written straight into the store; runs alternate between the two.  The
detail page reads the three most helpful through the index on (slug,
helpful_count, updated_at, id) and the average from package_stats, so the
figures should not move.

Usage: .venv/bin/python bench/reviews_bench.py [--reviews N] [--runs R] [--pg URL0 URL1]
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path

from _common import BIN, median_ms, wall

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SLUG = "customer-support"


def seed(url: str, count: int) -> float:
    """Write ``count`` reviews of SLUG (and their rating sums) in one transaction."""
    from sqlalchemy import insert

    from fleetprompt_cli.store import repository as repo
    from fleetprompt_cli.store.engine import open_store
    from fleetprompt_cli.store.models import PackageStats, Review, utcnow

    rng = random.Random(7)
    started = time.perf_counter()
    with open_store(url) as store, store.session() as s:
        tenant = repo.resolve_tenant(s, "default")
        now = utcnow()
        rows = [
            {
                "slug": SLUG,
                "actor": f"user{i}",
                "tenant_id": tenant.id,
                "rating": rng.randint(1, 5),
                "title": f"Review {i}",
                "content": "Solid package. " * 10,
                "helpful_count": rng.randint(0, 50),
                "version": "2.1.0",
                "created_at": now,
                "updated_at": now,
            }
            for i in range(count)
        ]
        s.exec(insert(Review), params=rows)
        total = sum(r["rating"] for r in rows)
        stats = s.get(PackageStats, SLUG)
        if stats is None:
            s.add(PackageStats(slug=SLUG, rating_sum=total, rating_count=count))
        else:
            stats.rating_sum += total
            stats.rating_count += count
    return time.perf_counter() - started


COMMANDS = {
    "show": ["show", SLUG],
    "show --json": ["show", SLUG, "--json"],
    "search support": ["search", "support"],
    "search --sort rating": ["search", "--sort", "rating"],
    "reviews list": ["reviews", "list", SLUG],
}


def run(label: str, urls: tuple[str, str], homes: tuple[Path, Path], reviews: int, runs: int):
    """Two stores, one empty and one with ``reviews`` reviews; runs alternate between them."""
    from fleetprompt_cli.store.engine import upgrade_store

    envs = []
    for url, home in zip(urls, homes, strict=True):
        upgrade_store(url)
        env = {"FLEETPROMPT_HOME": str(home), "FLEETPROMPT_DATABASE_URL": url}
        # Warm the catalog cache once, so both read the same catalog.
        wall([str(BIN / "fleetprompt"), "search", "x"], env=env, runs=1)
        envs.append(env)
    took = seed(urls[1], reviews)
    print(f"\n{label}: {reviews:,} reviews of {SLUG} written in {took:.1f} s")
    print(f"{'command':<24}{'0 reviews':>12}{f'{reviews:,} reviews':>18}")
    for name, args in COMMANDS.items():
        times: tuple[list[float], list[float]] = ([], [])
        for _ in range(runs):  # interleaved, so load on the machine hits both alike
            for i, env in enumerate(envs):
                times[i].extend(wall([str(BIN / "fleetprompt"), *args], env=env, runs=1))
        print(f"{name:<24}{median_ms(times[0]):>12}{median_ms(times[1]):>18}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reviews", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument(
        "--pg", nargs=2, metavar="URL", help="two empty PostgreSQL database URLs to measure as well"
    )
    args = parser.parse_args()
    os.environ.pop("FLEETPROMPT_DEBUG", None)
    work = Path(tempfile.mkdtemp(prefix="fp-reviews-"))
    urls = (f"sqlite:///{work / 'none.db'}", f"sqlite:///{work / 'many.db'}")
    run("SQLite", urls, (work / "home0", work / "home1"), args.reviews, args.runs)
    if args.pg:
        homes = (work / "pg-home0", work / "pg-home1")
        run("PostgreSQL", tuple(args.pg), homes, args.reviews, args.runs)


if __name__ == "__main__":
    main()
