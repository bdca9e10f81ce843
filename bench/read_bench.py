"""Wall time of the read commands (and a no-op install) beside `pip --version`.

Whole-process runs, interleaved, so the machine's load affects all alike.
The store holds a few installations, directives, revisions and signals
(installed once before the clock starts); each row is the median of
``--runs`` rounds and its ratio to `pip --version` in the same run.

Usage: .venv/bin/python bench/read_bench.py [--runs N] [--venv PATH]
       [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/DB]
(the PostgreSQL database must be empty or a fleetprompt store; for a user's
install time a venv with the wheel installed, as bench/cli_startup.py says)
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
from pathlib import Path

from _common import BIN, wall


def _setup(fleetprompt: str, env: dict[str, str]) -> str:
    full = {**os.environ, **env}
    for args in (
        ["install", "knowledge-base", "--yes"],
        ["install", "customer-support", "--yes"],
        ["configure", "knowledge-base", "max_articles=7"],
    ):
        subprocess.run([fleetprompt, *args], env=full, check=True, capture_output=True)
    listed = subprocess.run(
        [fleetprompt, "directives", "list", "--json"],
        env=full,
        check=True,
        capture_output=True,
        text=True,
    )
    import json

    return json.loads(listed.stdout)["directives"][0]["id"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--venv", type=Path, default=BIN.parent)
    parser.add_argument("--database-url", default=None, help="default: SQLite under the home")
    args = parser.parse_args()
    bin_dir = args.venv / "bin"
    fp = str(bin_dir / "fleetprompt")
    home = tempfile.mkdtemp(prefix="fp-read-bench-")
    env = {"FLEETPROMPT_HOME": home}
    if args.database_url:
        env["FLEETPROMPT_DATABASE_URL"] = args.database_url
    directive = _setup(fp, env)
    rows = [
        ("pip --version", [str(bin_dir / "pip"), "--version"]),
        ("list", [fp, "list"]),
        ("list --json", [fp, "list", "--json"]),
        ("status", [fp, "status"]),
        ("status knowledge-base", [fp, "status", "knowledge-base"]),
        ("history", [fp, "history"]),
        ("directives list", [fp, "directives", "list"]),
        ("directives show ID", [fp, "directives", "show", directive]),
        ("signals", [fp, "signals"]),
        ("tenant list", [fp, "tenant", "list"]),
        ("db status", [fp, "db", "status"]),
        ("show knowledge-base", [fp, "show", "knowledge-base"]),
        ("install knowledge-base (no-op)", [fp, "install", "knowledge-base"]),
    ]
    for _, cmd in rows:
        wall(cmd, env=env, runs=1)  # warm the catalog and the OS caches
    times: dict[str, list[float]] = {label: [] for label, _ in rows}
    for _ in range(args.runs):
        for label, cmd in rows:
            times[label] += wall(cmd, env=env, runs=1)
    backend = "PostgreSQL" if args.database_url else "SQLite"
    pip = statistics.median(times["pip --version"])
    print(f"wall time, {args.runs} interleaved runs, {backend} store: median, min, x pip")
    for label, _ in rows:
        median = statistics.median(times[label])
        print(
            f"  {label:32} {median * 1000:7.1f} ms {min(times[label]) * 1000:7.1f} ms"
            f"  {median / pip:5.2f}x"
        )


if __name__ == "__main__":
    main()
