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
    print(f"median of {args.runs} runs (bundled index)")
    for label, cmd in rows:
        print(f"  {label:34} {median_ms(wall(cmd, env=env, runs=args.runs))}")


if __name__ == "__main__":
    main()
