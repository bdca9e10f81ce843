"""Wall time of `fleetprompt --version` and `--help` beside `pip --version`.

Whole-process runs, interleaved, so the machine's load affects all alike.
Usage: .venv/bin/python bench/cli_startup.py [--runs N] [--venv PATH]
(for a user's install: python3 -m venv /tmp/wv; pip wheel . -w /tmp/whl;
/tmp/wv/bin/pip install /tmp/whl/*.whl; then --venv /tmp/wv)
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from _common import BIN, median_ms, wall


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument(
        "--venv",
        type=Path,
        default=BIN.parent,
        help="time the fleetprompt, pip and python of this venv (e.g. one with the wheel "
        "installed, as users get it; the default is this editable checkout's venv)",
    )
    args = parser.parse_args()
    bin_dir = args.venv / "bin"
    home = tempfile.mkdtemp(prefix="fp-bench-")
    env = {"FLEETPROMPT_HOME": home}
    rows = [
        ("python -c pass", [str(bin_dir / "python"), "-c", "pass"]),
        ("pip --version", [str(bin_dir / "pip"), "--version"]),
        ("fleetprompt --version", [str(bin_dir / "fleetprompt"), "--version"]),
        ("fleetprompt --help", [str(bin_dir / "fleetprompt"), "--help"]),
        ("fleetprompt search support", [str(bin_dir / "fleetprompt"), "search", "support"]),
        ("fleetprompt show field-service", [str(bin_dir / "fleetprompt"), "show", "field-service"]),
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
