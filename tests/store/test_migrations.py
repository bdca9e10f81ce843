"""The migration policy: fresh stores, mismatched schemas, upgrades on both backends."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlmodel import select

from fleetprompt_cli.errors import StoreUnavailable
from fleetprompt_cli.store.engine import (
    MIGRATIONS,
    Migrations,
    _alembic_config,
    open_store,
    schema_status,
    upgrade_store,
)
from fleetprompt_cli.store.models import SCHEMA_HEAD, VERSION_TABLE, Review, metadata

# A revision after the real head, only for tests: code newer than the store.
NEXT = "9001"
EXTRA_REVISION = f'''"""A later revision, only for tests."""
import sqlalchemy as sa
from alembic import op

revision = "{NEXT}"
down_revision = "{SCHEMA_HEAD}"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table("fleetprompt_test_extra", sa.Column("id", sa.Integer, primary_key=True))


def downgrade():
    op.drop_table("fleetprompt_test_extra")
'''


@pytest.fixture
def migrations_v2(tmp_path) -> Migrations:
    """The real migrations plus a revision NEXT: code that is newer than the store."""
    folder = tmp_path / "migrations"
    shutil.copytree(
        MIGRATIONS.script_location, folder, ignore=shutil.ignore_patterns("__pycache__")
    )
    (folder / "versions" / f"{NEXT}_extra.py").write_text(EXTRA_REVISION)
    return Migrations(folder, NEXT)


def _tables(store) -> set[str]:
    with store.connection(readonly=True) as connection:
        return set(inspect(connection).get_table_names())


def _set_revision(store, revision: str) -> None:
    with store.connection() as connection:
        connection.execute(text(f"UPDATE {VERSION_TABLE} SET version_num = :r"), {"r": revision})


def test_schema_head_constant_matches_the_scripts():
    script = ScriptDirectory.from_config(_alembic_config(MIGRATIONS))
    assert script.get_current_head() == SCHEMA_HEAD


def test_migration_scripts_ship_as_packages():
    # The folders are packages so that setuptools' package discovery ships
    # them in wheels; alembic itself skips __init__.py.
    assert (MIGRATIONS.script_location / "__init__.py").is_file()
    assert (MIGRATIONS.script_location / "versions" / "__init__.py").is_file()
    assert (MIGRATIONS.script_location / "script.py.mako").is_file()


def test_fresh_store_is_created_at_head(empty_store_url):
    assert schema_status(empty_store_url).state == "empty"
    store = open_store(empty_store_url)
    try:
        assert set(metadata.tables) <= _tables(store)
        status = schema_status(empty_store_url)
        assert (status.current, status.state) == (SCHEMA_HEAD, "current")
    finally:
        store.dispose()


def test_schema_status_does_not_create_a_sqlite_file(tmp_path):
    path = tmp_path / "nothing" / "state.db"
    assert schema_status(f"sqlite:///{path}").state == "empty"
    assert not path.exists()


def test_migrated_schema_matches_the_models(store):
    with store.connection(readonly=True) as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "version_table": VERSION_TABLE}
        )
        diffs = compare_metadata(context, metadata)
    assert diffs == []


def test_concurrent_first_use_migrates_once(empty_store_url):
    barrier = threading.Barrier(3)
    errors: list[BaseException] = []

    def first_use():
        barrier.wait()
        try:
            open_store(empty_store_url).dispose()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=first_use) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert schema_status(empty_store_url).state == "current"


def test_newer_schema_is_refused(store_url):
    with open_store(store_url) as store:
        _set_revision(store, "9999_from_the_future")
    with pytest.raises(StoreUnavailable) as caught:
        open_store(store_url)
    message = str(caught.value)
    assert message.startswith(
        f"state store schema is at 9999_from_the_future, this fleetprompt expects {SCHEMA_HEAD}"
    )
    assert "upgrade fleetprompt" in message
    assert "\n" not in message
    # upgrade_store cannot help either: the code must be upgraded.
    with pytest.raises(StoreUnavailable, match="upgrade fleetprompt"):
        upgrade_store(store_url)


def test_store_newer_than_code_is_refused(store_url, migrations_v2):
    upgrade_store(store_url, migrations=migrations_v2)
    expected = f"is at {NEXT}, this fleetprompt expects {SCHEMA_HEAD}"
    with pytest.raises(StoreUnavailable, match=expected):
        open_store(store_url)


def test_tables_without_a_version_are_refused(empty_store_url):
    with open_store(empty_store_url) as store, store.connection() as connection:
        connection.execute(text(f"DROP TABLE {VERSION_TABLE}"))
    with pytest.raises(StoreUnavailable, match="no schema version"):
        open_store(empty_store_url)


def test_older_sqlite_store_migrates_on_first_use(tmp_path, migrations_v2):
    url = f"sqlite:///{tmp_path / 'state.db'}"
    open_store(url).dispose()
    with open_store(url, migrations=migrations_v2) as store:
        assert "fleetprompt_test_extra" in _tables(store)
    assert schema_status(url, migrations=migrations_v2).state == "current"
    assert (tmp_path / "state.db.lock").exists()


@pytest.mark.postgres
@pytest.mark.parametrize("store_url", ["postgres"], indirect=True)
def test_older_postgres_store_is_refused_until_upgraded(store_url, migrations_v2):
    # PostgreSQL only: an older SQLite store migrates automatically (above).
    with pytest.raises(StoreUnavailable) as caught:
        open_store(store_url, migrations=migrations_v2)
    assert str(caught.value) == (
        f"state store schema is at {SCHEMA_HEAD}, this fleetprompt expects {NEXT}:"
        " run 'fleetprompt db upgrade'"
    )
    status = upgrade_store(store_url, migrations=migrations_v2)
    assert (status.current, status.state) == (SCHEMA_HEAD, "older")
    with open_store(store_url, migrations=migrations_v2) as store:
        assert "fleetprompt_test_extra" in _tables(store)
    # A second upgrade finds nothing to do.
    assert upgrade_store(store_url, migrations=migrations_v2).state == "current"


def test_upgrade_store_on_an_empty_store_creates_it(empty_store_url):
    status = upgrade_store(empty_store_url)
    assert status.state == "empty"
    assert schema_status(empty_store_url).state == "current"


def test_migrations_path_with_a_percent_sign(tmp_path, migrations_v2):
    odd = tmp_path / "100%" / "migrations"
    shutil.copytree(migrations_v2.script_location, odd)
    url = f"sqlite:///{tmp_path / 'state.db'}"
    open_store(url, migrations=Migrations(Path(odd), NEXT)).dispose()
    assert schema_status(url, migrations=Migrations(Path(odd), NEXT)).state == "current"


def test_0002_keeps_reviews_and_makes_them_per_tenant(empty_store_url):
    """Reviews written under 0001 survive; afterwards one actor may review per tenant."""
    from fleetprompt_cli.store import repository as repo

    upgrade_store(empty_store_url, migrations=Migrations(MIGRATIONS.script_location, "0001"))
    with (
        open_store(
            empty_store_url, migrations=Migrations(MIGRATIONS.script_location, "0001")
        ) as store,
        store.connection() as connection,
    ):
        connection.execute(
            text(
                "INSERT INTO tenants (slug, tier, created_at) VALUES"
                " ('acme', 'free', CURRENT_TIMESTAMP), ('globex', 'free', CURRENT_TIMESTAMP)"
            )
        )
        connection.execute(
            text(
                "INSERT INTO reviews (slug, actor, tenant_id, rating, title, helpful_count,"
                " created_at, updated_at) SELECT 'crm', 'ann', id, 4, 'Old', 0,"
                " CURRENT_TIMESTAMP, CURRENT_TIMESTAMP FROM tenants WHERE slug = 'acme'"
            )
        )
    assert upgrade_store(empty_store_url).current == "0001"
    with open_store(empty_store_url) as store, store.session() as session:
        acme = repo.get_tenant(session, "acme").id
        globex = repo.get_tenant(session, "globex").id
        old = session.exec(select(Review).where(Review.slug == "crm")).all()
        assert [(r.actor, r.tenant_id, r.rating, r.title, r.version) for r in old] == [
            ("ann", acme, 4, "Old", None)
        ]
        repo.upsert_review(session, globex, "crm", "ann", 2, version="1.0")
    with open_store(empty_store_url) as store, store.session(readonly=True) as session:
        rows = session.exec(select(Review).where(Review.slug == "crm")).all()
        assert sorted((r.tenant_id, r.rating) for r in rows) == [
            (acme, 4),
            (globex, 2),
        ]
