"""Two installs planned at the same time: the second one is refused, not merged."""

from __future__ import annotations

import pytest

from fleetprompt_cli.actions.preview import preview_install, submit
from fleetprompt_cli.actions.state import open_state
from fleetprompt_cli.errors import ExitCode, StateError
from fleetprompt_cli.settings import load_settings

# One wording, whichever way two directives race for core-skills.
BUSY = (
    "another directive is changing core-skills: wait for it, or run "
    "'fleetprompt recover' if its process died"
)


@pytest.fixture
def store(store_url, monkeypatch):
    monkeypatch.setenv("FLEETPROMPT_DATABASE_URL", store_url)
    opened = open_state(load_settings())
    yield opened
    opened.dispose()


def test_a_package_planned_by_two_directives_at_once(store):
    settings = load_settings()
    # Both previews see core-skills as not installed (the race)...
    first = preview_install(settings, store, "default", ["knowledge-base"])
    second = preview_install(settings, store, "default", ["code-review"])
    assert "core-skills" in {s.slug for s in first.changes} & {s.slug for s in second.changes}
    submit(settings, store, first, actor="a", command="a")
    # ...but only the first directive may plan it: the second is refused whole.
    with pytest.raises(StateError) as caught:
        submit(settings, store, second, actor="b", command="b")
    assert caught.value.exit_code == ExitCode.STATE
    assert str(caught.value) == BUSY
    # A preview that sees the package mid-change says the same.
    with pytest.raises(StateError) as seen:
        preview_install(settings, store, "default", ["code-review"])
    assert str(seen.value) == BUSY
    from fleetprompt_cli.store import repository as repo

    with store.session() as s:
        tenant = repo.resolve_tenant(s, "default")
        directives = repo.list_directives(s, tenant.id)
        assert [d.actor for d in directives] == ["a"]
        assert repo.find_installation(s, tenant.id, "code-review") is None


def test_two_transactions_racing_to_plan_the_same_package(store):
    """Whichever way the race goes (unique index or queued row), one plan wins."""
    import threading

    from fleetprompt_cli.store import repository as repo

    with store.session() as s:
        tenant_id = repo.resolve_tenant(s, "default").id
    planned = threading.Event()
    errors: list[Exception] = []

    def second() -> None:
        planned.wait()
        try:
            with store.session() as s:
                repo.plan_installation(s, tenant_id, "core-skills", "1.3.0", actor="b")
        except StateError as error:
            errors.append(error)

    thread = threading.Thread(target=second)
    thread.start()
    with store.session() as s:
        repo.plan_installation(s, tenant_id, "core-skills", "1.3.0", actor="a")
        planned.set()  # The other transaction now races this uncommitted row.
    thread.join(timeout=60)
    assert not thread.is_alive()
    assert len(errors) == 1 and str(errors[0]) == BUSY  # either way the race goes
    with store.session() as s:
        rows = repo.list_installations(s, tenant_id, include_finished=True)
        assert [(r.slug, r.status) for r in rows] == [("core-skills", "queued")]
