"""Shared by the signal tests: a REAL handler plugin, subscribers and child processes.

``write_plugin`` writes a tiny installed distribution into a folder: a module
and a ``*.dist-info`` with ``entry_points.txt`` registering it in the
``fleetprompt.handlers`` group.  Child processes get the folder on
``PYTHONPATH``, so ``importlib.metadata`` finds it exactly as it finds a
pip-installed plugin (nothing is mocked).  The handler appends one line per
call to ``FP_TEST_HANDLER_LOG`` and raises while ``FP_TEST_HANDLER_FAIL``
names a file that exists (or when the signal's data says ``{"fail": true}``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

__all__ = [
    "PLUGIN_SOURCE",
    "add_subscribers",
    "child_env",
    "dispatch_in_child",
    "publish",
    "write_plugin",
]

PLUGIN_SOURCE = """
import json, os

def handle(event, subscriber):
    log = os.environ.get("FP_TEST_HANDLER_LOG")
    if log:
        with open(log, "a") as f:
            call = [subscriber["name"], event["sequence"], subscriber["generation"]]
            f.write(json.dumps(call) + "\\n")
    fail = os.environ.get("FP_TEST_HANDLER_FAIL")
    data = event["data"] if isinstance(event["data"], dict) else {}
    if (fail and os.path.exists(fail)) or data.get("fail"):
        raise RuntimeError("handler refused signal %d" % event["sequence"])
    return {"handled_by": "fp-test-plugin", "sequence": event["sequence"]}
"""


def write_plugin(folder: Path, kinds: tuple[str, ...] = ("workflow",)) -> Path:
    """Install the test plugin (module + dist-info) into ``folder``; return it."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "fp_test_handler.py").write_text(PLUGIN_SOURCE)
    info = folder / "fp_test_handler-1.0.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fp-test-handler\nVersion: 1.0\n")
    lines = "".join(f"{kind} = fp_test_handler:handle\n" for kind in kinds)
    (info / "entry_points.txt").write_text(f"[fleetprompt.handlers]\n{lines}")
    return folder


def child_env(plugin: Path | None = None, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    if plugin is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(plugin), env.get("PYTHONPATH", "")])
    env.update(extra)
    return env


_DISPATCH = """
import json, sys
from fleetprompt_cli.actions.signals import dispatch
from fleetprompt_cli.store.engine import open_store
store = open_store(sys.argv[1], busy_timeout=30.0)
result = dispatch(store, sys.argv[2], batch=int(sys.argv[3]))
print(json.dumps(result.to_json()))
store.dispose()
"""


def dispatch_in_child(url: str, tenant: str, batch: int, env: dict[str, str]) -> subprocess.Popen:
    """Start ``dispatch`` in a child process (wait on it with .communicate())."""
    return subprocess.Popen(
        [sys.executable, "-c", _DISPATCH, url, tenant, str(batch)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def add_subscribers(
    store: Any, tenant_id: int, slug: str, handlers: dict[str, tuple[str, list[str]]]
) -> int:
    """An installation of ``slug`` with subscribers {handler: (kind, patterns)}; its id."""
    from fleetprompt_cli.store import repository as repo

    with store.session() as s:
        inst = repo.plan_installation(s, tenant_id, slug, "1.0.0", actor="t")
        specs = [
            repo.SubscriptionSpec(name, kind, tuple(patterns))
            for name, (kind, patterns) in handlers.items()
        ]
        repo.replace_subscriptions(s, tenant_id, repo.saved_id(inst), slug, specs)
        return repo.saved_id(inst)


def publish(store: Any, tenant_id: int, types: list[str], data: Any = None) -> None:
    """Append one signal per type, in one transaction."""
    from fleetprompt_cli.store import repository as repo

    with store.session() as s:
        for type_ in types:
            repo.append_signal(s, tenant_id, type_, "test", data=data)


def read_log(path: Path) -> list[tuple[str, int, int]]:
    if not path.exists():
        return []
    return [tuple(json.loads(line)) for line in path.read_text().splitlines()]
