"""Worker processes for tests: start one, read its stderr lines as they come, stop it."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable

__all__ = ["CliProcess", "WorkerProcess", "lines_until"]


def lines_until(
    sink: queue.Queue, done: Callable[[list[str]], bool], timeout: float = 90
) -> list[str]:
    """Lines from several workers' shared ``sink`` until ``done(lines so far)``."""
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while not done(lines):
        try:
            lines.append(sink.get(timeout=max(deadline - time.monotonic(), 0.01)))
        except queue.Empty:
            raise AssertionError(f"the workers did not finish; last lines: {lines[-8:]}") from None
    return lines


class CliProcess:
    """``fleetprompt ARGS`` as a child process whose stderr lines are collected."""

    def __init__(
        self, *args: str, env: dict[str, str] | None = None, sink: queue.Queue | None = None
    ) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "fleetprompt_cli", *args],
            env={**os.environ, **(env or {})},
            stderr=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self._queue: queue.Queue = queue.Queue()
        assert self.process.stderr is not None
        stream = self.process.stderr

        def read() -> None:
            for line in stream:
                self._queue.put(line)
                if sink is not None:
                    sink.put(line)

        self._reader = threading.Thread(target=read, daemon=True)
        self._reader.start()

    def wait_for(self, found: Callable[[str], bool] | str, timeout: float = 90) -> str:
        """Block until a stderr line matches (a substring or a predicate); return it.

        The timeout bounds a broken worker; a working one answers as soon as
        the line is written.
        """
        match = (lambda line: found in line) if isinstance(found, str) else found
        for line in self.lines:
            if match(line):
                return line
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            try:
                line = self._queue.get(timeout=max(left, 0.01))
            except queue.Empty:
                raise AssertionError(
                    f"no such line from the worker; last: {self.lines[-8:]}"
                ) from None
            self.lines.append(line)
            if match(line):
                return line

    def signal(self, signum: int = signal.SIGTERM) -> None:
        self.process.send_signal(signum)

    def finish(self, timeout: float = 60) -> int:
        """Wait for the process to end; collect every remaining line; return the exit code."""
        try:
            code = self.process.wait(timeout=timeout)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
        self._reader.join(timeout=30)
        while not self._queue.empty():
            self.lines.append(self._queue.get())
        for stream in (self.process.stderr, self.process.stdout):
            if stream is not None:
                stream.close()
        return code

    def stop(self) -> int:
        """SIGTERM, then wait (the usual end of a test)."""
        if self.process.poll() is None:
            self.signal(signal.SIGTERM)
        return self.finish()


class WorkerProcess(CliProcess):
    """``fleetprompt worker ARGS`` as a child process whose stderr lines are collected."""

    def __init__(
        self, *args: str, env: dict[str, str] | None = None, sink: queue.Queue | None = None
    ) -> None:
        super().__init__("worker", *args, env=env, sink=sink)
