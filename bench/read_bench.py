"""Wall time of the read commands (and a no-op install) beside `pip --version`.

Whole-process runs, interleaved, so the machine's load affects all alike.
The store holds a few installations, directives, revisions and signals
(installed once before the clock starts); each row is the median of
``--runs`` rounds and its ratio to `pip --version` in the same run.  The
targets (issue 14): every read and the no-op install at most 0.75x, and
``install --yes`` of a package whose archive is cached (the ORM write path,
timed last in each round and uninstalled after it, untimed) at most 1.5x.

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

# Installed and uninstalled once in the setup, so its archive is cached.
CACHED = "code-review"
READ_TARGET, INSTALL_TARGET = 0.75, 1.5


def _setup(fleetprompt: str, env: dict[str, str]) -> str:
    full = {**os.environ, **env}
    for args in (
        ["install", "knowledge-base", "--yes"],
        ["install", "customer-support", "--yes"],
        ["configure", "knowledge-base", "max_articles=7"],
        ["install", CACHED, "--yes"],
        ["uninstall", CACHED, "--yes"],
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
    # As a user's install (pip compiles a wheel's modules to bytecode): with
    # PYTHONDONTWRITEBYTECODE set, an editable checkout would compile every
    # fleetprompt module on every run while pip's own are compiled already.
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
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
    install = f"install {CACHED} --yes (cached)"
    uninstall = [fp, "uninstall", CACHED, "--yes"]
    for _, cmd in rows:
        wall(cmd, env=env, runs=1)  # warm the catalog and the OS caches
    times: dict[str, list[float]] = {label: [] for label, _ in rows}
    times[install] = []
    for _ in range(args.runs):
        for label, cmd in rows:
            times[label] += wall(cmd, env=env, runs=1)
        times[install] += wall([fp, "install", CACHED, "--yes"], env=env, runs=1)
        wall(uninstall, env=env, runs=1)
    backend = "PostgreSQL" if args.database_url else "SQLite"
    pip = statistics.median(times["pip --version"])
    print(
        f"wall time, {args.runs} interleaved runs, {backend} store: median, min, x pip"
        f" (target: reads {READ_TARGET}x, install {INSTALL_TARGET}x)"
    )
    for label in times:
        median = statistics.median(times[label])
        target = INSTALL_TARGET if label == install else READ_TARGET
        over = "  over" if label != "pip --version" and median / pip > target else ""
        print(
            f"  {label:36} {median * 1000:7.1f} ms {min(times[label]) * 1000:7.1f} ms"
            f"  {median / pip:5.2f}x{over}"
        )


if __name__ == "__main__":
    main()
