"""Wall time of `fleetprompt --version` and `--help` beside `pip --version`.

Median of 10 whole-process runs each, in the same run, so the machine's load
affects all alike.  Usage: .venv/bin/python bench/cli_startup.py [--runs N]
"""

from __future__ import annotations

import argparse
import tempfile

from _common import BIN, median_ms, wall


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    home = tempfile.mkdtemp(prefix="fp-bench-")
    env = {"FLEETPROMPT_HOME": home}
    rows = [
        ("python -c pass", [str(BIN / "python"), "-c", "pass"]),
        ("pip --version", [str(BIN / "pip"), "--version"]),
        ("fleetprompt --version", [str(BIN / "fleetprompt"), "--version"]),
        ("fleetprompt --help", [str(BIN / "fleetprompt"), "--help"]),
        ("fleetprompt search support", [str(BIN / "fleetprompt"), "search", "support"]),
        ("fleetprompt show field-service", [str(BIN / "fleetprompt"), "show", "field-service"]),
    ]
    wall(rows[4][1], env=env, runs=1)  # Build the catalog once, outside the timing.
    # Interleaved (one run of each command per round), so that a noisy
    # neighbour slows every command alike rather than one of them.
    times: dict[str, list[float]] = {label: [] for label, _ in rows}
    for _ in range(args.runs):
        for label, cmd in rows:
            times[label] += wall(cmd, env=env, runs=1)
    print(f"wall time, {args.runs} interleaved runs (bundled index): median, min")
    for label, _ in rows:
        print(f"  {label:34} {median_ms(times[label])}  {min(times[label]) * 1000:7.1f} ms")


if __name__ == "__main__":
    main()
