"""Numbered revisions (releases): numbering, statuses, tenants, and migration 0004."""

from __future__ import annotations

from sqlalchemy import text

from fleetprompt_cli.store import repository as repo
from fleetprompt_cli.store.engine import MIGRATIONS, Migrations, open_store, upgrade_store

RESOURCE = {"kind": "skill", "name": "geo", "definition": {"name": "geo"}, "content": "text\n"}


def _live(store, tenant_id, slug="crm", version="1.0.0"):
    with store.session() as session:
        repo.plan_installation(session, tenant_id, slug, version, actor="ann")
    for name in ("start_install", "complete_install"):
        with store.session() as session:
            repo.apply_transition(session, tenant_id, slug, name, actor="ann")


def _record(store, tenant_id, version="1.0.0", slug="crm", **kwargs):
    with store.session() as session:
        row = repo.get_installation(session, tenant_id, slug, for_update=True)
        options = {"config": {"a": 1}, "resources": [RESOURCE], **kwargs}
        release = repo.record_release(
            session,
            tenant_id,
            row,
            action=options.pop("action", "install"),
            actor="ann",
            directive_id=None,
            version=version,
            **options,
        )
        return release.number, row.revision


def _statuses(store, tenant_id, slug="crm"):
    with store.session(readonly=True) as session:
        return [
            (r.number, r.status, r.version) for r in repo.list_releases(session, tenant_id, slug)
        ]


def test_numbers_statuses_and_the_installation_revision(store, tenants):
    acme, globex = tenants
    _live(store, acme)
    assert _record(store, acme) == (1, 1)
    assert _record(store, acme, "2.0.0", action="upgrade", config={"a": 2}) == (2, 2)
    # A failed attempt takes a number but leaves the deployed one deployed.
    assert _record(store, acme, "3.0.0", action="upgrade", failed="boom") == (3, 2)
    assert _statuses(store, acme) == [
        (1, "superseded", "1.0.0"),
        (2, "deployed", "2.0.0"),
        (3, "failed", "3.0.0"),
    ]
    with store.session(readonly=True) as session:
        second = repo.get_release(session, acme, "crm", 2)
        assert second.previous_version == "1.0.0"
        assert second.config_diff == {"added": {}, "removed": {}, "changed": {"a": [1, 2]}}
        assert second.resources == [RESOURCE]
        assert repo.deployed_release(session, acme, "crm").number == 2
        # Another tenant has none of them, and numbers its own from 1.
        assert repo.list_releases(session, globex, "crm") == []
        assert repo.get_release(session, globex, "crm", 1) is None
    _live(store, globex)
    assert _record(store, globex) == (1, 1)


def test_numbers_go_on_across_uninstall_and_reinstall(store, tenants):
    acme, _ = tenants
    _live(store, acme)
    _record(store, acme)
    for name in ("start_uninstall", "complete_uninstall"):
        with store.session() as session:
            repo.apply_transition(session, acme, "crm", name, actor="ann")
    with store.session() as session:
        repo.mark_uninstalled(session, acme, "crm")
    assert _statuses(store, acme) == [(1, "uninstalled", "1.0.0")]
    _live(store, acme, version="1.1.0")
    assert _record(store, acme, "1.1.0") == (2, 2)
    with store.session(readonly=True) as session:
        # Nothing was deployed since the uninstall: no previous version.
        assert repo.get_release(session, acme, "crm", 2).previous_version is None
    assert _statuses(store, acme) == [(1, "uninstalled", "1.0.0"), (2, "deployed", "1.1.0")]


def test_snapshot_of_installed_resources(store, tenants):
    acme, _ = tenants
    _live(store, acme)
    with store.session() as session:
        row = repo.get_installation(session, acme, "crm")
        repo.upsert_resource(session, acme, row.id, "skill", "b", definition={"x": 1}, content="B")
        repo.upsert_resource(session, acme, row.id, "agent", "a", content=None)
        assert repo.resources_snapshot(session, acme, row.id) == [
            {"kind": "agent", "name": "a", "definition": {}, "content": None},
            {"kind": "skill", "name": "b", "definition": {"x": 1}, "content": "B"},
        ]


def test_0004_adds_releases_to_a_store_with_installations(empty_store_url):
    """An installation made under 0003 migrates without revisions; its next one is 1."""
    at_0003 = Migrations(MIGRATIONS.script_location, "0003")
    upgrade_store(empty_store_url, migrations=at_0003)
    with open_store(empty_store_url, migrations=at_0003) as store, store.connection() as c:
        c.execute(
            text(
                "INSERT INTO tenants (slug, tier, created_at)"
                " VALUES ('acme', 'free', CURRENT_TIMESTAMP)"
            )
        )
        c.execute(
            text(
                "INSERT INTO installations (tenant_id, slug, version, revision, status, config,"
                " requested, created_at, updated_at) SELECT id, 'crm', '1.0.0', 1, 'active',"
                " '{}', true, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP FROM tenants"
            )
        )
    assert upgrade_store(empty_store_url).current == "0003"
    with open_store(empty_store_url) as store:
        with store.session(readonly=True) as session:
            acme = repo.get_tenant(session, "acme").id
            assert repo.list_releases(session, acme, "crm") == []
            assert repo.deployed_release(session, acme, "crm") is None
        assert _record(store, acme, action="configure") == (1, 1)
