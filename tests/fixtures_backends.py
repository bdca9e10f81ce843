"""Backend fixtures (a pytest plugin): state stores on SQLite and PostgreSQL, and Redis.

* ``store_url`` runs a test once per backend: ``sqlite`` (a file in
  ``tmp_path``) and ``postgres`` (when ``FLEETPROMPT_TEST_DATABASE_URL`` is
  set).  Each PostgreSQL test gets its own database, cloned from a template
  database migrated once per test session and named after the migration
  head plus a hash of the migration scripts (so an edited script never reuses
  a stale template); the clone is dropped afterwards.
* ``empty_store_url``: the same, but a database with no schema at all.
* ``redis_url`` (``FLEETPROMPT_TEST_REDIS_URL``) and ``redis_prefix``: each
  test gets a unique key prefix; keys containing it are deleted afterwards.
  (A prefix rather than a dedicated db number: tests and CI jobs may share one
  Redis, and huey's keys embed its queue name, which tests set to the prefix.)

* ``postgres_store_url``: a migrated PostgreSQL store only (tests of the
  PostgreSQL queue, which keeps its tables in the store's database).
* ``throwaway_postgres`` and ``throwaway_redis``: servers of the test's own,
  on a spare port, that a test may stop and restart (backend-down tests);
  never the shared servers.  PostgreSQL refuses to run as root, so its
  ``initdb``/``pg_ctl`` (from /usr/lib/postgresql/*/bin) run as the
  ``postgres`` user through ``runuser`` on a data folder that user owns.
  Both are stopped in the fixture's teardown.

When a variable (or a server binary) is missing the test is skipped with the
reason, except when ``CI=true``: then it fails, so CI can never pass with a
backend untested.
PostgreSQL tests carry the ``postgres`` marker and Redis tests the ``redis``
marker (``-m "not postgres"`` deselects them).
"""

from __future__ import annotations

import glob
import hashlib
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

__all__ = [
    "DATABASE_VARIABLE",
    "REDIS_VARIABLE",
    "ThrowawayPostgres",
    "ThrowawayRedis",
    "empty_store_url",
    "postgres_admin_url",
    "postgres_store_url",
    "redis_prefix",
    "redis_url",
    "store_url",
    "throwaway_postgres",
    "throwaway_redis",
]

DATABASE_VARIABLE = "FLEETPROMPT_TEST_DATABASE_URL"
REDIS_VARIABLE = "FLEETPROMPT_TEST_REDIS_URL"

_BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]


def _require(variable: str, what: str) -> str:
    value = os.environ.get(variable, "").strip()
    if value:
        return value
    _missing(f"{what} tests need {variable} (e.g. in .ci/run)")
    return ""  # not reached


def _missing(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason}; CI=true, so a skipped backend test is a failure", pytrace=False)
    pytest.skip(reason)


def _conninfo(url: str, database: str | None = None) -> str:
    # SQLAlchemy's postgresql+psycopg:// spelling, as libpq reads it.
    from sqlalchemy.engine import make_url

    parsed = make_url(url).set(drivername="postgresql")
    if database is not None:
        parsed = parsed.set(database=database)
    return parsed.render_as_string(hide_password=False)


def _store_url(admin_url: str, database: str) -> str:
    from sqlalchemy.engine import make_url

    parsed = make_url(admin_url).set(drivername="postgresql+psycopg", database=database)
    return parsed.render_as_string(hide_password=False)


def _admin(admin_url: str):
    import psycopg

    # CREATE/DROP DATABASE cannot run inside a transaction.
    return psycopg.connect(_conninfo(admin_url), autocommit=True)


def _template_name() -> str:
    from fleetprompt_cli.store.engine import MIGRATIONS

    digest = hashlib.sha256()
    for script in sorted(MIGRATIONS.script_location.rglob("*.py")):
        digest.update(script.name.encode())
        digest.update(script.read_bytes())
    return f"fleetprompt_tpl_{MIGRATIONS.head}_{digest.hexdigest()[:10]}"


@pytest.fixture(scope="session")
def postgres_admin_url() -> str:
    """The PostgreSQL URL from the environment (skips or, on CI, fails without it)."""
    return _require(DATABASE_VARIABLE, "PostgreSQL")


@pytest.fixture(scope="session")
def _postgres_template(postgres_admin_url: str) -> str:
    """A migrated template database, built once (and kept across runs)."""
    from fleetprompt_cli.store.engine import upgrade_store

    name = _template_name()
    with _admin(postgres_admin_url) as admin:
        found = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if found:
            return name
        # Build under a scratch name and rename, so a concurrent test run
        # never clones a half-migrated template.
        scratch = f"{name}_build_{uuid.uuid4().hex[:8]}"
        admin.execute(f'CREATE DATABASE "{scratch}"')
        try:
            upgrade_store(_store_url(postgres_admin_url, scratch))
            admin.execute(f'ALTER DATABASE "{scratch}" RENAME TO "{name}"')
        except Exception:
            admin.execute(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')
            found = admin.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
            ).fetchone()
            if not found:
                raise
    return name


