"""The sqlmodel-free stats reader that search and show use."""

from __future__ import annotations

import pytest

from fleetprompt_cli.errors import StoreUnavailable
from fleetprompt_cli.store import repository as repo
from fleetprompt_cli.store.stats_reader import PackageFigures, read_stats


def test_no_store_yet_means_no_stats(tmp_path):
    path = tmp_path / "state.db"
    assert read_stats(f"sqlite:///{path}", ["crm"]) == {}
    assert not path.exists()


def test_empty_store_means_no_stats(empty_store_url):
    assert read_stats(empty_store_url, ["crm"]) == {}


def test_reads_what_the_store_wrote(store_url, store, tenants):
    acme, globex = tenants
    with store.session() as session:
        for tenant_id in (acme, globex):
            repo.plan_installation(session, tenant_id, "crm", "1.0", actor="ann")
            repo.apply_transition(session, tenant_id, "crm", "start_install", actor="ann")
            repo.apply_transition(session, tenant_id, "crm", "complete_install", actor="ann")
        repo.upsert_review(session, acme, "crm", "ann", 4)
        repo.upsert_review(session, globex, "crm", "bob", 5)
    figures = read_stats(store_url, ["crm", "unknown", "crm"])
    assert figures == {
        "crm": PackageFigures(
            "crm", install_count=2, active_install_count=2, rating_sum=9, rating_count=2
        )
    }
    assert figures["crm"].rating == 4.5
    assert PackageFigures("x").rating is None
    assert read_stats(store_url, []) == {}


def test_unreachable_postgres_is_unavailable():
    with pytest.raises(StoreUnavailable, match="cannot read the state store at postgresql"):
        read_stats("postgresql+psycopg://fp:secret@127.0.0.1:1/fleetprompt", ["crm"])
    try:
        read_stats("postgresql+psycopg://fp:secret@127.0.0.1:1/fleetprompt", ["crm"])
    except StoreUnavailable as exc:
        assert "secret" not in str(exc)


def test_unsupported_url():
    with pytest.raises(StoreUnavailable, match="unsupported"):
        read_stats("mysql://x/y", ["crm"])
