"""Tenant isolation: nothing done as tenant A is visible to, or changes, tenant B."""

from __future__ import annotations

import inspect

import pytest

from fleetprompt_cli.errors import NotFound
from fleetprompt_cli.store import repository as repo
from fleetprompt_cli.store.repository import StepSpec

# Functions that are global by design (tenants themselves, marketplace data,
# the cross-tenant queue sweep that returns ids) or touch no table.
GLOBAL = {
    "config_diff",
    "create_tenant",
    "database_now",
    "expired_directives",
    "get_tenant",
    "list_tenants",
    "resolve_tenant",
    "saved_id",
    "set_tier",
    "subscribed_tenants",
}


def test_every_tenant_function_takes_the_tenant_explicitly():
    functions = {
        name: getattr(repo, name)
        for name in repo.__all__
        if inspect.isfunction(getattr(repo, name)) and name not in GLOBAL
    }
    assert functions
    for name, function in functions.items():
        parameters = list(inspect.signature(function).parameters)
        assert parameters[:2] == ["session", "tenant_id"], name


@pytest.fixture
def populated(store, tenants):
    """Tenant A (acme) with an installation, resources, a directive and signals."""
    acme, _ = tenants
    with store.session() as session:
        directive = repo.create_directive(
            session, acme, actor="ann", kind="install", steps=[StepSpec("crm", "install", "1.0")]
        )
        repo.plan_installation(session, acme, "crm", "1.0", actor="ann", directive_id=directive.id)
        repo.apply_transition(session, acme, "crm", "start_install", actor="ann")
        installation = repo.apply_transition(session, acme, "crm", "complete_install", actor="ann")
        repo.upsert_resource(session, acme, installation.id, "agent", "Closer", content="Sell.")
        repo.append_signal(session, acme, "fleetprompt.package.installed", "x", subject="crm")
        repo.claim_directive(session, acme, directive.id, "w", lease_seconds=30)
        step = repo.list_steps(session, acme, directive.id)[0]
    return directive.id, installation.id, step.id


def test_tenant_b_sees_none_of_tenant_a(store, tenants, populated):
    _, globex = tenants
    directive_id, installation_id, step_id = populated
    with store.session() as session:
        assert repo.list_installations(session, globex, include_finished=True) == []
        assert repo.find_installation(session, globex, "crm") is None
        assert repo.list_resources(session, globex) == []
        assert repo.resource_counts(session, globex) == {}
        assert repo.list_revisions(session, globex) == []
        assert repo.list_revisions(session, globex, slug="crm") == []
        assert repo.list_directives(session, globex) == []
        assert repo.list_steps(session, globex, directive_id) == []
        assert repo.list_signals(session, globex) == []
        for call in (
            lambda: repo.get_installation(session, globex, "crm"),
            lambda: repo.get_installation_by_id(session, globex, installation_id),
            lambda: repo.get_directive(session, globex, directive_id),
            lambda: repo.update_step(session, globex, step_id, "running"),
            lambda: repo.apply_transition(session, globex, "crm", "pause", actor="eve"),
            lambda: repo.set_config(session, globex, "crm", {"x": 1}, actor="eve"),
            lambda: repo.upsert_resource(session, globex, installation_id, "agent", "Closer"),
            lambda: repo.finish_directive(session, globex, directive_id, "cancelled"),
            lambda: repo.reopen_directive(session, globex, directive_id),
        ):
            with pytest.raises(NotFound):
                call()
        assert not repo.claim_directive(session, globex, directive_id, "eve", lease_seconds=1)
        assert not repo.heartbeat(session, globex, directive_id, "w", lease_seconds=1)
        assert not repo.release(session, globex, directive_id, "w")
        assert repo.delete_resources(session, globex, installation_id) == 0


def test_tenant_b_changes_leave_tenant_a_alone(store, tenants, populated):
    acme, globex = tenants
    _, installation_id, _ = populated
    with store.session() as session:
        repo.plan_installation(session, globex, "crm", "2.0", actor="eve", config={"x": 1})
        repo.append_signal(session, globex, "fleetprompt.package.installed", "x")
    with store.session(readonly=True) as session:
        mine = repo.get_installation(session, acme, "crm")
        assert (mine.id, mine.status, mine.version, mine.config) == (
            installation_id,
            "active",
            "1.0",
            {},
        )
        assert [s.sequence for s in repo.list_signals(session, acme)] == [1]
        assert [r.name for r in repo.list_resources(session, acme)] == ["Closer"]
        assert len(repo.list_revisions(session, acme)) == 3
