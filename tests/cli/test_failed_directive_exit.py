"""A failed directive exits alike whether the CLI ran it, followed a worker, or recover did.

The failing error's kind is kept on the directive (``error_kind``), so a
process that only reads the directive (following a worker, ``recover``, a
later ``directives show``) exits with the same code as the one that ran it.
"""

from __future__ import annotations

import json
import shutil

import pytest

from fleetprompt_cli.errors import ExitCode
from tests.helpers import run_cli
from tests.queue.support import index_line, store_for


@pytest.fixture
def broken_mid(backend, fx_index, tmp_path, monkeypatch):
    """An index whose fx-mid archive changed after publishing (checksum mismatch, exit 6)."""
    index = tmp_path / "index"
    shutil.copytree(fx_index, index)
    monkeypatch.setenv("FLEETPROMPT_INDEX", str(index))
    monkeypatch.setenv("FLEETPROMPT_ACTOR", "tester")
    _, line = index_line(index, "fx-mid")
    archive = index / line["archive"]
    good = archive.read_bytes()
    archive.write_bytes(good[:-1] + bytes([good[-1] ^ 1]))
    for tenant in ("followed", "recovered"):
        assert run_cli("tenant", "create", tenant).exit_code == 0


def _queued(tenant: str) -> str:
    result = run_cli("install", "fx-top", "--yes", "--no-wait", "--json", "--tenant", tenant)
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)["directive"]


def test_a_failed_directive_exits_alike_inline_followed_and_recovered(broken_mid):
    from fleetprompt_cli.cli.context import App
    from fleetprompt_cli.cli.progress import follow
    from fleetprompt_cli.settings import load_settings
    from fleetprompt_cli.store import repository as repo

    inline = run_cli("install", "fx-top", "--yes")
    assert inline.exit_code == ExitCode.INTEGRITY, inline.stderr

    # A worker runs it; the CLI that follows it exits as if it had run it.
    followed = _queued("followed")
    worker = run_cli("worker", "--once", "--json")
    assert json.loads(worker.stdout)["outcomes"]["failed"] == 1, worker.stderr
    store = store_for(load_settings())
    try:
        with store.session(readonly=True) as s:
            tenant_id = repo.get_tenant(s, "followed").id
            assert repo.get_directive(s, tenant_id, followed).error_kind == "integrity"
        outcome = follow(App(), store, tenant_id, followed, interval=0)
    finally:
        store.dispose()
    assert (outcome.status, outcome.exit_code) == ("failed", ExitCode.INTEGRITY)

    # recover finishes a stranded one, and retries a failed one: the same exit.
    _queued("recovered")
    recovered = run_cli("recover", "--now", "--tenant", "recovered")
    assert recovered.exit_code == ExitCode.INTEGRITY, recovered.stderr
    again = run_cli("recover", "--retry-failed", "--tenant", "recovered", "--json")
    assert again.exit_code == ExitCode.INTEGRITY, again.stderr
    (item,) = json.loads(again.stdout)["directives"]
    assert (item["outcome"], item["error_kind"]) == ("failed", "integrity")


def test_the_error_kind_is_shown_with_the_directive(broken_mid):
    assert run_cli("install", "fx-top", "--yes").exit_code == ExitCode.INTEGRITY
    shown = run_cli("directives", "list", "--json")
    assert shown.exit_code == 0, shown.stderr
    (directive,) = json.loads(shown.stdout)["directives"]
    assert (directive["status"], directive["error_kind"]) == ("failed", "integrity")
