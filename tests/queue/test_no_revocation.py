"""A wake-up costs the queue one dequeue: no revocation reads or deletes per task.

huey reads a task's revocation keys before running it and deletes its own
afterwards; fleetprompt never revokes a wake-up (a directive is cancelled in
the store), so its huey skips both.  Checked on a real SQLite queue file.
"""

from __future__ import annotations

import pytest

from fleetprompt_cli.queue import get_huey
from fleetprompt_cli.queue.tasks import enqueue_run, set_handlers
from fleetprompt_cli.settings import load_settings


def test_running_a_wake_up_touches_no_revocation_key(isolated_home, monkeypatch):
    settings = load_settings()
    huey = get_huey(settings)
    ran: list[tuple[int, str]] = []
    set_handlers(lambda tenant, directive: ran.append((tenant, directive)), None)
    try:
        enqueue_run(settings, 7, "d-1")
        task = huey.dequeue()
        assert task is not None

        def refuse(*args, **kwargs):
            raise AssertionError("revocation data touched")

        for name in ("peek_data", "pop_data", "delete_data", "peek_many", "put_data"):
            monkeypatch.setattr(huey.storage, name, refuse)
        huey.execute(task)
    finally:
        set_handlers(None, None)
    assert ran == [(7, "d-1")]
    assert huey.dequeue() is None  # One wake-up, run once.


def test_revoking_a_wake_up_is_refused(isolated_home):
    huey = get_huey(load_settings())
    with pytest.raises(TypeError, match="cancel the directive"):
        huey.revoke_by_id("anything")
