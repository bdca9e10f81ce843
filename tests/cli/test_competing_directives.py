"""Directives that meet on one installation: each plan sees what the others planned.

On SQLite and on PostgreSQL+Redis (the ``backend`` fixture), with the bundled
index.  A second change of a package that has a change pending is refused
with the one wording; queued installs constrain later plans and the
dependents check; ``submit`` re-checks the plan (and the tier) against the
rows it locks, so two CLIs that previewed at the same time cannot both win.
"""

from __future__ import annotations

import json

import pytest

from fleetprompt_cli.errors import ExitCode, StateError, TierDenied
from tests.helpers import run_cli
from tests.queue.support import snapshot


def busy(*slugs: str) -> str:
    return (
        f"another directive is changing {', '.join(slugs)}: wait for it, or run "
        "'fleetprompt recover' if its process died"
    )


@pytest.fixture(autouse=True)
def bundled_index(monkeypatch):
    for name in ("FLEETPROMPT_INDEX", "FLEETPROMPT_FAULT", "FLEETPROMPT_LEASE_SECONDS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("FLEETPROMPT_ACTOR", "tester")


def ok(*args: str) -> str:
    result = run_cli(*args)
    assert result.exit_code == 0, result.stderr
    return result.stdout


def live() -> dict[str, tuple]:
    return {slug: (version, status) for slug, version, status, *_ in snapshot()["installations"]}


def skills(slug: str) -> set[str]:
    return {
        name
        for owner, kind, name, *_ in snapshot(history=False)["resources"]
        if owner == slug and kind == "skill"
    }


def drain() -> dict[str, int]:
    """Run what is queued; the outcomes, without the no-op wake-ups of inline installs."""
    outcomes = json.loads(ok("worker", "--once", "--json"))["outcomes"]
    outcomes.pop("busy", None)
    return outcomes


def test_two_queued_upgrades_of_one_package(backend):
    ok("install", "core-skills==1.0.0", "--yes")
    ok("install", "core-skills==1.1.0", "--yes", "--no-wait")
    second = run_cli("install", "core-skills==1.2.0", "--yes", "--no-wait", "--no-wait-lock")
    assert second.exit_code == ExitCode.STATE, second.stderr
    assert busy("core-skills") in second.stderr
    assert drain() == {"succeeded": 1}
    # The recorded version is the installed content's version, and history agrees.
    assert live() == {"core-skills": ("1.1.0", "active")}
    assert "email-compose" in skills("core-skills")
    assert "language-detect" not in skills("core-skills")
    revisions = snapshot()["revisions"]["core-skills"]
    assert ("complete_upgrade", "upgrading", "active", "1.0.0", "1.1.0") in revisions
    # Once the first upgrade is applied, the next one may be planned.
    ok("install", "core-skills==1.2.0", "--yes")
    assert live() == {"core-skills": ("1.2.0", "active")}


def test_an_upgrade_of_a_busy_package_is_refused_at_once(backend):
    # Only install waits for a busy package (--wait-timeout); upgrade is refused.
    ok("install", "core-skills==1.0.0", "--yes")
    ok("install", "core-skills==1.1.0", "--yes", "--no-wait")
    result = run_cli("upgrade", "core-skills", "--yes")
    assert result.exit_code == ExitCode.STATE, result.stderr
    assert busy("core-skills") in result.stderr
    assert "waiting" not in result.stderr


def test_a_queued_install_constrains_later_plans(backend):
    ok("install", "core-skills==1.3.0", "--yes")
    ok("tenant", "set-tier", "default", "pro")
    ok("install", "fleet-telematics", "--yes", "--no-wait")  # needs core-skills <2, geo-lookup
    # Neither an upgrade of core-skills nor a package that needs one may break it.
    pinned = run_cli("install", "core-skills==2.0.0", "--yes", "--no-wait")
    assert pinned.exit_code == ExitCode.CONFLICT, pinned.stderr
    newest = run_cli("install", "seo-content==2.0.0", "--yes", "--no-wait")
    assert newest.exit_code == ExitCode.CONFLICT, newest.stderr
    # seo-content resolves to the version that keeps core-skills below 2.
    ok("install", "seo-content", "--yes", "--no-wait")
    assert drain() == {"succeeded": 2}
    assert live() == {
        "core-skills": ("1.3.0", "active"),
        "fleet-telematics": ("1.0.0", "active"),
        "seo-content": ("1.0.0", "active"),
    }
    assert "geo-lookup" in skills("core-skills")


def test_uninstall_is_refused_while_a_queued_install_needs_it(backend):
    ok("install", "core-skills", "--yes")
    ok("install", "code-review", "--yes", "--no-wait")
    refused = run_cli("uninstall", "core-skills", "--yes")
    assert refused.exit_code == ExitCode.STATE, refused.stderr
    assert "core-skills is needed by code-review" in refused.stderr
    assert drain() == {"succeeded": 1}
    assert set(live()) == {"core-skills", "code-review"}


def test_an_install_is_refused_while_a_queued_uninstall_removes_its_dependency(backend):
    ok("install", "core-skills", "--yes")
    ok("uninstall", "core-skills", "--yes", "--no-wait")
    refused = run_cli("install", "code-review", "--yes", "--no-wait-lock")
    assert refused.exit_code == ExitCode.STATE, refused.stderr
    assert busy("core-skills") in refused.stderr
    # A second uninstall of it says the same.
    again = run_cli("uninstall", "core-skills", "--yes")
    assert again.exit_code == ExitCode.STATE, again.stderr
    assert busy("core-skills") in again.stderr
    assert drain() == {"succeeded": 1}
    assert live() == {}


def _previews(store, *requests: list[str]):
    from fleetprompt_cli.actions.preview import preview_install
    from fleetprompt_cli.settings import load_settings

    settings = load_settings()
    return settings, [preview_install(settings, store, "default", r) for r in requests]


@pytest.fixture
def store(backend):
    from tests.queue.support import store_for

    opened = store_for()
    yield opened
    opened.dispose()


@pytest.mark.parametrize("first", ["keeps", "upgrades"])
def test_submit_rechecks_a_plan_made_at_the_same_time_as_another(store, first):
    from fleetprompt_cli.actions.preview import submit

    ok("install", "core-skills==1.3.0", "--yes")
    ok("tenant", "set-tier", "default", "pro")
    # Both previews see core-skills 1.3.0 alone: one keeps it (and needs <2),
    # the other upgrades it to 2.0.0.
    settings, (keeps, upgrades) = _previews(store, ["fleet-telematics"], ["seo-content==2.0.0"])
    assert {s.slug for s in upgrades.changes} == {"seo-content", "core-skills"}
    winner, loser = (keeps, upgrades) if first == "keeps" else (upgrades, keeps)
    submit(settings, store, winner, actor="a", command="a")
    with pytest.raises(StateError) as caught:
        submit(settings, store, loser, actor="b", command="b")
    assert caught.value.exit_code == ExitCode.STATE
    named = "fleet-telematics" if first == "keeps" else "core-skills"
    assert str(caught.value) == busy(named)
    assert drain() == {"succeeded": 1}
    # The first install and the winner; the loser wrote nothing.
    assert [d[:2] for d in snapshot()["directives"]] == [("install", "succeeded")] * 2


def test_submit_rechecks_the_tier(store):
    from fleetprompt_cli.actions.preview import submit

    ok("install", "core-skills", "--yes")
    ok("tenant", "set-tier", "default", "pro")
    settings, (preview,) = _previews(store, ["fleet-telematics"])
    ok("tenant", "set-tier", "default", "free")  # While the user was reading the preview.
    with pytest.raises(TierDenied):
        submit(settings, store, preview, actor="a", command="a")
    assert live() == {"core-skills": ("2.0.0", "active")}
