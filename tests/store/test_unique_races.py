"""Two transactions racing on a uniqueness checked in Python first: one readable answer.

The first transaction writes the row and holds it uncommitted while the
second runs the same function.  On PostgreSQL the second's read cannot see
the row and its insert waits on the unique index; the first commits only
once the second is waiting there (read from ``pg_stat_activity``), so the
race goes the bad way every time.  On SQLite writers are serialised (the
second waits at BEGIN IMMEDIATE), so the same test checks the plain path.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from sqlalchemy import text

from fleetprompt_cli.errors import AlreadyExists, ExitCode
from fleetprompt_cli.store import repository as repo
from fleetprompt_cli.store.stats_reader import read_reviews, read_stats


def _second_waits_on_a_lock(store) -> None:
    """Return once another session of this database waits on a lock (PostgreSQL)."""
    deadline = time.monotonic() + 30  # A bound for a broken test, not a wait.
    while time.monotonic() < deadline:
        with store.connection(readonly=True) as connection:
            waiting = connection.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock'"
                )
            ).scalar_one()
        if waiting:
            return
        time.sleep(0.01)
    raise AssertionError("the second transaction never waited on the unique index")


def _race(store, first: Callable, second: Callable) -> list[BaseException]:
    errors: list[BaseException] = []

    def run_second() -> None:
        try:
            with store.session() as s:
                second(s)
        except BaseException as error:
            errors.append(error)

    thread = threading.Thread(target=run_second)
    with store.session() as s:
        first(s)
        thread.start()
        if store.backend == "postgresql":
            _second_waits_on_a_lock(store)
    thread.join(timeout=60)
    assert not thread.is_alive()
    return errors


def test_two_creates_of_one_tenant(store):
    errors = _race(
        store,
        lambda s: repo.create_tenant(s, "acme"),
        lambda s: repo.create_tenant(s, "acme"),
    )
    assert len(errors) == 1 and isinstance(errors[0], AlreadyExists), errors
    assert str(errors[0]) == "tenant 'acme' already exists"
    assert errors[0].exit_code == ExitCode.EXISTS
    with store.session(readonly=True) as s:
        assert [t.slug for t in repo.list_tenants(s)] == ["acme"]


def test_two_first_reviews_by_one_actor(store, store_url, tenants):
    acme, _ = tenants
    errors = _race(
        store,
        lambda s: repo.upsert_review(s, acme, "core-skills", "ann", 5),
        lambda s: repo.upsert_review(s, acme, "core-skills", "ann", 3),
    )
    assert errors == []
    reviews = read_reviews(store_url, "core-skills")
    assert [(r.actor, r.rating) for r in reviews] == [("ann", 3)]
    stats = read_stats(store_url, ["core-skills"])["core-skills"]
    assert (stats.rating_sum, stats.rating_count) == (3, 1)
