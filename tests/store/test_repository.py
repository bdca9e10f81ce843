"""Repository functions: tenants, installations and revisions, resources, stats, reviews."""

from __future__ import annotations

from datetime import timedelta

import pytest

from fleetprompt_cli.errors import AlreadyExists, InvalidInput, NotFound, StateError
from fleetprompt_cli.store import repository as repo
from fleetprompt_cli.store.models import PackageStats
from fleetprompt_cli.store.stats_reader import read_reviews, read_stats
from tests.store.conftest import T0

# -- tenants ------------------------------------------------------------------


def test_default_tenant_exists_on_first_use(store):
    with store.session() as session:
        tenant = repo.resolve_tenant(session)
        assert (tenant.slug, tenant.tier) == ("default", "free")
    with store.session() as session:
        assert repo.resolve_tenant(session, "default").id == tenant.id
        assert [t.slug for t in repo.list_tenants(session)] == ["default"]


def test_tenants_create_list_set_tier(store):
    with store.session() as session:
        repo.create_tenant(session, "globex")
        repo.create_tenant(session, "acme", tier="enterprise")
    with store.session() as session:
        assert [(t.slug, t.tier) for t in repo.list_tenants(session)] == [
            ("acme", "enterprise"),
            ("globex", "free"),
        ]
        assert repo.set_tier(session, "globex", "pro").tier == "pro"
    with store.session(readonly=True) as session:
        assert repo.get_tenant(session, "globex").tier == "pro"


def test_tenant_errors(store):
    with store.session() as session:
        repo.create_tenant(session, "acme")
    with store.session() as session:
        with pytest.raises(AlreadyExists):
            repo.create_tenant(session, "acme")
        with pytest.raises(NotFound, match="unknown tenant 'nope'"):
            repo.get_tenant(session, "nope")
        with pytest.raises(NotFound):
            repo.resolve_tenant(session, "nope")
        with pytest.raises(InvalidInput, match="unknown tier 'gold'"):
            repo.set_tier(session, "acme", "gold")
        with pytest.raises(InvalidInput, match="invalid tenant name"):
            repo.create_tenant(session, "Bad Name")


# -- installations, transitions and revisions --------------------------------


def _install(store, tenant_id, slug="field-service", version="1.0.0", **kwargs):
    with store.session() as session:
        repo.plan_installation(session, tenant_id, slug, version, actor="ann", **kwargs)
    for name in ("start_install", "complete_install"):
        with store.session() as session:
            repo.apply_transition(session, tenant_id, slug, name, actor="ann")


def test_full_lifecycle_records_every_transition(store, tenants):
    acme, _ = tenants
    with store.session() as session:
        directive = repo.create_directive(session, acme, actor="ann", kind="install")
        planned = repo.plan_installation(
            session,
            acme,
            "Field_Service",
            "1.0.0",
            actor="ann",
            config={"region": "us"},
            directive_id=directive.id,
        )
        assert (planned.slug, planned.status, planned.version) == ("field-service", "queued", None)
        assert planned.pending_version == "1.0.0"
    steps = [
        ("start_install", "installing"),
        ("complete_install", "active"),
        ("pause", "paused"),
        ("start_upgrade", "upgrading"),
        ("fail_upgrade", "paused"),
        ("resume", "active"),
        ("start_upgrade", "upgrading"),
        ("complete_upgrade", "active"),
        ("start_uninstall", "uninstalling"),
        ("complete_uninstall", "uninstalled"),
    ]
    for index, (name, expected) in enumerate(steps):
        with store.session() as session:
            if name == "start_upgrade":
                repo.plan_installation(
                    session, acme, "field-service", "2.0.0", actor="bob", config={"region": "eu"}
                )
            installation = repo.apply_transition(
                session,
                acme,
                "field-service",
                name,
                actor="bob",
                directive_id=directive.id,
                error_message="boom" if name == "fail_upgrade" else None,
                now=T0 + timedelta(minutes=index),
            )
            assert installation.status == expected
    with store.session(readonly=True) as session:
        revisions = repo.list_revisions(session, acme, slug="field-service")
        assert [r.transition for r in revisions] == ["plan"] + [name for name, _ in steps]
        assert [r.to_status for r in revisions] == ["queued"] + [s for _, s in steps]
        assert all(r.directive_id == directive.id for r in revisions)
        assert revisions[0].actor == "ann" and revisions[1].actor == "bob"
        complete_install, fail_upgrade, complete_upgrade = (
            revisions[2],
            revisions[5],
            revisions[8],
        )
        assert (complete_install.from_version, complete_install.to_version) == (None, "1.0.0")
        assert (fail_upgrade.from_status, fail_upgrade.to_version) == ("upgrading", "1.0.0")
        assert (complete_upgrade.from_version, complete_upgrade.to_version) == ("1.0.0", "2.0.0")
        assert complete_upgrade.config_diff == {
            "added": {},
            "removed": {},
            "changed": {"region": ["us", "eu"]},
        }
        assert revisions[0].config_diff == {"added": {"region": "us"}, "removed": {}, "changed": {}}
        assert revisions[-1].at == T0 + timedelta(minutes=len(steps) - 1)
        # The uninstalled row is kept for history but is no longer live.
        assert repo.find_installation(session, acme, "field-service") is None
        history = repo.list_installations(session, acme, include_finished=True)
        assert [(i.slug, i.status, i.version, i.revision) for i in history] == [
            ("field-service", "uninstalled", "2.0.0", 2)
        ]


