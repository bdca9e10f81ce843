"""The PostgreSQL queue (FLEETPROMPT_QUEUE_URL=postgresql://): PostgreSQL and no Redis.

Each test has its own state store database (the queue's tables live beside
the store's) and its own queue name.  Workers are real processes.
"""

from __future__ import annotations

import json
import queue
import signal
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from tests.helpers import run_cli
from tests.queue.support import FX, snapshot, store_for
from tests.queue.workers import WorkerProcess, lines_until

pytestmark = pytest.mark.postgres


@pytest.fixture(autouse=True)
def pg_only(fx_index, postgres_store_url, monkeypatch):
    monkeypatch.setenv("FLEETPROMPT_INDEX", str(fx_index))
    monkeypatch.setenv("FLEETPROMPT_ACTOR", "tester")
    monkeypatch.setenv("FLEETPROMPT_DATABASE_URL", postgres_store_url)
    monkeypatch.setenv("FLEETPROMPT_QUEUE_URL", postgres_store_url)
    monkeypatch.setenv("FLEETPROMPT_QUEUE_NAME", f"fptest-{uuid.uuid4().hex[:12]}")
    return postgres_store_url


def _huey():
    from fleetprompt_cli.queue import get_huey
    from fleetprompt_cli.settings import load_settings

    return get_huey(load_settings())


def _queued(*args: str) -> str:
    result = run_cli("install", *args, "--yes", "--no-wait", "--json")
    assert result.exit_code == 0, result.stderr
    assert "could not notify" not in result.stderr
    return json.loads(result.stdout)["directive"]


def _states(tenant: str = "default") -> dict[str, str]:
    return {s: st for s, _, st, *_ in snapshot(tenant)["installations"]}


def test_the_storage_keeps_order_priority_schedule_and_queue_names_apart(monkeypatch):
    from fleetprompt_cli.queue.pgstorage import PostgresStorage

    huey = _huey()
    storage = huey.storage
    assert isinstance(storage, PostgresStorage)
    storage.blocking = False
    for n in range(3):
        huey.fleetprompt_run(n, f"d-{n}")
    assert storage.queue_size() == 3
    document = json.loads(storage.enqueued_items()[0])
    assert document["args"] == [0, "d-0"]  # JSON messages, as on the other queues.
    assert storage.oldest_age() is not None and storage.oldest_age() >= 0
    # Another queue name on the same database sees none of it.
    other = PostgresStorage(f"other-{uuid.uuid4().hex[:8]}", url=pg_only_url())
    try:
        assert other.queue_size() == 0 and other.dequeue() is None
    finally:
        other.close()
    storage.enqueue(b"urgent", priority=5)
    assert storage.dequeue() == b"urgent"
    assert [huey.dequeue().args for _ in range(3)] == [(0, "d-0"), (1, "d-1"), (2, "d-2")]
    assert storage.dequeue() is None and storage.oldest_age() is None
    now = datetime.now(UTC).replace(tzinfo=None)
    storage.add_to_schedule(b"later", now + timedelta(hours=1))
    storage.add_to_schedule(b"due", now - timedelta(seconds=1))
    assert storage.read_schedule(now) == [b"due"]
    assert storage.read_schedule(now) == [] and storage.schedule_size() == 1
    assert storage.put_if_empty("lock", b"1") and not storage.put_if_empty("lock", b"2")
    assert storage.pop_data("lock") == b"1" and not storage.has_data_for_key("lock")
    assert (storage.incr("n"), storage.incr("n", 4)) == (1, 5)
    storage.flush_all()
    assert storage.schedule_size() == 0 and storage.result_items() == {}


def pg_only_url() -> str:
    from fleetprompt_cli.settings import load_settings

    return load_settings().queue_url


