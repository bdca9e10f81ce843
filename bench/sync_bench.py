"""Whole-process wall time of sync and lock, beside `pip --version` in the same run.

Builds a 50-package folder index (real archives, published by `fleetprompt
publish`; each package depends on up to two earlier ones) and a project
requiring all 50, locks it once, then times, interleaved:

- `sync --frozen --yes` of the 50-package lock into a fresh tenant (each
  run gets a tenant of its own, created before the clock starts);
- `sync` on a tenant that already matches the lock (the no-op);
- `lock` with nothing changed;
- `pip --version` (the peer) and `python -c pass`.

Usage: .venv/bin/python bench/sync_bench.py [--runs N] [--packages N] [--venv PATH]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import BIN, median_ms

ROOT = Path(__file__).resolve().parent.parent


def write_packages(src: Path, count: int) -> list[Path]:
    """``count`` packages, two skills and an agent each; package n depends on n-1 and n/2."""
    import tomli_w

    folders = []
    for n in range(count):
        slug = f"sync-bench-{n:02d}"
        folder = src / slug
        (folder / "prompts").mkdir(parents=True)
        (folder / "prompts" / "agent.md").write_text(f"You are the agent of {slug}.\n" * 10)
        deps = {f"sync-bench-{d:02d}": ">=1.0" for d in {n - 1, n // 2} if 0 <= d < n}
        manifest = {
            "schema_version": 1,
            "package": {
                "slug": slug,
                "name": f"Sync Bench {n}",
                "version": "1.0.0",
                "description": "benchmark package",
                "category": "operations",
                "author": "bench",
            },
            "dependencies": deps,
            "skills": [{"name": s, "description": f"skill {s}"} for s in ("a", "b")],
            "agents": [
                {
                    "name": "Agent",
                    "description": "agent",
                    "prompt_file": "prompts/agent.md",
                    "skills": ["a"],
                }
            ],
        }
        (folder / "fleetprompt.toml").write_text(tomli_w.dumps(manifest))
        folders.append(folder)
    return folders


def run(cmd: list[str], env: dict[str, str], cwd: Path | None = None) -> float:
    """Wall time of one whole-process run; fails loudly if the command fails."""
    started = time.perf_counter()
    done = subprocess.run(
        cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stderr}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--packages", type=int, default=50)
    parser.add_argument("--venv", type=Path, default=BIN.parent)
    args = parser.parse_args()
    bin_dir = args.venv / "bin"
    fp = str(bin_dir / "fleetprompt")
    work = Path(tempfile.mkdtemp(prefix="fp-sync-bench-"))
    env = {
        **os.environ,
        "FLEETPROMPT_HOME": str(work / "home"),
        "FLEETPROMPT_INDEX": str(work / "index"),
        "FLEETPROMPT_ACTOR": "bench",
        "NO_COLOR": "1",
    }
    for name in ("FLEETPROMPT_DATABASE_URL", "FLEETPROMPT_QUEUE_URL", "FLEETPROMPT_TENANT"):
        env.pop(name, None)
    folders = write_packages(work / "src", args.packages)
    run([fp, "publish", *map(str, folders), "--index", str(work / "index")], env)
    project = work / "project"
    project.mkdir()
    slugs = [folder.name for folder in folders]
    run([fp, "add", *slugs], env, cwd=project)
    # The no-op tenant, synced once outside the clock.
    run([fp, "tenant", "create", "steady"], env)
    run([fp, "sync", "--yes", "--tenant", "steady"], env, cwd=project)
    for n in range(args.runs):
        run([fp, "tenant", "create", f"fresh-{n}"], env)
    rows = {
        "python -c pass": lambda n: [str(bin_dir / "python"), "-c", "pass"],
        "pip --version": lambda n: [str(bin_dir / "pip"), "--version"],
        f"sync --frozen --yes ({args.packages} pkgs, fresh)": lambda n: [
            fp,
            "sync",
            "--frozen",
            "--yes",
            "--tenant",
            f"fresh-{n}",
        ],
        "sync (no-op, up to date)": lambda n: [fp, "sync", "--tenant", "steady"],
        "lock (nothing changed)": lambda n: [fp, "lock"],
    }
    times: dict[str, list[float]] = {label: [] for label in rows}
    # Interleaved, so a noisy neighbour slows every command alike.
    for n in range(args.runs):
        for label, cmd in rows.items():
            times[label].append(run(cmd(n), env, cwd=project))
    print(f"wall time, {args.runs} interleaved runs, whole process: median, min")
    pip = sorted(times["pip --version"])[len(times["pip --version"]) // 2]
    for label, values in times.items():
        median = sorted(values)[len(values) // 2]
        ratio = f"{median / pip:5.2f}x pip" if pip else ""
        print(f"  {label:38} {median_ms(values)}  {min(values) * 1000:7.1f} ms  {ratio}")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