def test_disallowed_transition_changes_nothing(store, tenants):
    acme, _ = tenants
    with store.session() as session:
        repo.plan_installation(session, acme, "crm", "1.0", actor="ann")
    message = r"cannot pause crm: it is queued \(pause needs active\)"
    with pytest.raises(StateError, match=message), store.session() as session:
        repo.apply_transition(session, acme, "crm", "pause", actor="ann")
    with store.session(readonly=True) as session:
        assert repo.get_installation(session, acme, "crm").status == "queued"
        assert [r.transition for r in repo.list_revisions(session, acme)] == ["plan"]


def test_failed_install_retry_and_cancel(store, tenants):
    acme, _ = tenants
    with store.session() as session:
        repo.plan_installation(session, acme, "crm", "1.0", actor="ann")
        repo.apply_transition(session, acme, "crm", "start_install", actor="ann")
        failed = repo.apply_transition(
            session, acme, "crm", "fail_install", actor="ann", error_message="checksum mismatch"
        )
        assert (failed.status, failed.error_message) == ("failed", "checksum mismatch")
        retried = repo.apply_transition(session, acme, "crm", "retry", actor="ann")
        assert (retried.status, retried.error_message) == ("queued", None)
        assert repo.apply_transition(session, acme, "crm", "cancel", actor="ann").status == (
            "cancelled"
        )
        # A cancelled row is history: installing the slug again starts a new row.
        again = repo.plan_installation(session, acme, "crm", "1.1", actor="ann")
        assert again.status == "queued" and again.id != failed.id
        assert len(repo.list_installations(session, acme, include_finished=True)) == 2


def test_one_live_installation_per_tenant_and_slug(store, tenants):
    acme, _ = tenants
    _install(store, acme, "crm", "1.0", requested=False)
    with store.session() as session:
        replanned = repo.plan_installation(session, acme, "crm", "1.1", actor="ann")
        assert replanned.pending_version == "1.1" and replanned.version == "1.0"
        # Asked for explicitly now: no longer just a dependency.
        assert replanned.requested is True
        repo.apply_transition(session, acme, "crm", "start_upgrade", actor="ann")
        with pytest.raises(StateError, match="another directive"):
            repo.plan_installation(session, acme, "crm", "1.2", actor="ann")
    with store.session(readonly=True) as session:
        assert len(repo.list_installations(session, acme)) == 1