def test_one_message_goes_to_exactly_one_of_many_readers():
    import threading

    storage = _huey().storage
    storage.blocking = False
    for n in range(200):
        storage.enqueue(str(n).encode())
    got: list[bytes] = []
    lock = threading.Lock()

    def read() -> None:
        while (data := storage.dequeue()) is not None:
            with lock:
                got.append(data)

    threads = [threading.Thread(target=read) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(got, key=int) == [str(n).encode() for n in range(200)]


def test_a_worker_waiting_on_listen_is_woken_at_once():
    import threading

    storage = _huey().storage
    storage.blocking, storage.read_timeout = True, 60
    got: list[bytes | None] = []
    reader = threading.Thread(target=lambda: got.append(storage.dequeue()))
    reader.start()
    # A second storage (another process's) enqueues: the NOTIFY ends the wait
    # long before the 60 s read timeout.
    from fleetprompt_cli.queue.pgstorage import PostgresStorage

    other = PostgresStorage(storage.name, url=pg_only_url())
    try:
        other.enqueue(b"wake")
        reader.join(timeout=30)
    finally:
        other.close()
    assert not reader.is_alive() and got == [b"wake"]


def test_an_unreachable_postgres_queue_is_one_warning_and_the_store_keeps_the_work(monkeypatch):
    monkeypatch.setenv("FLEETPROMPT_QUEUE_URL", "postgresql://postgres@127.0.0.1:1/nowhere")
    result = run_cli("install", "fx-top", "--yes", "--no-wait", "--json")
    assert result.exit_code == 0, result.stderr
    warnings = [x for x in result.stderr.splitlines() if "could not notify" in x]
    assert len(warnings) == 1 and "postgresql://postgres@127.0.0.1:1/nowhere" in warnings[0]
    assert "Traceback" not in result.stderr
    assert _states() == dict.fromkeys(FX, "queued")


def test_a_bad_queue_url_names_the_variable(monkeypatch):
    for url in ("postgresql://", "amqp://u:secret@broker/x", "sqlite://relative.db"):
        monkeypatch.setenv("FLEETPROMPT_QUEUE_URL", url)
        result = run_cli("worker", "--once")
        assert result.exit_code == 8, result.stderr
        assert "FLEETPROMPT_QUEUE_URL" in result.stderr and "secret" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
    # A well-formed URL whose server refuses: the store-unavailable code, no password.
    monkeypatch.setenv("FLEETPROMPT_QUEUE_URL", "postgresql://nobody:secret@127.0.0.1:1/x")
    result = run_cli("worker", "--once")
    assert result.exit_code == 10, result.stderr
    assert "installer queue" in result.stderr and "secret" not in result.stderr


def test_install_through_a_worker_process_on_the_postgres_queue():
    directive = _queued("fx-top")
    assert _huey().storage.queue_size() == 1  # The wake-up is in PostgreSQL.
    worker = WorkerProcess("--workers", "2", "--log-format", "json")
    try:
        line = worker.wait_for(lambda x: f'"directive":"{directive}"' in x)
    finally:
        assert worker.stop() == 0, worker.lines[-5:]
    record = json.loads(line)
    assert record["outcome"] == "succeeded" and record["kind"] == "install"
    assert record["tenant"] == "default" and record["attempts"] == 1
    assert _states() == dict.fromkeys(FX, "active")
    assert _huey().storage.queue_size() == 0


def test_two_worker_processes_share_the_postgres_queue():
    from fleetprompt_cli.store import repository as repo

    store = store_for()
    try:
        with store.session() as s:
            for n in range(4):
                repo.create_tenant(s, f"t{n}")
    finally:
        store.dispose()
    sink: queue.Queue = queue.Queue()
    workers = [WorkerProcess("--log-format", "json", sink=sink) for _ in range(2)]
    try:
        for w in workers:
            w.wait_for('"event":"ready"')
        directives = [_queued("fx-top", "--tenant", f"t{n}") for n in range(4)]

        def all_ran(lines: list[str]) -> bool:
            return all(any(f'"directive":"{d}"' in x for x in lines) for d in directives)

        lines_until(sink, all_ran)
    finally:
        codes = [w.stop() for w in workers]
    assert codes == [0, 0]
    runs = [
        json.loads(x)
        for w in workers
        for x in w.lines
        if x.startswith("{") and '"event":"directive"' in x
    ]
    # Every directive ran exactly once across the two workers, and succeeded.
    assert sorted(r["directive"] for r in runs) == sorted(directives)
    assert {r["outcome"] for r in runs} == {"succeeded"}
    for n in range(4):
        assert _states(f"t{n}") == dict.fromkeys(FX, "active")


def test_a_worker_killed_mid_directive_is_taken_over_by_another(tmp_path):
    directive = _queued("fx-top")
    # The first worker dies (SIGKILL) as fx-mid's step starts, its lease
    # already expired (lease 0): fx-base is done, fx-mid half-way.
    doomed = WorkerProcess(
        env={"FLEETPROMPT_FAULT": "step-started:2", "FLEETPROMPT_LEASE_SECONDS": "0"}
    )
    assert doomed.finish() == -signal.SIGKILL
    state = snapshot()
    assert [(d[0], d[1]) for d in state["directives"]] == [("install", "running")]
    # A second worker's sweep finds the expired lease, wakes it through the
    # PostgreSQL queue, and finishes it.
    heir = WorkerProcess(
        "--log-format",
        "json",
        env={"FLEETPROMPT_SWEEP_SECONDS": "0.2", "FLEETPROMPT_CLAIM_GRACE_SECONDS": "0"},
    )
    try:
        line = heir.wait_for(lambda x: f'"directive":"{directive}"' in x)
    finally:
        assert heir.stop() == 0
    assert json.loads(line)["outcome"] == "succeeded"
    assert any("lease of worker@" in x and "expired" in x for x in heir.lines)
    assert _states() == dict.fromkeys(FX, "active")
    assert [d[:2] for d in snapshot()["directives"]] == [("install", "succeeded")]
