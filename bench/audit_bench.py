"""Wall time of `fleetprompt audit` (whole process) beside `pip --version` and `list`.

Two tenants in one SQLite store:

- ``default``: the 18 bundled packages installed through the CLI (goal:
  `audit` under 1 s);
- ``bulk``: 200 installed packages of 5 resources each (1,000 resources,
  ~2 KB of prompt text each, one in ten with non-ASCII text), written
  straight into the store before the clock starts.

Each row is the median (and minimum) of ``--runs`` interleaved rounds and
its ratio to `pip --version` in the same run.

Usage: .venv/bin/python bench/audit_bench.py [--runs N] [--venv PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import tempfile
from pathlib import Path

from _common import BIN, ROOT, wall

_PROMPT = (
    "You are a careful assistant for the operations team. Read the ticket, "
    "summarise it in three sentences, list the systems involved, and propose "
    "the next step. Never promise a date you cannot keep.\n"
) * 8


def _bundled() -> tuple[list[str], list[str]]:
    """The bundled slugs, and --config values for their required keys without a default."""
    slugs, config = [], []
    samples = {"string": "x", "integer": "1", "number": "1", "boolean": "true", "list": "x"}
    for path in sorted((ROOT / "registry_index" / "packages").rglob("*")):
        if not path.is_file():
            continue
        line = json.loads(path.read_text().splitlines()[-1])
        slugs.append(line["slug"])
        for key, spec in (line["manifest"].get("config") or {}).items():
            if spec.get("required") and "default" not in spec:
                value = spec["choices"][0] if spec.get("choices") else samples[spec["type"]]
                config += ["--config", f"{line['slug']}:{key}={value}"]
    return slugs, config


def _setup_bundled(fp: str, env: dict[str, str]) -> int:
    full = {**os.environ, **env}
    subprocess.run(
        [fp, "tenant", "create", "default", "--tier", "enterprise"],
        env=full,
        check=True,
        capture_output=True,
    )
    slugs, config = _bundled()
    subprocess.run(
        [fp, "install", *slugs, *config, "--yes"], env=full, check=True, capture_output=True
    )
    return len(slugs)


def _setup_bulk(env: dict[str, str], packages: int, resources: int) -> None:
    os.environ.update(env)
    from fleetprompt_cli.settings import load_settings
    from fleetprompt_cli.store import open_store
    from fleetprompt_cli.store import repository as repo
    from fleetprompt_cli.store.models import Installation, InstalledResource

    store = open_store(load_settings().database_url)
    kinds = ("agent", "skill", "skill", "workflow", "tool")
    with store.session() as s:
        tenant = repo.create_tenant(s, "bulk", tier="enterprise")
        tenant_id = repo.saved_id(tenant)
        for i in range(packages):
            inst = Installation(
                tenant_id=tenant_id,
                slug=f"pkg-{i:03d}",
                version="1.0.0",
                status="active",
                revision=1,
            )
            s.add(inst)
            s.flush()
            for j in range(resources):
                text = _PROMPT + ("Répondez en français, s'il vous plaît.\n" if i % 10 == 0 else "")
                s.add(
                    InstalledResource(
                        tenant_id=tenant_id,
                        installation_id=repo.saved_id(inst),
                        kind=kinds[j % len(kinds)],
                        name=f"component-{j}",
                        definition={"name": f"component-{j}", "description": "does one thing"},
                        content=text,
                    )
                )
    store.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--venv", type=Path, default=BIN.parent)
    parser.add_argument("--packages", type=int, default=200)
    parser.add_argument("--resources", type=int, default=5)
    args = parser.parse_args()
    bin_dir = args.venv / "bin"
    fp = str(bin_dir / "fleetprompt")
    home = tempfile.mkdtemp(prefix="fp-audit-bench-")
    env = {"FLEETPROMPT_HOME": home, "FLEETPROMPT_ACTOR": "bench"}
    bundled = _setup_bundled(fp, env)
    _setup_bulk(env, args.packages, args.resources)
    bulk = f"{args.packages}x{args.resources}"
    rows = [
        ("pip --version", [str(bin_dir / "pip"), "--version"]),
        ("list (bundled)", [fp, "list"]),
        (f"audit ({bundled} bundled)", [fp, "audit"]),
        (f"audit --format sarif ({bundled})", [fp, "audit", "--format", "sarif"]),
        (f"audit --drift ({bundled})", [fp, "audit", "--drift"]),
        (f"list ({bulk})", [fp, "list", "--tenant", "bulk"]),
        (f"audit ({bulk})", [fp, "audit", "--tenant", "bulk"]),
        (f"audit --json ({bulk})", [fp, "audit", "--tenant", "bulk", "--json"]),
    ]
    for _, cmd in rows:
        wall(cmd, env=env, runs=1)  # warm the catalog and the OS caches
    times: dict[str, list[float]] = {label: [] for label, _ in rows}
    for _ in range(args.runs):
        for label, cmd in rows:
            times[label] += wall(cmd, env=env, runs=1)
    pip = statistics.median(times["pip --version"])
    print(f"wall time, {args.runs} interleaved runs, SQLite store: median, min, x pip")
    for label, _ in rows:
        median = statistics.median(times[label])
        print(
            f"  {label:34} {median * 1000:7.1f} ms {min(times[label]) * 1000:7.1f} ms"
            f"  {median / pip:5.2f}x"
        )


if __name__ == "__main__":
    main()
