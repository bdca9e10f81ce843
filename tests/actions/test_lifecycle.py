"""actions.lifecycle on each state store backend (SQLite, and PostgreSQL when configured)."""

from __future__ import annotations

import pytest

from fleetprompt_cli.actions import lifecycle
from fleetprompt_cli.actions.directive_runner import run_directive
from fleetprompt_cli.actions.preview import preview_uninstall, submit
from fleetprompt_cli.errors import ConfigError, NotFound, StateError
from fleetprompt_cli.settings import load_settings
from fleetprompt_cli.store import open_store
from fleetprompt_cli.store import repository as repo
from fleetprompt_cli.store.stats_reader import read_stats
from tests.helpers import run_cli


@pytest.fixture
def store(store_url, monkeypatch):
    """The store under test, with knowledge-base installed in the default tenant."""
    monkeypatch.setenv("FLEETPROMPT_DATABASE_URL", store_url)
    result = run_cli("install", "knowledge-base", "--yes")
    assert result.exit_code == 0, result.stderr
    opened = open_store(store_url)
    yield opened
    opened.dispose()


def test_pause_resume_record_revisions_and_directives(store):
    paused = lifecycle.pause(store, "default", "knowledge-base", actor="alice", command="c")
    assert paused.status == "paused"
    with pytest.raises(StateError, match=r"cannot pause knowledge-base: it is paused"):
        lifecycle.pause(store, "default", "knowledge-base", actor="alice")
    lifecycle.resume(store, "default", "knowledge-base", actor="bob")
    with pytest.raises(StateError, match=r"resume needs paused"):
        lifecycle.resume(store, "default", "knowledge-base", actor="bob")

    revisions = lifecycle.history(store, "default", "knowledge-base", limit=2)
    assert [(r.transition, r.actor) for r in revisions] == [("pause", "alice"), ("resume", "bob")]
    log = lifecycle.list_directives(store, "default", limit=2)
    assert [(d.kind, d.operation, d.status) for d in log] == [
        ("sync", "resume", "succeeded"),
        ("sync", "pause", "succeeded"),
    ]
    assert revisions[0].directive_id == log[1].id
    # Finished in the same transaction: nothing is left for the queue's sweep.
    with store.session(readonly=True) as s:
        assert repo.expired_directives(s, grace_seconds=0) == []


def test_configure_checks_schema_and_records_diff(store):
    with pytest.raises(ConfigError):
        lifecycle.configure(
            load_settings(), store, "default", "knowledge-base", ["max_articles=x"], actor="a"
        )
    result = lifecycle.configure(
        load_settings(), store, "default", "knowledge-base", ["max_articles=7"], actor="a"
    )
    assert result.changes == {"max_articles": [2000, 7]}
    detail = lifecycle.installation_detail(store, "default", "knowledge-base")
    assert detail.installation.config["max_articles"] == 7
    assert detail.revisions[-1].config_diff == {
        "added": {},
        "removed": {},
        "changed": {"max_articles": [2000, 7]},
    }


def test_uninstall_deletes_resources_keeps_rows_and_moves_stats(store):
    settings = load_settings()
    before = read_stats(settings.database_url, ["knowledge-base"])["knowledge-base"]
    before = before.active_install_count
    preview = preview_uninstall(store, "default", ["knowledge-base"])
    assert [p["slug"] for p in preview.removed] == [
        "knowledge-base",
        "data-connectors",
        "core-skills",
    ]
    directive = submit(settings, store, preview, actor="t", command="uninstall").directive_id
    outcome = run_directive(settings, store, preview.tenant_id, directive)
    assert outcome.status == "succeeded", outcome.error
    listing = lifecycle.list_installations(store, "default", include_all=True)
    assert {(i.slug, i.status) for i in listing.installations} == {
        ("knowledge-base", "uninstalled"),
        ("data-connectors", "uninstalled"),
        ("core-skills", "uninstalled"),
    }
    with store.session(readonly=True) as s:
        assert repo.list_resources(s, preview.tenant_id) == []
    after = read_stats(settings.database_url, ["knowledge-base"])["knowledge-base"]
    assert after.active_install_count == before - 1
    assert lifecycle.list_installations(store, "default").installations == []
    with pytest.raises(StateError, match="it is uninstalled"):
        preview_uninstall(store, "default", ["knowledge-base"])
    with pytest.raises(StateError, match="cannot pause knowledge-base: it is uninstalled"):
        lifecycle.pause(store, "default", "knowledge-base", actor="t")


def test_other_tenants_see_nothing(store):
    lifecycle.create_tenant(store, "other", "pro")
    assert lifecycle.list_installations(store, "other", include_all=True).installations == []
    assert lifecycle.history(store, "other") == []
    assert lifecycle.list_directives(store, "other") == []
    assert lifecycle.tenant_summary(store, "other").by_status == {}
    directive = lifecycle.list_directives(store, "default")[0].id
    with pytest.raises(NotFound):
        lifecycle.directive_detail(store, "other", directive)
    with pytest.raises(NotFound):
        lifecycle.pause(store, "other", "knowledge-base", actor="x")
    with pytest.raises(NotFound):
        preview_uninstall(store, "other", ["knowledge-base"])
    counts = {t.slug: t.installations for t in lifecycle.list_tenants(store)}
    assert counts == {"default": 3, "other": 0}


def test_directive_prefix_lookup(store):
    directive = lifecycle.list_directives(store, "default")[0]
    assert lifecycle.directive_detail(store, "default", directive.id[:6].upper()).id == directive.id
    assert lifecycle.status(store, "default", directive.id[:7]).id == directive.id
    with pytest.raises(NotFound):
        lifecycle.directive_detail(store, "default", directive.id[:5])
    with pytest.raises(NotFound):
        lifecycle.directive_detail(store, "default", "zzzzzzzz")
