"""The installer's bulk resource write: exactly the given set, idempotent, on both backends."""

from __future__ import annotations

from datetime import timedelta

import pytest

from fleetprompt_cli.errors import InvalidInput, NotFound
from fleetprompt_cli.store import repository as repo
from tests.store.conftest import T0

SET = [
    ("agent", "Dispatcher", {"skills": ["geo"]}, "You dispatch."),
    ("skill", "geo", None, "# Geo"),
    ("tool", "parts", {}, None),
]


def _installed(store, tenant_id, slug="crm"):
    with store.session() as session:
        repo.plan_installation(session, tenant_id, slug, "1.0.0", actor="ann")
    for name in ("start_install", "complete_install"):
        with store.session() as session:
            repo.apply_transition(session, tenant_id, slug, name, actor="ann")
    with store.session() as session:
        return repo.get_installation(session, tenant_id, slug).id


def _rows(store, tenant_id, installation_id):
    with store.session(readonly=True) as session:
        return [
            (r.kind, r.name, r.definition, r.content, r.updated_at)
            for r in repo.list_resources(session, tenant_id, installation_id=installation_id)
        ]


def test_put_resources_writes_exactly_the_set_and_a_rerun_touches_nothing(store, tenants):
    acme, _ = tenants
    installation = _installed(store, acme)
    with store.session() as session:
        assert repo.put_resources(session, acme, installation, SET, now=T0) == 0
    first = _rows(store, acme, installation)
    assert first == [
        ("agent", "Dispatcher", {"skills": ["geo"]}, "You dispatch.", T0),
        ("skill", "geo", {}, "# Geo", T0),
        ("tool", "parts", {}, None, T0),
    ]
    # The same set later: no row changes, not even updated_at.
    with store.session() as session:
        later = T0 + timedelta(hours=1)
        assert repo.put_resources(session, acme, installation, SET, now=later) == 0
    assert _rows(store, acme, installation) == first


def test_put_resources_updates_what_changed_and_removes_what_is_gone(store, tenants):
    acme, _ = tenants
    installation = _installed(store, acme)
    with store.session() as session:
        repo.put_resources(session, acme, installation, SET, now=T0)
    later = T0 + timedelta(hours=2)
    new = [
        ("agent", "Dispatcher", {"skills": ["geo", "maps"]}, "You dispatch."),
        ("skill", "geo", None, "# Geo"),
        ("workflow", "Flow", {"steps": ["Dispatcher"]}, None),
    ]
    with store.session() as session:
        assert repo.put_resources(session, acme, installation, new, now=later) == 1
    assert _rows(store, acme, installation) == [
        ("agent", "Dispatcher", {"skills": ["geo", "maps"]}, "You dispatch.", later),
        ("skill", "geo", {}, "# Geo", T0),
        ("workflow", "Flow", {"steps": ["Dispatcher"]}, None, later),
    ]
    # An empty set removes everything.
    with store.session() as session:
        assert repo.put_resources(session, acme, installation, []) == 3
    assert _rows(store, acme, installation) == []


def test_put_resources_refuses_a_bad_kind_or_another_tenants_installation(store, tenants):
    acme, globex = tenants
    installation = _installed(store, acme)
    with store.session() as session:
        repo.put_resources(session, acme, installation, SET, now=T0)
    bad = [*SET, ("widget", "x", None, None)]
    with pytest.raises(InvalidInput, match="unknown resource kind 'widget'"), store.session() as s:
        repo.put_resources(s, acme, installation, bad)
    with pytest.raises(NotFound, match=f"no installation {installation}"), store.session() as s:
        repo.put_resources(s, globex, installation, SET)
    # Neither refusal changed anything.
    assert [name for _, name, *_ in _rows(store, acme, installation)] == [
        "Dispatcher",
        "geo",
        "parts",
    ]
