"""Search on a generated 10,000 x 5 index, and incremental `index update`.

The index is a git repository reached by file:// (as a published index is).
Prints: the first full `index update`; the wall time per `search` query
(median of N whole-process runs); `show`; and an incremental `index update`
after 10 new versions are published into the repository with `fleetprompt
publish`.  Usage: .venv/bin/python bench/search_bench.py [--packages N] [--runs R]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import BIN, median_ms, wall
from gen_index import generate

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.helpers import write_package


def git(*args: str, cwd: Path) -> None:
    subprocess.run(
        ["git", "-c", "user.name=b", "-c", "user.email=b@example.com", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
    )


def timed(cmd: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--packages", type=int, default=10_000)
    parser.add_argument("--versions", type=int, default=5)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="fp-search-"))
    repo = work / "index"
    started = time.perf_counter()
    slugs = generate(repo, args.packages, args.versions, seed=7)
    git("init", "--quiet", "--initial-branch=main", cwd=repo)
    git("add", ".", cwd=repo)
    git("commit", "--quiet", "-m", "generated", cwd=repo)
    print(f"generated {args.packages} x {args.versions} in {time.perf_counter() - started:.1f} s")
    import os

    env = {
        **os.environ,
        "FLEETPROMPT_HOME": str(work / "home"),
        "FLEETPROMPT_INDEX": repo.as_uri(),
        "FLEETPROMPT_INDEX_MAX_AGE": "86400",
    }
    fp = str(BIN / "fleetprompt")
    print(f"index update (clone + full read): {timed([fp, 'index', 'update'], env):.2f} s")
    for query in ("support", "invoice audit", "dispatch route", "zzz-no-match"):
        times = wall([fp, "search", query], env=env, runs=args.runs)
        print(f"search {query!r:18} {median_ms(times)} (median of {args.runs})")
    times = wall([fp, "search", "--category", "finance", "--tier", "pro"], env=env, runs=args.runs)
    print(f"search --category --tier     {median_ms(times)}")
    show = wall([fp, "show", slugs[0]], env=env, runs=args.runs)
    print(f"show                         {median_ms(show)}")
    folders = [write_package(work / "new", f"bench-new-{i}", "1.0.0") for i in range(10)]
    subprocess.run(
        [fp, "publish", *map(str, folders), "--index", str(repo)],
        env=env,
        check=True,
        capture_output=True,
    )
    print(f"index update after 10 new versions: {timed([fp, 'index', 'update'], env):.2f} s")
    baseline = timed([fp, "index", "update"], env)
    print(f"index update with nothing new:      {baseline:.2f} s")


if __name__ == "__main__":
    main()
