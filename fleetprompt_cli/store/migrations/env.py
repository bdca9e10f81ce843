"""Alembic environment: runs migrations on the connection the store hands over.

There is no ``alembic.ini``: ``fleetprompt_cli.store.engine`` builds the
alembic ``Config`` in code and passes an open connection, already inside the
transaction (and, on PostgreSQL, holding the advisory lock) that the
migration must run in.  Offline (``--sql``) mode is not supported.
"""

from __future__ import annotations

from alembic import context

from fleetprompt_cli.store.models import VERSION_TABLE, metadata

connection = context.config.attributes.get("connection")
if connection is None or context.is_offline_mode():
    raise RuntimeError("fleetprompt migrations run only through fleetprompt_cli.store.engine")

context.configure(
    connection=connection,
    target_metadata=metadata,
    version_table=VERSION_TABLE,
    # SQLite cannot ALTER most things: later migrations recreate tables.
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
