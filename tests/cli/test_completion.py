"""Shell completion: scripts for bash, zsh and fish, and the
completions themselves (commands, options, installed slugs) through the same
environment protocol the scripts use."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import run_cli

SHELLS = ("bash", "zsh", "fish")


def _run(*args: str, home: Path, **env: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k != "FLEETPROMPT_DEBUG"}
    environ.update(FLEETPROMPT_HOME=str(home), HOME=str(home / "user"), **env)
    # The console script's name decides the completion variable, as installed.
    script = Path(sys.executable).parent / "fleetprompt"
    return subprocess.run(
        [str(script), *args], capture_output=True, text=True, env=environ, timeout=120
    )


def _complete(shell: str, words: str, home: Path) -> list[str]:
    """What the shell script would get for the command line ``words`` (cursor at the end)."""
    env = {"_FLEETPROMPT_COMPLETE": f"complete_{shell}"}
    if shell == "bash":
        parts = words.split(" ")
        env.update(COMP_WORDS=words, COMP_CWORD=str(len(parts) - 1))
    else:
        env["_TYPER_COMPLETE_ARGS"] = words
        if shell == "fish":
            env["_TYPER_COMPLETE_FISH_ACTION"] = "get-args"
    result = _run(home=home, **env)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    out = result.stdout
    if shell == "zsh":
        # _arguments '*: :(("install":"Install ..." "fx-base"))': values, each maybe with help.
        inner = out[out.find("((") + 2 : out.rfind("))")] if "((" in out else ""
        return re.findall(r'"([^"]*)"(?::"[^"]*")?', inner)
    return [line.split("\t")[0].split(":")[0] for line in out.splitlines() if line]


@pytest.mark.parametrize("shell", SHELLS)
def test_show_completion_prints_the_script(shell: str, tmp_path: Path):
    result = _run(
        "--show-completion", shell, home=tmp_path, _TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION="1"
    )
    assert result.returncode == 0, result.stderr
    assert f"_FLEETPROMPT_COMPLETE=complete_{shell}" in result.stdout.replace(" ", "")


@pytest.mark.parametrize("shell", SHELLS)
def test_install_completion_writes_the_shells_file(shell: str, tmp_path: Path):
    (tmp_path / "user").mkdir()
    result = _run(
        "--install-completion",
        shell,
        home=tmp_path,
        _TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION="1",
    )
    assert result.returncode == 0, result.stderr
    assert f"{shell} completion installed in" in result.stdout
    written = [p for p in (tmp_path / "user").rglob("*") if p.is_file()]
    assert any("fleetprompt" in p.read_text() for p in written), written


@pytest.mark.parametrize("shell", SHELLS)
def test_completes_commands_options_and_installed_slugs(shell: str, tmp_path: Path, fx_index):
    home = tmp_path / "home"
    assert "install" in _complete(shell, "fleetprompt ins", home)
    assert "--dry-run" in _complete(shell, "fleetprompt install --dr", home)
    # Nothing installed yet: no slugs, and no error.
    assert _complete(shell, "fleetprompt uninstall fx", home) == []
    env = {"FLEETPROMPT_INDEX": str(fx_index)}
    result = _run("install", "fx-mid", "--yes", home=home, **env)
    assert result.returncode == 0, result.stderr
    assert _complete(shell, "fleetprompt uninstall fx", home) == ["fx-base", "fx-mid"]
    assert _complete(shell, "fleetprompt status fx-m", home) == ["fx-mid"]
    # Another tenant has nothing installed.
    assert _complete(shell, "fleetprompt pause -t other fx", home) == []


def test_help_lists_the_completion_options():
    out = run_cli("--help").stdout
    assert "--install-completion" in out and "--show-completion" in out
