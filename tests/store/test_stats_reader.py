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


def test_the_detail_pages_reviews_are_read_in_index_order(tmp_path):
    """show stays as fast with 10,000 reviews as with none: no sort of a package's reviews.

    (bench/reviews_bench.py measures it; this checks the plan SQLite uses.)
    """
    import sqlite3

    from fleetprompt_cli.store.engine import upgrade_store
    from fleetprompt_cli.store.stats_reader import REVIEW_ORDERS

    path = tmp_path / "state.db"
    upgrade_store(f"sqlite:///{path}")
    connection = sqlite3.connect(path)
    try:
        plan = connection.execute(
            "EXPLAIN QUERY PLAN SELECT id, actor, rating FROM reviews WHERE slug = ?"
            f" ORDER BY {REVIEW_ORDERS['helpful']} LIMIT 3",
            ["crm"],
        ).fetchall()
    finally:
        connection.close()
    details = " | ".join(row[-1] for row in plan)
    assert "ix_reviews_slug_helpful_count_updated_at_id" in details, details
    assert "TEMP B-TREE" not in details, details


def test_bayesian_rating_needs_many_reviews_to_beat_few():
    one_five = PackageFigures("a", rating_sum=5, rating_count=1)
    many = PackageFigures("b", rating_sum=1960, rating_count=400)  # 4.9 on average
    assert one_five.rating > many.rating
    assert many.bayesian_rating > one_five.bayesian_rating
    assert PackageFigures("none").bayesian_rating == 3.0


def test_a_sqlite_store_older_than_the_code_reads_as_no_reviews(tmp_path):
    """show right after upgrading fleetprompt: the store is migrated by the next writer."""
    import sqlite3

    from fleetprompt_cli.store.engine import MIGRATIONS, Migrations, upgrade_store
    from fleetprompt_cli.store.stats_reader import read_reviews

    path = tmp_path / "state.db"
    upgrade_store(f"sqlite:///{path}", migrations=Migrations(MIGRATIONS.script_location, "0001"))
    connection = sqlite3.connect(path)
    with connection:
        connection.execute("INSERT INTO tenants (slug, tier, created_at) VALUES ('a', 'free', 0)")
        connection.execute(
            "INSERT INTO reviews (slug, actor, tenant_id, rating, helpful_count, created_at,"
            " updated_at) VALUES ('crm', 'ann', 1, 4, 0, 0, 0)"
        )
    connection.close()
    assert read_reviews(f"sqlite:///{path}", "crm") == []
