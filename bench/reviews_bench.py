"""`show` and `search` with 10,000 reviews on a package, against none.

The bundled index; a fresh SQLite state store (and, with --pg URL, a
PostgreSQL one).  Prints the median wall time of whole `show` and `search`
processes (as a user runs them) with no reviews, then again after 10,000
reviews of customer-support (with votes spread over them) are written
straight into the store.  The detail page reads the three most helpful
through the index on (slug, helpful_count, updated_at, id) and the average
from package_stats, so the figures should not move.

Usage: .venv/bin/python bench/reviews_bench.py [--reviews N] [--runs R] [--pg URL]
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


def measure(env: dict[str, str], runs: int) -> dict[str, str]:
    fleetprompt = [str(BIN / "fleetprompt")]
    return {
        "show": median_ms(wall([*fleetprompt, "show", SLUG], env=env, runs=runs)),
        "show --json": median_ms(wall([*fleetprompt, "show", SLUG, "--json"], env=env, runs=runs)),
        "search support": median_ms(wall([*fleetprompt, "search", "support"], env=env, runs=runs)),
        "search --sort rating": median_ms(
            wall([*fleetprompt, "search", "--sort", "rating"], env=env, runs=runs)
        ),
        "reviews list": median_ms(
            wall([*fleetprompt, "reviews", "list", SLUG], env=env, runs=runs)
        ),
    }


def run(label: str, url: str, home: Path, reviews: int, runs: int) -> None:
    from fleetprompt_cli.store.engine import upgrade_store

    upgrade_store(url)
    env = {"FLEETPROMPT_HOME": str(home), "FLEETPROMPT_DATABASE_URL": url}
    env.pop("FLEETPROMPT_DEBUG", None)
    # Warm the catalog cache once, so both rounds read the same catalog.
    wall([str(BIN / "fleetprompt"), "search", "x"], env=env, runs=1)
    before = measure(env, runs)
    took = seed(url, reviews)
    after = measure(env, runs)
    print(f"\n{label}: {reviews:,} reviews of {SLUG} written in {took:.1f} s")
    print(f"{'command':<24}{'0 reviews':>12}{f'{reviews:,} reviews':>18}")
    for name in before:
        print(f"{name:<24}{before[name]:>12}{after[name]:>18}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reviews", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--pg", help="an empty PostgreSQL database URL to measure as well")
    args = parser.parse_args()
    os.environ.pop("FLEETPROMPT_DEBUG", None)
    work = Path(tempfile.mkdtemp(prefix="fp-reviews-"))
    run("SQLite", f"sqlite:///{work / 'state.db'}", work / "home", args.reviews, args.runs)
    if args.pg:
        run("PostgreSQL", args.pg, work / "home-pg", args.reviews, args.runs)


if __name__ == "__main__":
    main()
