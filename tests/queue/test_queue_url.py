"""FLEETPROMPT_QUEUE_URL picks the queue: SQLite, Redis or PostgreSQL; anything else is refused."""

from __future__ import annotations

import pytest

from fleetprompt_cli.errors import InvalidInput
from fleetprompt_cli.settings import queue_backend


@pytest.mark.parametrize(
    ("url", "backend"),
    [
        ("sqlite:////var/lib/fleetprompt/queue.db", "sqlite"),
        ("redis://127.0.0.1:6379/0", "redis"),
        ("rediss://cache.internal/1", "redis"),
        ("unix:///run/redis.sock", "redis"),
        ("postgresql://app@db/fleet", "postgres"),
        ("postgresql+psycopg://app:pw@db:5432/fleet", "postgres"),
        ("postgres://app@db/fleet", "postgres"),
    ],
)
def test_queue_urls_name_their_backend(url, backend):
    assert queue_backend(url) == backend


@pytest.mark.parametrize(
    "url",
    [
        "",
        "queue.db",
        "sqlite://relative.db",
        "amqp://u:secret@broker/x",
        "postgresql://",
        "http://x",
    ],
)
def test_other_queue_urls_are_refused_naming_the_variable(url):
    with pytest.raises(InvalidInput, match="FLEETPROMPT_QUEUE_URL") as caught:
        queue_backend(url)
    assert "secret" not in str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_hostile_queue_url_is_shown_inert(monkeypatch):
    from tests.helpers import run_cli

    monkeypatch.setenv("FLEETPROMPT_QUEUE_URL", "bad\x1b[31m://x")
    result = run_cli("worker", "--once")
    assert result.exit_code == 8
    assert "\x1b" not in result.stderr and "FLEETPROMPT_QUEUE_URL" in result.stderr