def test_set_config_records_the_diff(store, tenants):
    acme, _ = tenants
    _install(store, acme, "crm", config={"region": "us", "limit": 5})
    with store.session() as session:
        repo.set_config(session, acme, "crm", {"region": "eu", "tone": "warm"}, actor="cy")
    with store.session(readonly=True) as session:
        assert repo.get_installation(session, acme, "crm").config == {
            "region": "eu",
            "tone": "warm",
        }
        last = repo.list_revisions(session, acme, slug="crm")[-1]
        assert (last.transition, last.actor) == ("configure", "cy")
        assert last.config_diff == {
            "added": {"tone": "warm"},
            "removed": {"limit": 5},
            "changed": {"region": ["us", "eu"]},
        }


def test_config_diff_of_equal_configs_is_none():
    assert repo.config_diff({"a": 1}, {"a": 1}) is None


# -- stats move in the same transaction ---------------------------------------


def test_stats_follow_installs_and_uninstalls(store, store_url, tenants):
    acme, globex = tenants
    _install(store, acme, "crm")
    _install(store, globex, "crm")
    with store.session() as session:
        repo.apply_transition(session, acme, "crm", "start_uninstall", actor="ann")
        repo.apply_transition(session, acme, "crm", "complete_uninstall", actor="ann")
    stats = read_stats(store_url, ["crm", "unknown"])
    assert list(stats) == ["crm"]
    assert (stats["crm"].install_count, stats["crm"].active_install_count) == (2, 1)


def test_failed_install_never_counts(store, store_url, tenants):
    acme, _ = tenants
    with store.session() as session:
        repo.plan_installation(session, acme, "crm", "1.0", actor="ann")
        repo.apply_transition(session, acme, "crm", "start_install", actor="ann")
        repo.apply_transition(session, acme, "crm", "fail_install", actor="ann")
        repo.apply_transition(session, acme, "crm", "start_uninstall", actor="ann")
        repo.apply_transition(session, acme, "crm", "complete_uninstall", actor="ann")
    assert read_stats(store_url, ["crm"]) == {}


def test_rollback_leaves_stats_and_installation_unchanged(store, store_url, tenants):
    acme, _ = tenants
    with store.session() as session:
        repo.plan_installation(session, acme, "crm", "1.0", actor="ann")
        repo.apply_transition(session, acme, "crm", "start_install", actor="ann")

    class Crash(Exception):
        pass

    with pytest.raises(Crash), store.session() as session:
        repo.apply_transition(session, acme, "crm", "complete_install", actor="ann")
        # Inside the transaction: its own uncommitted row.
        assert session.get(PackageStats, "crm").install_count == 1
        raise Crash
    assert read_stats(store_url, ["crm"]) == {}
    with store.session(readonly=True) as session:
        assert repo.get_installation(session, acme, "crm").status == "installing"
        assert [r.transition for r in repo.list_revisions(session, acme)] == [
            "plan",
            "start_install",
        ]


# -- installed resources --------------------------------------------------------


def test_resource_upsert_is_idempotent(store, tenants):
    acme, _ = tenants
    _install(store, acme, "crm")
    with store.session() as session:
        installation_id = repo.get_installation(session, acme, "crm").id
    for _ in range(2):
        with store.session() as session:
            first = repo.upsert_resource(
                session,
                acme,
                installation_id,
                "agent",
                "Dispatcher",
                definition={"skills": ["geo"]},
                content="You dispatch.",
                now=T0,
            )
    with store.session() as session:
        again = repo.upsert_resource(
            session,
            acme,
            installation_id,
            "agent",
            "Dispatcher",
            definition={"skills": ["geo"]},
            content="You dispatch.",
            now=T0 + timedelta(hours=1),
        )
        # Nothing differed, so nothing was touched, not even updated_at.
        assert (again.id, again.updated_at) == (first.id, T0)
        changed = repo.upsert_resource(
            session,
            acme,
            installation_id,
            "agent",
            "Dispatcher",
            definition={"skills": ["geo", "maps"]},
            content="You dispatch.",
            now=T0 + timedelta(hours=2),
        )
        assert (changed.id, changed.updated_at) == (first.id, T0 + timedelta(hours=2))
        repo.upsert_resource(session, acme, installation_id, "skill", "geo", content="# Geo")
        repo.upsert_resource(session, acme, installation_id, "tool", "parts")
    with store.session() as session:
        resources = repo.list_resources(session, acme, installation_id=installation_id)
        assert [(r.kind, r.name) for r in resources] == [
            ("agent", "Dispatcher"),
            ("skill", "geo"),
            ("tool", "parts"),
        ]
        assert resources[0].definition == {"skills": ["geo", "maps"]}
        assert repo.resource_counts(session, acme) == {
            installation_id: {"agent": 1, "skill": 1, "tool": 1}
        }
        assert repo.delete_resources(session, acme, installation_id, keep=[("tool", "parts")]) == 2
        assert [r.name for r in repo.list_resources(session, acme)] == ["parts"]
        with pytest.raises(InvalidInput, match="unknown resource kind"):
            repo.upsert_resource(session, acme, installation_id, "widget", "x")


