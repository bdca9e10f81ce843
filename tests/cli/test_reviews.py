"""Reviews and ratings: per (tenant, actor, package), only after an install,
averages and histograms, helpful votes, delete, and search --sort rating."""

from __future__ import annotations

import json

import pytest

from fleetprompt_cli.errors import ExitCode
from tests.helpers import run_cli


@pytest.fixture
def backend(store_url, fx_index, monkeypatch):
    monkeypatch.setenv("FLEETPROMPT_DATABASE_URL", store_url)
    monkeypatch.setenv("FLEETPROMPT_INDEX", str(fx_index))
    return store_url


def _json(*args: str) -> dict:
    result = run_cli(*args, "--json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def ok(*args: str) -> str:
    result = run_cli(*args)
    assert result.exit_code == 0, (args, result.stderr)
    return result.stdout


def _review(slug: str, rating: int, actor: str, *more: str) -> dict:
    return _json("reviews", "add", slug, "-r", str(rating), "--actor", actor, *more)["review"]


def test_reviews_average_and_replace(backend):
    ok("install", "fx-base==1.0.0", "--yes")
    assert _review("fx-base", 5, "ann", "--title", "Great")["version"] == "1.0.0"
    _review("fx-base", 2, "bob")
    doc = _json("reviews", "list", "fx-base")
    assert (doc["rating_avg"], doc["rating_count"]) == (3.5, 2)
    # Writing again replaces the actor's review instead of adding one.
    _review("fx-base", 4, "bob")
    doc = _json("reviews", "list", "fx-base")
    assert (doc["rating_avg"], doc["rating_count"]) == (4.5, 2)
    package = _json("show", "fx-base")["package"]
    assert (package["rating_avg"], package["rating_count"]) == (4.5, 2)
    assert {r["actor"] for r in package["reviews"]} == {"ann", "bob"}
    search = _json("search", "fx-base")["packages"][0]
    assert search["rating_avg"] == 4.5


def test_a_review_needs_the_package_installed_now_or_before(backend):
    result = run_cli("reviews", "add", "fx-base", "-r", "5", "--actor", "ann")
    assert result.exit_code == ExitCode.DENIED, result.stderr
    assert "never installed fx-base" in result.stderr
    assert _json("reviews", "list", "fx-base")["rating_count"] == 0
    ok("install", "fx-base==1.0.0", "--yes")
    ok("upgrade", "--yes")
    assert _review("fx-base", 4, "ann")["version"] == "2.0.0"
    # Had it installed: still allowed after uninstalling, with the last version.
    ok("uninstall", "fx-base", "--yes")
    assert _review("fx-base", 3, "ann")["version"] == "2.0.0"
    # Another tenant never installed it.
    ok("tenant", "create", "other")
    result = run_cli("reviews", "add", "fx-base", "-r", "5", "-t", "other", "--actor", "ann")
    assert result.exit_code == ExitCode.DENIED


def test_reviews_are_per_tenant(backend):
    """Issue 9 item 4: a review written for one tenant overwrote another tenant's."""
    ok("tenant", "create", "acme")
    ok("install", "fx-base", "--yes")
    ok("install", "fx-base", "--yes", "-t", "acme")
    _review("fx-base", 5, "ann", "--title", "default's")
    _review("fx-base", 1, "ann", "--title", "acme's", "-t", "acme")
    doc = _json("reviews", "list", "fx-base")
    assert doc["rating_count"] == 2
    assert sorted((r["rating"], r["title"]) for r in doc["reviews"]) == [
        (1, "acme's"),
        (5, "default's"),
    ]
    # Deleting acme's review leaves the default tenant's.
    ok("reviews", "delete", "fx-base", "--actor", "ann", "-t", "acme")
    doc = _json("reviews", "list", "fx-base")
    assert [(r["rating"], r["title"]) for r in doc["reviews"]] == [(5, "default's")]
    assert (doc["rating_avg"], doc["rating_count"]) == (5.0, 1)


def test_delete_removes_only_ones_own_review(backend):
    ok("install", "fx-base", "--yes")
    review = _review("fx-base", 4, "ann")
    _review("fx-base", 2, "bob")
    ok("reviews", "helpful", str(review["id"]), "--actor", "bob")
    result = run_cli("reviews", "delete", "fx-base", "--actor", "cy")
    assert result.exit_code == ExitCode.NOT_FOUND
    assert "cy has not reviewed fx-base" in result.stderr
    assert "deleted review" in ok("reviews", "delete", "fx-base", "--actor", "ann")
    doc = _json("reviews", "list", "fx-base")
    assert [r["actor"] for r in doc["reviews"]] == ["bob"]
    assert (doc["rating_avg"], doc["rating_count"]) == (2.0, 1)
    assert run_cli("reviews", "delete", "fx-base", "--actor", "ann").exit_code == 3


def test_helpful_votes_count_once_and_never_for_ones_own(backend):
    ok("install", "fx-base", "--yes")
    review_id = str(_review("fx-base", 4, "ann")["id"])
    assert "marked helpful" in ok("reviews", "helpful", review_id, "--actor", "bob")
    assert "already" in ok("reviews", "helpful", review_id, "--actor", "bob")
    result = run_cli("reviews", "helpful", review_id, "--actor", "ann")
    assert result.exit_code == ExitCode.DENIED
    assert "your own" in result.stderr
    assert _json("reviews", "list", "fx-base")["reviews"][0]["helpful_count"] == 1
    assert run_cli("reviews", "helpful", "999").exit_code == ExitCode.NOT_FOUND


def test_reviews_list_sorts_limits_and_draws_a_histogram(backend):
    ok("install", "fx-base", "--yes")
    for actor, rating in (("ann", 5), ("bob", 4), ("cy", 4), ("dee", 1)):
        _review("fx-base", rating, actor, "--title", f"by {actor}")
    dee = _json("reviews", "list", "fx-base", "--sort", "newest")["reviews"][0]
    assert dee["actor"] == "dee"
    ok("reviews", "helpful", str(dee["id"]), "--actor", "ann")
    doc = _json("reviews", "list", "fx-base")
    assert (doc["rating_avg"], doc["rating_count"]) == (3.5, 4)
    assert doc["histogram"] == {"5": 1, "4": 2, "3": 0, "2": 0, "1": 1}
    assert doc["reviews"][0]["actor"] == "dee"  # most helpful first (the default)
    by_rating = _json("reviews", "list", "fx-base", "--sort", "rating", "--limit", "2")
    assert by_rating["reviews"][0]["actor"] == "ann"
    assert len(by_rating["reviews"]) == 2
    newest = _json("reviews", "list", "fx-base", "--sort", "newest")["reviews"]
    assert [r["actor"] for r in newest] == ["dee", "cy", "bob", "ann"]
    text = ok("reviews", "list", "fx-base")
    assert "fx-base: 3.5/5 from 4 reviews" in text
    lines = [line.strip() for line in text.splitlines()]
    assert [line.split()[0] for line in lines[1:6]] == ["5", "4", "3", "2", "1"]
    assert lines[2].endswith(" 2") and lines[3].endswith(" 0")
    result = run_cli("reviews", "list", "fx-base", "--sort", "stars")
    assert result.exit_code == ExitCode.USAGE


def test_average_is_shown_with_one_decimal(backend):
    ok("install", "fx-base", "--yes")
    for actor, rating in (("ann", 5), ("bob", 4), ("cy", 4)):
        _review("fx-base", rating, actor)
    assert _json("reviews", "list", "fx-base")["rating_avg"] == 4.3
    assert "4.3/5 from 3 reviews" in ok("reviews", "list", "fx-base")


def test_show_shows_the_three_most_helpful_reviews(backend):
    ok("install", "fx-base", "--yes")
    ids = {a: _review("fx-base", 4, a, "--title", f"by {a}")["id"] for a in "abcde"}
    for voter, actor in (("x", "c"), ("y", "c"), ("x", "e"), ("y", "e"), ("z", "e"), ("x", "a")):
        ok("reviews", "helpful", str(ids[actor]), "--actor", voter)
    package = _json("show", "fx-base")["package"]
    assert [r["actor"] for r in package["reviews"]] == ["e", "c", "a"]
    text = ok("show", "fx-base")
    assert "by e" in text and "by c" in text and "by a" in text and "by b" not in text


def test_search_sort_rating_uses_a_bayesian_average(backend):
    from fleetprompt_cli.store import repository as repo
    from fleetprompt_cli.store.engine import open_store

    with open_store(backend) as store, store.session() as s:
        tenant = repo.resolve_tenant(s, "default")
        repo.upsert_review(s, tenant.id, "fx-top", "solo", 5)
        # 40 reviews averaging 4.9: 36 of 5 stars, 4 of 4.
        for i in range(40):
            repo.upsert_review(s, tenant.id, "fx-mid", f"user{i}", 5 if i < 36 else 4)
    packages = _json("search", "--sort", "rating")["packages"]
    slugs = [p["slug"] for p in packages]
    # The naive mean would put fx-top (5.0 from one review) above fx-mid (4.9).
    assert slugs[:2] == ["fx-mid", "fx-top"], [(p["slug"], p["rating_score"]) for p in packages]
    assert packages[0]["rating_avg"] == 4.9 and packages[1]["rating_avg"] == 5.0
    assert packages[0]["rating_score"] > packages[1]["rating_score"] > packages[2]["rating_score"]
    text = ok("search", "fx", "--sort", "rating")
    assert text.index("fx-mid") < text.index("fx-top") < text.index("fx-base")
    assert run_cli("search", "--sort", "stars").exit_code == ExitCode.USAGE