def _postgres_database(admin_url: str, template: str | None) -> Iterator[str]:
    name = f"fleetprompt_test_{uuid.uuid4().hex[:12]}"
    with _admin(admin_url) as admin:
        clause = f' TEMPLATE "{template}"' if template else ""
        admin.execute(f'CREATE DATABASE "{name}"{clause}')
    try:
        yield _store_url(admin_url, name)
    finally:
        with _admin(admin_url) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=_BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty-of-data state store URL, once per backend."""
    if request.param == "sqlite":
        from fleetprompt_cli.store.engine import upgrade_store

        url = f"sqlite:///{tmp_path / 'state.db'}"
        upgrade_store(url)
        yield url
        return
    admin_url = request.getfixturevalue("postgres_admin_url")
    template = request.getfixturevalue("_postgres_template")
    yield from _postgres_database(admin_url, template)


@pytest.fixture(params=_BACKENDS)
def empty_store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL where no state store exists yet, once per backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh' / 'state.db'}"
        return
    admin_url = request.getfixturevalue("postgres_admin_url")
    yield from _postgres_database(admin_url, None)


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The Redis URL from the environment (skips or, on CI, fails without it)."""
    return _require(REDIS_VARIABLE, "Redis")


@pytest.fixture
def redis_prefix(redis_url: str) -> Iterator[str]:
    """A key prefix (and huey queue name) unique to this test; its keys are deleted after."""
    import redis

    prefix = f"fptest-{uuid.uuid4().hex[:12]}"
    yield prefix
    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match=f"*{prefix}*", count=500))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@pytest.fixture
def postgres_store_url(postgres_admin_url: str, _postgres_template: str) -> Iterator[str]:
    """A migrated, empty PostgreSQL state store of this test's own."""
    yield from _postgres_database(postgres_admin_url, _postgres_template)


def _spare_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class ThrowawayPostgres:
    """A PostgreSQL server of one test: ``start()``, ``stop()``, ``url``."""

    def __init__(self, bindir: Path, root: Path) -> None:
        self.bindir, self.root = bindir, root
        self.data = root / "data"
        self.port = _spare_port()
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")

    def _run(self, tool: str, *args: str) -> None:
        done = subprocess.run(
            ["runuser", "-u", "postgres", "--", str(self.bindir / tool), *args],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"{tool} failed: {done.stdout[-1000:]}{done.stderr[-1000:]}")

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c full_page_writes=off -c max_connections=60"
        )
        # -w: returns once the server accepts connections (no polling here).
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.root / "log"),
            "-w",
            "start",
        )

    def stop(self) -> None:
        # -m fast: open connections are cut, as when a database server goes away.
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()


@pytest.fixture
def throwaway_postgres() -> Iterator[ThrowawayPostgres]:
    """A started PostgreSQL server on a spare port, stopped and deleted afterwards."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if not found or os.geteuid() != 0 or shutil.which("runuser") is None:
        _missing("throwaway PostgreSQL tests need /usr/lib/postgresql/*/bin and root (runuser)")
    # A folder the postgres user can enter (pytest's tmp_path is private to root).
    root = Path(tempfile.mkdtemp(prefix="fleetprompt-pg-"))
    os.chmod(root, 0o755)
    shutil.chown(root, "postgres", "postgres")
    server = None
    try:
        server = ThrowawayPostgres(Path(found[-1]).parent, root)
        server.start()
        yield server
    finally:
        if server is not None and server.running():
            server.stop()
        shutil.rmtree(root, ignore_errors=True)


class ThrowawayRedis:
    """A Redis server of one test, without persistence: ``start()``, ``stop()``, ``url``."""

    def __init__(self, binary: str) -> None:
        self.binary = binary
        self.port = _spare_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        process = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--loglevel",
                "notice",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.process = process
        assert process.stdout is not None
        # Redis says when it accepts connections: read up to that line.
        for line in process.stdout:
            if "Ready to accept connections" in line:
                break
        else:
            raise RuntimeError(f"redis-server exited with {process.wait()}")

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        self.process.wait(timeout=30)
        if self.process.stdout is not None:
            self.process.stdout.close()
        self.process = None


@pytest.fixture
def throwaway_redis() -> Iterator[ThrowawayRedis]:
    """A started Redis server on a spare port, stopped afterwards."""
    binary = shutil.which("redis-server")
    if binary is None:
        _missing("throwaway Redis tests need redis-server on PATH")
    server = ThrowawayRedis(binary or "")
    try:
        server.start()
        yield server
    finally:
        server.stop()