# -- reviews --------------------------------------------------------------------


def test_reviews_keep_rating_sums(store, store_url, tenants):
    acme, globex = tenants
    with store.session() as session:
        repo.upsert_review(session, acme, "crm", "ann", 5, title="Great")
        review = repo.upsert_review(session, globex, "crm", "bob", 2)
    with store.session() as session:
        repo.upsert_review(session, acme, "crm", "ann", 3, title="Good")
        stats = session.get(PackageStats, "crm")
        assert (stats.rating_sum, stats.rating_count) == (5, 2)
        assert repo.vote_helpful(session, acme, review.id, "cy") is True
        assert repo.vote_helpful(session, acme, review.id, "cy") is False
        assert repo.vote_helpful(session, globex, review.id, "dee") is True
    reviews = read_reviews(store_url, "crm")
    assert [(r.actor, r.rating, r.helpful_count) for r in reviews] == [
        ("bob", 2, 2),
        ("ann", 3, 0),
    ]
    with store.session() as session:
        with pytest.raises(InvalidInput, match="from 1 to 5"):
            repo.upsert_review(session, acme, "crm", "ann", 6)
        with pytest.raises(NotFound):
            repo.vote_helpful(session, acme, 99999, "cy")


def test_a_review_for_one_tenant_never_overwrites_another_tenants(store, store_url, tenants):
    """Issue 9 item 4: the row's tenant_id moved when the same actor wrote for tenant B."""
    acme, globex = tenants
    with store.session() as session:
        mine = repo.upsert_review(session, acme, "crm", "ann", 5, title="Acme's", version="1.0")
        theirs = repo.upsert_review(session, globex, "crm", "ann", 1, title="Globex's")
    assert mine.id != theirs.id
    reviews = {r.id: r for r in read_reviews(store_url, "crm")}
    assert (reviews[mine.id].rating, reviews[mine.id].title, reviews[mine.id].version) == (
        5,
        "Acme's",
        "1.0",
    )
    assert (reviews[theirs.id].rating, reviews[theirs.id].title) == (1, "Globex's")
    stats = read_stats(store_url, ["crm"])["crm"]
    assert (stats.rating_sum, stats.rating_count) == (6, 2)
    # Deleting in one tenant leaves the other tenant's review alone.
    with store.session() as session:
        repo.delete_review(session, globex, "crm", "ann")
        with pytest.raises(NotFound):
            repo.delete_review(session, globex, "crm", "ann")
    assert [(r.id, r.rating) for r in read_reviews(store_url, "crm")] == [(mine.id, 5)]
    stats = read_stats(store_url, ["crm"])["crm"]
    assert (stats.rating_sum, stats.rating_count) == (5, 1)


def test_nobody_votes_their_own_review_helpful(store, store_url, tenants):
    from fleetprompt_cli.errors import ReviewRefused

    acme, globex = tenants
    with store.session() as session:
        review = repo.upsert_review(session, acme, "crm", "ann", 4)
    with store.session() as session, pytest.raises(ReviewRefused, match="your own"):
        repo.vote_helpful(session, acme, review.id, "ann")
    with store.session() as session:
        # The same name in another tenant is another person.
        assert repo.vote_helpful(session, globex, review.id, "ann") is True
        assert repo.vote_helpful(session, acme, review.id, "bob") is True
    assert read_reviews(store_url, "crm")[0].helpful_count == 2
