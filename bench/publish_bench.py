"""Publish one version to a remote git index of 10,000 packages, whole process.

The index (bench/gen_index.py, 10,000 packages x 5 versions) is pushed to a
bare repository reached by file://. Prints the wall time of a whole
`fleetprompt publish PATH --index file://...` process:
- cold: a fresh home (the writer's clone is made first);
- warm: the clone exists (fetch, reset, publish, commit, push), median of N;
and, as the floor a publish cannot beat, the same git work done by the git
command alone (clone; fetch + reset + append a line + commit + push).
Usage: .venv/bin/python bench/publish_bench.py [--packages N] [--runs R]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from gen_index import generate

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.helpers import write_package

BIN = Path(sys.executable).parent


def git(*args: str, cwd: Path) -> None:
    subprocess.run(
        ["git", "-c", "user.name=b", "-c", "user.email=b@example.com", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
    )


def timed(cmd: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> float:
    started = time.perf_counter()
    subprocess.run(cmd, env=env, cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--packages", type=int, default=10_000)
    parser.add_argument("--versions", type=int, default=5)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="fp-publish-"))
    try:
        seed = work / "seed"
        generate(seed, args.packages, args.versions, seed=7)
        git("init", "--quiet", "--initial-branch=main", cwd=seed)
        git("add", "-A", cwd=seed)
        git("commit", "--quiet", "-m", "index", cwd=seed)
        bare = work / "index.git"
        git("clone", "--quiet", "--bare", str(seed), str(bare), cwd=work)
        url = bare.as_uri()
        env = {
            **os.environ,
            "FLEETPROMPT_HOME": str(work / "home"),
            "FLEETPROMPT_ACTOR": "bench",
            "NO_COLOR": "1",
        }
        fleetprompt = str(BIN / "fleetprompt")
        folders = [
            write_package(work / "src", "bench-pkg", f"1.{v}.0") for v in range(args.runs + 1)
        ]
        cold = timed([fleetprompt, "publish", str(folders[0]), "--index", url], env)
        warm = [
            timed([fleetprompt, "publish", str(folder), "--index", url], env)
            for folder in folders[1:]
        ]
        # The floor: the git command alone doing the same round trips.
        peer_clone = work / "peer"
        peer_cold = timed(["git", "clone", "--quiet", "--no-tags", url, str(peer_clone)])
        peer_warm = []
        for run in range(args.runs):
            started = time.perf_counter()
            git("fetch", "--quiet", "origin", cwd=peer_clone)
            git("reset", "--quiet", "--hard", "origin/main", cwd=peer_clone)
            git("clean", "--quiet", "-ffdx", cwd=peer_clone)
            line = peer_clone / "packages" / "pe" / "er" / "peer"
            line.parent.mkdir(parents=True, exist_ok=True)
            with line.open("a") as stream:
                stream.write(f'{{"version": "1.{run}.0"}}\n')
            git("add", "--", str(line), cwd=peer_clone)
            git("commit", "--quiet", "-m", f"peer {run}", cwd=peer_clone)
            git("push", "--quiet", "origin", "HEAD:main", cwd=peer_clone)
            peer_warm.append(time.perf_counter() - started)
        files = sum(1 for _ in (seed / "packages").rglob("*") if _.is_file())
        print(f"index: {args.packages} packages x {args.versions} versions ({files} files)")
        print(f"publish, cold (clone first):   {cold * 1000:7.1f} ms")
        print(
            f"publish, warm (median of {args.runs}): "
            f"{statistics.median(warm) * 1000:7.1f} ms  (max {max(warm) * 1000:.1f} ms)"
        )
        print(f"peer: git clone:               {peer_cold * 1000:7.1f} ms")
        print(f"peer: git fetch..push (median): {statistics.median(peer_warm) * 1000:7.1f} ms")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
