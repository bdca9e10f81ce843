"""The README's reference tables agree with the code, in both directions.

Data-driven: a new ``ExitCode`` member, or a new variable in
``settings.ENVIRONMENT``, fails here until the README documents it (and a row
the code no longer knows fails too).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from fleetprompt_cli import errors, settings
from fleetprompt_cli.errors import ExitCode

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "fleetprompt_cli"


def _table(heading: str) -> list[list[str]]:
    """The rows (cells stripped, header and rule dropped) of the table under ``## heading``."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]
    lines = [line for line in section.splitlines() if line.startswith("|")]
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in lines]
    return [row for row in rows[2:] if row]


def test_exit_code_table_matches_exit_codes():
    rows = _table("Exit codes")
    documented = {name: int(code) for code, name, *_ in rows}
    assert len(documented) == len(rows), "a name appears twice in the exit-code table"
    expected = {code.name: int(code) for code in ExitCode}
    expected["INTERRUPTED"] = errors.INTERRUPTED  # Ctrl-C, the shell's 128 + SIGINT
    assert documented == expected
    assert all(meaning for _, _, meaning in rows), "every exit code row says what it means"


def test_exit_codes_are_distinct():
    codes = [int(code) for code in ExitCode] + [errors.INTERRUPTED]
    assert len(codes) == len(set(codes))


def test_environment_table_matches_settings():
    names = {row[0].strip("`") for row in _table("Environment")}
    ours = {name for name in names if name.startswith("FLEETPROMPT_")}
    assert ours == set(settings.ENVIRONMENT)
    assert not ours & set(settings.TEST_HOOKS)
    # The rest are conventions other programs share, read as they define them.
    assert names - ours == {"NO_COLOR"}


def test_every_variable_named_in_the_package_is_known_to_settings():
    known = set(settings.ENVIRONMENT) | set(settings.TEST_HOOKS)
    named = set()
    for path in PACKAGE.rglob("*.py"):
        named |= set(re.findall(r"\bFLEETPROMPT_[A-Z0-9_]*[A-Z0-9]", path.read_text("utf-8")))
    assert named - known == set()


def _environment_reads(path: Path) -> set[str]:
    """The FLEETPROMPT_* names a module reads with os.environ / os.getenv ("?" if not literal)."""
    reads = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        key = None
        if isinstance(node, ast.Subscript) and ast.unparse(node.value) == "os.environ":
            key = node.slice
        elif isinstance(node, ast.Call) and ast.unparse(node.func) in (
            "os.environ.get",
            "os.getenv",
        ):
            key = node.args[0] if node.args else None
        else:
            continue
        if isinstance(key, ast.Constant) and isinstance(key.value, str):
            if key.value.startswith("FLEETPROMPT_"):
                reads.add(key.value)
        else:
            reads.add("?")
    return reads


def test_the_environment_is_read_only_by_settings():
    outside = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "settings.py" and path.parent == PACKAGE:
            continue
        for name in _environment_reads(path):
            outside.setdefault(name, []).append(str(path.relative_to(ROOT)))
    assert outside == {}, "read FLEETPROMPT_* variables through fleetprompt_cli.settings"


def test_environment_table_defaults_match_settings():
    defaults = {row[0].strip("`"): row[2].strip("`") for row in _table("Environment")}
    assert float(defaults["FLEETPROMPT_INDEX_MAX_AGE"]) == settings.DEFAULT_INDEX_MAX_AGE
    assert float(defaults["FLEETPROMPT_LEASE_SECONDS"]) == settings.DEFAULT_LEASE_SECONDS
    assert float(defaults["FLEETPROMPT_SWEEP_SECONDS"]) == settings.DEFAULT_SWEEP_SECONDS
    grace = float(defaults["FLEETPROMPT_CLAIM_GRACE_SECONDS"])
    assert grace == settings.DEFAULT_CLAIM_GRACE_SECONDS
    assert defaults["FLEETPROMPT_QUEUE_NAME"] == settings.DEFAULT_QUEUE_NAME
