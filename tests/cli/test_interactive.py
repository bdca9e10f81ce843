"""On a terminal, install asks for required config and for confirmation.

Runs the real CLI on a pseudo-terminal and answers its prompts; reads until
each prompt appears (no sleeps).
"""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

from fleetprompt_cli.errors import ExitCode
from tests.helpers import run_cli


class Terminal:
    """A process on a pseudo-terminal, with expect/send."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.master, slave = pty.openpty()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "fleetprompt_cli", *args],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            close_fds=True,
        )
        os.close(slave)
        self.seen = ""

    def expect(self, text: str, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.seen:
            left = deadline - time.monotonic()
            assert left > 0, f"never saw {text!r}; got:\n{self.seen[-2000:]}"
            ready, _, _ = select.select([self.master], [], [], left)
            if ready:
                try:
                    chunk = os.read(self.master, 4096)
                except OSError:  # The child closed the terminal.
                    chunk = b""
                assert chunk, f"process ended before {text!r}; got:\n{self.seen[-2000:]}"
                self.seen += chunk.decode("utf-8", "replace")

    def send(self, line: str) -> None:
        os.write(self.master, (line + "\n").encode())

    def wait(self) -> int:
        # Drain what is left so the child never blocks on a full terminal.
        while True:
            ready, _, _ = select.select([self.master], [], [], 120)
            try:
                chunk = os.read(self.master, 4096) if ready else b""
            except OSError:
                chunk = b""
            if not chunk:
                break
            self.seen += chunk.decode("utf-8", "replace")
        code = self.proc.wait(timeout=120)
        os.close(self.master)
        return code


def test_required_config_is_asked_for_and_the_install_confirmed(isolated_home: Path):
    assert run_cli("tenant", "create", "big", "--tier", "enterprise").exit_code == 0
    env = {k: v for k, v in os.environ.items() if k != "FLEETPROMPT_DEBUG"}
    terminal = Terminal(["install", "incident-response", "-t", "big"], env)
    terminal.expect("pager_service")
    terminal.send("opsgenie")
    terminal.expect("Install into tenant big?")
    terminal.send("y")
    assert terminal.wait() == 0, terminal.seen[-2000:]
    status = run_cli("status", "incident-response", "-t", "big", "--json")
    installation = json.loads(status.stdout)["installation"]
    assert installation["status"] == "active"
    assert installation["config"]["pager_service"] == "opsgenie"


def test_answering_no_changes_nothing(isolated_home: Path):
    env = {k: v for k, v in os.environ.items() if k != "FLEETPROMPT_DEBUG"}
    terminal = Terminal(["install", "code-review"], env)
    terminal.expect("Install into tenant default?")
    terminal.send("n")
    assert terminal.wait() == ExitCode.DECLINED == 12
    assert "declined: nothing changed in tenant default" in terminal.seen
    listing = json.loads(run_cli("list", "--json").stdout)["installations"]
    assert listing == []
