"""Directives, their steps and leases: the store as the queue of record."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from fleetprompt_cli.errors import InvalidInput, NotFound, StateError
from fleetprompt_cli.store import repository as repo
from fleetprompt_cli.store.repository import StepSpec
from tests.store.conftest import T0

LEASE = 30.0


def _directive(store, tenant_id, *, now=T0):
    with store.session() as session:
        directive = repo.create_directive(
            session,
            tenant_id,
            actor="ann",
            kind="install",
            command="fleetprompt install field-service",
            arguments={"specs": ["field-service"]},
            plan={"packages": ["core-skills", "field-service"]},
            steps=[
                StepSpec("core-skills", "install", "1.2.0"),
                StepSpec("Field_Service", "install", "1.0.0"),
            ],
            now=now,
        )
    return directive.id


def test_directive_is_written_with_its_ordered_steps(store, tenants):
    acme, _ = tenants
    directive_id = _directive(store, acme)
    with store.session(readonly=True) as session:
        directive = repo.get_directive(session, acme, directive_id)
        assert (directive.status, directive.attempts, directive.actor) == ("pending", 0, "ann")
        assert directive.plan == {"packages": ["core-skills", "field-service"]}
        steps = repo.list_steps(session, acme, directive_id)
        assert [(s.position, s.slug, s.action, s.status) for s in steps] == [
            (0, "core-skills", "install", "pending"),
            (1, "field-service", "install", "pending"),
        ]
        assert [d.id for d in repo.list_directives(session, acme)] == [directive_id]
        assert repo.list_directives(session, acme, status="failed") == []


def test_bad_directive_writes_nothing(store, tenants):
    acme, _ = tenants
    with pytest.raises(InvalidInput, match="unknown step action"), store.session() as session:
        repo.create_directive(
            session, acme, actor="ann", kind="install", steps=[StepSpec("crm", "explode")]
        )
    with store.session(readonly=True) as session:
        assert repo.list_directives(session, acme) == []


def test_step_status_moves(store, tenants):
    acme, _ = tenants
    directive_id = _directive(store, acme)
    with store.session() as session:
        first, second = repo.list_steps(session, acme, directive_id)
        repo.update_step(session, acme, first.id, "running", now=T0)
        repo.update_step(session, acme, first.id, "running", now=T0 + timedelta(seconds=5))
        done = repo.update_step(session, acme, first.id, "done", now=T0 + timedelta(seconds=9))
        assert (done.attempts, done.started_at, done.finished_at) == (
            2,
            T0,
            T0 + timedelta(seconds=9),
        )
        repo.update_step(session, acme, second.id, "running")
        failed = repo.update_step(session, acme, second.id, "failed", error_message="bad sha256")
        assert failed.error_message == "bad sha256"
        assert repo.update_step(session, acme, first.id, "undone").status == "undone"
        with pytest.raises(StateError, match="from undone to running"):
            repo.update_step(session, acme, first.id, "running")
        finished = repo.finish_directive(session, acme, directive_id, "failed", error="step 1")
        assert (finished.status, finished.error) == ("failed", "step 1")
        with pytest.raises(StateError, match="already failed"):
            repo.finish_directive(session, acme, directive_id, "succeeded")
        assert repo.reopen_directive(session, acme, directive_id).status == "pending"


def test_only_one_owner_wins_the_lease(store, tenants):
    acme, _ = tenants
    directive_id = _directive(store, acme)
    barrier = threading.Barrier(4)
    results: dict[str, bool] = {}

    def claim(owner):
        barrier.wait()
        with store.session() as session:
            results[owner] = repo.claim_directive(
                session, acme, directive_id, owner, lease_seconds=LEASE, now=T0
            )

    threads = [threading.Thread(target=claim, args=(f"worker-{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [owner for owner, won in results.items() if won]
    assert len(winners) == 1
    with store.session(readonly=True) as session:
        directive = repo.get_directive(session, acme, directive_id)
        assert (directive.lease_owner, directive.status, directive.attempts) == (
            winners[0],
            "running",
            1,
        )
        assert directive.lease_expires_at == T0 + timedelta(seconds=LEASE)


def test_expired_lease_is_taken_over_and_attempts_counted(store, tenants):
    acme, _ = tenants
    directive_id = _directive(store, acme)
    with store.session() as session:
        assert repo.claim_directive(session, acme, directive_id, "a", lease_seconds=LEASE, now=T0)
    with store.session() as session:
        later = T0 + timedelta(seconds=10)
        assert not repo.claim_directive(
            session, acme, directive_id, "b", lease_seconds=LEASE, now=later
        )
        # The holder renewing its own live lease is not a new attempt.
        assert repo.claim_directive(
            session, acme, directive_id, "a", lease_seconds=LEASE, now=later
        )
        assert repo.heartbeat(
            session, acme, directive_id, "a", lease_seconds=LEASE, now=T0 + timedelta(seconds=20)
        )
        assert repo.get_directive(session, acme, directive_id).attempts == 1
    expired = T0 + timedelta(seconds=20 + LEASE)
    with store.session() as session:
        assert [r.directive_id for r in repo.expired_directives(session, now=expired)] == [
            directive_id
        ]
        assert repo.claim_directive(
            session, acme, directive_id, "b", lease_seconds=LEASE, now=expired
        )
    with store.session() as session:
        directive = repo.get_directive(session, acme, directive_id)
        assert (directive.lease_owner, directive.attempts) == ("b", 2)
        # The old holder learns it lost the lease and must stop.
        assert not repo.heartbeat(
            session, acme, directive_id, "a", lease_seconds=LEASE, now=expired
        )
        assert not repo.release(session, acme, directive_id, "a")
        assert repo.release(session, acme, directive_id, "b")
        assert repo.get_directive(session, acme, directive_id).lease_owner is None


def test_finished_directive_cannot_be_claimed(store, tenants):
    acme, _ = tenants
    directive_id = _directive(store, acme)
    with store.session() as session:
        repo.claim_directive(session, acme, directive_id, "a", lease_seconds=LEASE, now=T0)
        repo.finish_directive(session, acme, directive_id, "succeeded", now=T0)
    with store.session() as session:
        later = T0 + timedelta(hours=1)
        assert not repo.claim_directive(
            session, acme, directive_id, "b", lease_seconds=LEASE, now=later
        )
        assert repo.expired_directives(session, now=later) == []
        directive = repo.get_directive(session, acme, directive_id)
        assert (directive.finished_at, directive.lease_owner) == (T0, None)


def test_sweep_finds_unclaimed_directives_after_the_grace_period(store, tenants):
    acme, globex = tenants
    old = _directive(store, acme, now=T0)
    recent = _directive(store, globex, now=T0 + timedelta(seconds=50))
    with store.session(readonly=True) as session:
        now = T0 + timedelta(seconds=61)
        found = repo.expired_directives(session, now=now, grace_seconds=60)
        assert [(r.tenant_id, r.directive_id) for r in found] == [(acme, old)]
        later = repo.expired_directives(session, now=now + timedelta(minutes=1), grace_seconds=60)
        assert [r.directive_id for r in later] == [old, recent]


def test_claim_needs_the_right_tenant(store, tenants):
    acme, globex = tenants
    directive_id = _directive(store, acme)
    with store.session() as session:
        assert not repo.claim_directive(
            session, globex, directive_id, "a", lease_seconds=LEASE, now=T0
        )
        with pytest.raises(NotFound):
            repo.get_directive(session, globex, directive_id)
