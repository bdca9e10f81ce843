"""Signals: a gapless, per-tenant sequence taken under a row lock."""

from __future__ import annotations

import threading

import pytest

from fleetprompt_cli.store import repository as repo


def _append(store, tenant_id, n=1, **kwargs):
    with store.session() as session:
        return [
            repo.append_signal(
                session,
                tenant_id,
                "fleetprompt.package.installed",
                "fleetprompt://installer",
                subject="crm",
                data={"n": i},
                **kwargs,
            ).sequence
            for i in range(n)
        ]


def test_sequences_are_per_tenant_and_gapless(store, tenants):
    acme, globex = tenants
    assert _append(store, acme, 3) == [1, 2, 3]
    assert _append(store, globex, 2) == [1, 2]

    class Crash(Exception):
        pass

    # A rolled-back append gives its number back.
    with pytest.raises(Crash), store.session() as session:
        repo.append_signal(session, acme, "fleetprompt.package.installed", "x")
        raise Crash
    assert _append(store, acme, correlation_id="d-1") == [4]
    with store.session(readonly=True) as session:
        signals = repo.list_signals(session, acme, after=2)
        assert [s.sequence for s in signals] == [3, 4]
        assert signals[-1].correlation_id == "d-1"
        assert signals[0].data == {"n": 2} and signals[0].specversion == "1.0"
        assert [s.sequence for s in repo.list_signals(session, acme, correlation_id="d-1")] == [4]


def test_concurrent_appends_stay_gapless(store, tenants):
    acme, _ = tenants

    def append_25():
        for _ in range(25):
            _append(store, acme)

    threads = [threading.Thread(target=append_25) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with store.session(readonly=True) as session:
        assert [s.sequence for s in repo.list_signals(session, acme)] == list(range(1, 101))


def test_default_tenant_gets_a_counter(store):
    with store.session() as session:
        default = repo.resolve_tenant(session)
    assert _append(store, default.id, 2) == [1, 2]
