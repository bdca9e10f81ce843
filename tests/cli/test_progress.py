"""Following a directive another process holds, and taking over when it dies."""

from __future__ import annotations

from fleetprompt_cli.actions.preview import preview_install, submit
from fleetprompt_cli.actions.state import open_state
from fleetprompt_cli.cli.context import App
from fleetprompt_cli.cli.progress import follow, run_inline
from fleetprompt_cli.settings import load_settings
from fleetprompt_cli.store import repository as repo


def test_follow_returns_busy_when_the_holders_lease_lapsed_and_then_we_finish_it():
    settings = load_settings()
    store = open_state(settings)
    try:
        preview = preview_install(settings, store, "default", ["code-review"])
        directive = submit(settings, store, preview, actor="t", command="test").directive_id
        with store.session() as s:
            # A "worker" claims it and dies at once (its lease is already over).
            assert repo.claim_directive(
                s, preview.tenant_id, directive, "dead-worker", lease_seconds=0
            )
        app = App()
        assert follow(app, store, preview.tenant_id, directive, interval=0).status == "busy"
        outcome = run_inline(app, settings, store, preview.tenant_id, directive)
        assert outcome.status == "succeeded"
        # A finished directive is reported as such by follow, without waiting.
        assert follow(app, store, preview.tenant_id, directive, interval=0).status == "succeeded"
    finally:
        store.dispose()
