"""Signals under concurrency, crashes and tenants, on SQLite and PostgreSQL.

Publishers and dispatchers are separate processes; the handler is a real
entry-point plugin (tests/actions/signal_support.py) that logs every call, so
"nothing delivered twice" is checked at the handler, not only in the table.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from fleetprompt_cli.store import repository as repo
from tests.actions.signal_support import (
    add_subscribers,
    child_env,
    dispatch_in_child,
    publish,
    read_log,
    write_plugin,
)

_PUBLISH = """
import sys
from fleetprompt_cli.store import repository as repo
from fleetprompt_cli.store.engine import open_store
store = open_store(sys.argv[1], busy_timeout=30.0)
for i in range(int(sys.argv[3])):
    with store.session() as s:
        repo.append_signal(s, int(sys.argv[2]), "load.test.published", "p" + sys.argv[4])
store.dispose()
"""


def _sequences(store, tenant_id):
    with store.session(readonly=True) as s:
        return [row.sequence for row in repo.list_signals(s, tenant_id)]


def test_four_publisher_processes_leave_no_gap(store, store_url, tenants):
    acme, _ = tenants
    children = [
        subprocess.Popen(
            [sys.executable, "-c", _PUBLISH, store_url, str(acme), "40", str(n)],
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(4)
    ]
    for child in children:
        _, err = child.communicate(timeout=300)
        assert child.returncode == 0, err
    assert _sequences(store, acme) == list(range(1, 161))


def test_same_source_and_id_is_stored_once(store, tenants):
    acme, globex = tenants
    with store.session() as s:
        first, created = repo.publish_signal(s, acme, "crm.lead.qualified", "crm", signal_id="e-1")
        assert created and first.sequence == 1
    with store.session() as s:
        again, created = repo.publish_signal(s, acme, "crm.lead.lost", "crm", signal_id="e-1")
        assert not created and (again.sequence, again.type) == (1, "crm.lead.qualified")
        # Another source may use the same id; so may another tenant.
        other, created = repo.publish_signal(s, acme, "crm.lead.lost", "erp", signal_id="e-1")
        assert created and other.sequence == 2
        assert repo.publish_signal(s, globex, "crm.lead.lost", "crm", signal_id="e-1")[1]
    assert _sequences(store, acme) == [1, 2]


def _setup(store, tenant_id, n_signals):
    add_subscribers(
        store,
        tenant_id,
        "pkg",
        {
            "A": ("agent", ["load.*"]),
            "B": ("agent", ["load.test.published"]),
            "C": ("agent", ["other.thing"]),
        },
    )
    publish(store, tenant_id, ["load.test.published"] * n_signals)


def _deliveries(store, tenant_id):
    with store.session(readonly=True) as s:
        return repo.list_deliveries(s, tenant_id)


def test_two_dispatchers_at_once_deliver_each_signal_once(store, store_url, tenants, tmp_path):
    acme, _ = tenants
    _setup(store, acme, 120)
    log = tmp_path / "calls.log"
    env = child_env(write_plugin(tmp_path / "plugin", ("agent",)), FP_TEST_HANDLER_LOG=str(log))
    children = [dispatch_in_child(store_url, "acme", 7, env) for _ in range(2)]
    for child in children:
        _, err = child.communicate(timeout=300)
        assert child.returncode == 0, err
    calls = read_log(log)
    assert len(calls) == len(set(calls)) == 240  # A and B, each signal once
    rows = _deliveries(store, acme)
    assert sorted((r.subscription_id, r.sequence) for r in rows) == sorted(
        {(r.subscription_id, r.sequence) for r in rows}
    )
    assert len(rows) == 240 and {r.status for r in rows} == {"delivered"}
    assert {r.result["handled_by"] for r in rows} == {"fp-test-plugin"}
    with store.session(readonly=True) as s:
        assert {sub.offset for sub in repo.list_subscriptions(s, acme)} == {120}


def test_dispatcher_killed_mid_batch_resumes_from_its_offset(store, store_url, tenants, tmp_path):
    acme, _ = tenants
    _setup(store, acme, 50)
    log = tmp_path / "calls.log"
    plugin = write_plugin(tmp_path / "plugin", ("agent",))
    killed = dispatch_in_child(
        store_url,
        "acme",
        10,
        child_env(
            plugin,
            FP_TEST_HANDLER_LOG=str(log),
            FLEETPROMPT_FAULT="dispatch-before-commit:3",
        ),
    )
    killed.communicate(timeout=300)
    assert killed.returncode == -9  # SIGKILL inside the third batch's transaction
    # Two batches committed: 20 signals to A and B; the third left nothing behind.
    assert len(_deliveries(store, acme)) == 40
    with store.session(readonly=True) as s:
        assert {sub.handler: sub.offset for sub in repo.list_subscriptions(s, acme)} == {
            "A": 20,
            "B": 20,
            "C": 20,
        }
    again = dispatch_in_child(
        store_url, "acme", 10, child_env(plugin, FP_TEST_HANDLER_LOG=str(log))
    )
    out, err = again.communicate(timeout=300)
    assert again.returncode == 0, err
    assert json.loads(out)["delivered"] == 60
    rows = _deliveries(store, acme)
    keys = [(r.subscription_id, r.sequence, r.generation) for r in rows]
    assert len(keys) == len(set(keys)) == 100  # nothing lost, nothing recorded twice
    # At least once: the killed batch's handler calls ran again, none other did.
    calls = read_log(log)
    assert {(name, seq) for name, seq, _ in calls} == {
        (f"pkg:{h}", n) for h in "AB" for n in range(1, 51)
    }
    repeated = {c for c in calls if calls.count(c) > 1}
    assert {seq for _, seq, _ in repeated} == set(range(21, 31))


def test_signals_of_one_tenant_never_reach_another(store, tenants):
    from fleetprompt_cli.actions.signals import deliveries, dispatch, retry
    from fleetprompt_cli.errors import NotFound

    acme, globex = tenants
    _setup(store, acme, 5)
    add_subscribers(store, globex, "pkg", {"A": ("agent", ["load.*"])})
    publish(store, globex, ["other.tenant.only"])
    assert dispatch(store, "globex").delivered == 0
    assert dispatch(store, "acme").delivered == 10
    assert deliveries(store, "globex")[1] == []
    with store.session(readonly=True) as s:
        assert [sub.offset for sub in repo.list_subscriptions(s, globex)] == [1]
        acme_delivery = repo.list_deliveries(s, acme)[0].id
    with pytest.raises(NotFound):
        retry(store, "globex", acme_delivery)
