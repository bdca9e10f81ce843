"""Reviews and ratings: one per actor, averages, helpful votes, shown on show."""

from __future__ import annotations

import json

import pytest

from fleetprompt_cli.errors import ExitCode
from tests.helpers import run_cli


@pytest.fixture
def backend(store_url, monkeypatch):
    monkeypatch.setenv("FLEETPROMPT_DATABASE_URL", store_url)
    return store_url


def _json(*args: str) -> dict:
    result = run_cli(*args, "--json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_reviews_average_and_replace(backend):
    assert (
        run_cli(
            "reviews", "add", "customer-support", "-r", "5", "--actor", "ann", "--title", "Great"
        ).exit_code
        == 0
    )
    assert run_cli("reviews", "add", "customer-support", "-r", "2", "--actor", "bob").exit_code == 0
    doc = _json("reviews", "list", "customer-support")
    assert (doc["rating_avg"], doc["rating_count"]) == (3.5, 2)
    # Writing again replaces the actor's review instead of adding one.
    run_cli("reviews", "add", "customer-support", "-r", "4", "--actor", "bob")
    doc = _json("reviews", "list", "customer-support")
    assert (doc["rating_avg"], doc["rating_count"]) == (4.5, 2)
    package = _json("show", "customer-support")["package"]
    assert (package["rating_avg"], package["rating_count"]) == (4.5, 2)
    assert {r["actor"] for r in package["reviews"]} == {"ann", "bob"}
    search = _json("search", "support")["packages"][0]
    assert search["rating_avg"] == 4.5


def test_helpful_votes_count_once_per_actor(backend):
    run_cli("reviews", "add", "code-review", "-r", "4", "--actor", "ann")
    review_id = str(_json("reviews", "list", "code-review")["reviews"][0]["id"])
    assert "marked helpful" in run_cli("reviews", "helpful", review_id, "--actor", "bob").stdout
    assert "already" in run_cli("reviews", "helpful", review_id, "--actor", "bob").stdout
    assert _json("reviews", "list", "code-review")["reviews"][0]["helpful_count"] == 1


def test_bad_reviews_change_nothing(backend):
    result = run_cli("reviews", "add", "customer-support", "-r", "6")
    assert result.exit_code == ExitCode.USAGE
    result = run_cli("reviews", "add", "custmer-support", "-r", "3")
    assert result.exit_code == ExitCode.NOT_FOUND
    assert "did you mean customer-support" in result.stderr
    assert _json("reviews", "list", "customer-support")["rating_count"] == 0
    assert run_cli("reviews", "helpful", "999").exit_code == ExitCode.NOT_FOUND
