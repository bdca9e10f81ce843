"""The enqueue path (preview_install + submit, in-process, as install_bench runs it).

Its shortcuts must not change an answer: the catalog connection kept between
previews still sees an index that changed in between, the pooled reads still
create the default tenant on its first use, and a submitted directive is the
one the runner installs.
"""

from __future__ import annotations

import pytest

from fleetprompt_cli.actions.directive_runner import run_directive
from fleetprompt_cli.actions.preview import preview_install, submit
from fleetprompt_cli.settings import load_settings
from fleetprompt_cli.store import open_store
from fleetprompt_cli.store import repository as repo
from tests.helpers import publish_all, write_package


@pytest.fixture
def index(tmp_path, monkeypatch):
    folder = tmp_path / "index"
    publish_all(folder, write_package(tmp_path / "src", "crm", "1.0.0", skills=["a"]))
    monkeypatch.setenv("FLEETPROMPT_INDEX", str(folder))
    return folder


@pytest.fixture
def store(store_url, monkeypatch, index):
    monkeypatch.setenv("FLEETPROMPT_DATABASE_URL", store_url)
    opened = open_store(store_url)
    yield opened
    opened.dispose()


def test_a_kept_catalog_sees_what_was_published_between_two_previews(store, index, tmp_path):
    settings = load_settings()
    assert [
        str(s.step.item.version) for s in preview_install(settings, store, "default", ["crm"]).steps
    ] == ["1.0.0"]
    publish_all(index, write_package(tmp_path / "src", "crm", "1.1.0", skills=["a"]))
    again = preview_install(settings, store, "default", ["crm"])
    assert [str(s.step.item.version) for s in again.steps] == ["1.1.0"]


def test_the_first_preview_creates_the_default_tenant_and_its_directive_runs(store):
    settings = load_settings()
    with store.session(readonly=True) as s:
        assert repo.list_tenants(s) == []
    preview = preview_install(settings, store, "default", ["crm"])
    directive = submit(settings, store, preview, actor="ann", command="install crm").directive_id
    assert run_directive(settings, store, preview.tenant_id, directive).status == "succeeded"
    with store.session(readonly=True) as s:
        installed = repo.get_installation(s, preview.tenant_id, "crm")
        assert (installed.version, installed.status) == ("1.0.0", "active")
    # Installed: the next preview (pooled read, kept catalog) has nothing to do.
    assert preview_install(settings, store, "default", ["crm"]).nothing_to_do
