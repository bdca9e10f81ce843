"""The layer contracts in pyproject.toml ([tool.importlinter]) hold."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_import_contracts_are_kept(tmp_path: Path) -> None:
    linter = Path(sys.executable).parent / "lint-imports"
    done = subprocess.run(
        [str(linter), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": "/usr/bin:/bin", "NO_COLOR": "1", "HOME": str(tmp_path)},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout, done.stdout


def test_the_strict_layers_and_no_cycles_are_contracts() -> None:
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    by_type = {c["type"]: c for c in config["contracts"]}
    assert by_type["layers"]["layers"] == [
        "fleetprompt_cli.cli",
        "fleetprompt_cli.actions",
        "fleetprompt_cli.store | fleetprompt_cli.queue",
        "fleetprompt_cli.core",
    ]
    assert by_type["acyclic_siblings"]["ancestors"] == ["fleetprompt_cli"]
