"""The kind of the error a directive failed with.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02

``directives.error_kind`` keeps the failing error's kind (``integrity``,
``tier``, ...: ``FleetPromptError.kind``) beside its message, so a process
that only reads the directive (one following a worker, ``recover``) exits
with the same code as the one that ran it.  Nullable: directives that
succeeded, and those that failed before this column, have none.

Self-contained on purpose (no model imports).  Adding a nullable column is a
plain ALTER on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("directives", sa.Column("error_kind", sa.String(length=40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("directives") as batch:
        batch.drop_column("error_kind")
