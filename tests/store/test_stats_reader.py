"""The sqlmodel-free stats reader that search and show use."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from fleetprompt_cli.errors import StoreUnavailable
from fleetprompt_cli.store import libpq
from fleetprompt_cli.store import repository as repo
from fleetprompt_cli.store.stats_reader import (
    REVIEW_ORDERS,
    PackageFigures,
    read_histogram,
    read_installation,
    read_installed_slugs,
    read_reviews,
    read_stats,
)


def _without_libpq(monkeypatch) -> None:
    """No libpq to load (as without psycopg's binary wheel nor a system libpq5)."""
    monkeypatch.setattr(libpq, "_LIBRARY", None)
    monkeypatch.setattr(libpq, "_candidates", lambda: ["/nonexistent/libpq.so.5"])
    with pytest.raises(libpq.Unavailable):
        libpq.load()


def _conninfo(url: str) -> str:
    return "postgresql" + url.split("+psycopg", 1)[1]


def _reviewed(store, tenants) -> None:
    """crm installed in both tenants and reviewed three times, at fixed times."""
    acme, globex = tenants
    with store.session() as session:
        for tenant_id in (acme, globex):
            repo.plan_installation(session, tenant_id, "crm", "1.0", actor="ann")
            repo.apply_transition(session, tenant_id, "crm", "start_install", actor="ann")
            repo.apply_transition(session, tenant_id, "crm", "complete_install", actor="ann")
        repo.upsert_review(
            session,
            acme,
            "crm",
            "ann",
            4,
            title="Good",
            content='caf\u00e9, "quoted"',
            version="1.0",
            now=datetime(2026, 3, 4, 5, 6, 7, 890123, tzinfo=UTC),
        )
        repo.upsert_review(
            session, globex, "crm", "bob", 5, now=datetime(2026, 3, 5, 23, 30, tzinfo=UTC)
        )
        repo.upsert_review(
            session, globex, "crm", "cy", 2, now=datetime(2026, 3, 5, 23, 30, 0, 5, tzinfo=UTC)
        )


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


# PostgreSQL only (SQLite reads through the stdlib either way): libpq and psycopg.
@pytest.mark.postgres
@pytest.mark.parametrize("store_url", ["postgres"], indirect=True)
def test_postgres_reads_through_libpq_as_through_psycopg(store_url, store, tenants, monkeypatch):
    _reviewed(store, tenants)
    reads = [
        lambda: read_stats(store_url, ["crm", "unknown"]),
        *(lambda sort=sort: read_reviews(store_url, "crm", sort=sort) for sort in REVIEW_ORDERS),
        lambda: read_reviews(store_url, "crm", limit=1),
        lambda: read_histogram(store_url, "crm"),
        lambda: read_installation(store_url, "acme", "crm"),
        lambda: read_installed_slugs(store_url, "globex"),
    ]
    over_libpq = [read() for read in reads]
    assert over_libpq[0]["crm"].rating_count == 3
    assert len(over_libpq[1]) == 3 and over_libpq[4] == [over_libpq[1][0]]
    assert over_libpq[5] == {5: 1, 4: 1, 3: 0, 2: 1, 1: 0}
    assert over_libpq[6:] == [("1.0", "active"), ["crm"]]
    _without_libpq(monkeypatch)
    assert [read() for read in reads] == over_libpq


# PostgreSQL only: a session's time zone.
@pytest.mark.postgres
@pytest.mark.parametrize("store_url", ["postgres"], indirect=True)
def test_review_times_read_as_a_utc_session_printed_them(store_url, store, tenants, monkeypatch):
    """updated_at is shown with str(): the text psycopg's value gave in a UTC session."""
    import psycopg

    _reviewed(store, tenants)
    with psycopg.connect(_conninfo(store_url), options="-c TimeZone=UTC") as reference:
        rows = reference.execute(
            f"SELECT updated_at FROM reviews ORDER BY {REVIEW_ORDERS['newest']}"
        ).fetchall()
    printed = [str(row[0]) for row in rows]
    assert printed == [
        "2026-03-05 23:30:00.000005+00:00",
        "2026-03-05 23:30:00+00:00",
        "2026-03-04 05:06:07.890123+00:00",
    ]
    # A session in another zone (libpq reads PGTZ): the same text, whichever
    # driver reads it, though psycopg hands the values over in that zone.
    monkeypatch.setenv("PGTZ", "Asia/Kolkata")
    with psycopg.connect(_conninfo(store_url)) as elsewhere:
        assert str(elsewhere.execute("SELECT updated_at FROM reviews").fetchone()[0]).endswith(
            "+05:30"
        )
    assert [r.updated_at for r in read_reviews(store_url, "crm", sort="newest")] == printed
    _without_libpq(monkeypatch)
    assert [r.updated_at for r in read_reviews(store_url, "crm", sort="newest")] == printed


@pytest.mark.postgres
def test_slugs_go_to_postgres_as_one_text_array(postgres_admin_url):
    """read_stats's ``slug = ANY($1)``: any text survives the array literal."""
    texts = ["crm", "with space", "a,b", "{brace}", 'quo"te', "back\\slash", "NULL", "", "\u00e9"]
    connection = libpq.Connection(_conninfo(postgres_admin_url), connect_timeout=10)
    try:
        rows = connection.execute(
            "SELECT x FROM unnest($1::text[]) WITH ORDINALITY AS u(x, n) ORDER BY n", [texts]
        )
        assert [row[0] for row in rows] == texts
        assert connection.execute("SELECT cardinality($1::text[])", [()]) == [(0,)]
    finally:
        connection.close()


# PostgreSQL only: SQLite binds each slug (at most 32,766 variables).
@pytest.mark.postgres
@pytest.mark.parametrize("store_url", ["postgres"], indirect=True)
def test_a_search_of_more_slugs_than_postgres_takes_parameters(store_url, store, tenants):
    _reviewed(store, tenants)
    slugs = [f"package-{n}" for n in range(70_000)] + ["crm"]  # parameters stop at 65,535
    assert list(read_stats(store_url, slugs)) == ["crm"]
