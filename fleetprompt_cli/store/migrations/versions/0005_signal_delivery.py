"""Signal delivery: subscriptions and deliveries; (tenant, source, id) identifies a signal.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02

* ``signals``: CloudEvents identify an event by ``source`` + ``id``, so the
  global unique ``id`` becomes unique per (tenant, source, id) (publishing
  the same event twice stores one copy); ids, correlation and causation ids
  may be any CloudEvents string up to 200 characters; an index on (tenant,
  type) for ``signals list --type``.
* ``subscriptions``: one row per subscriber (an installation's handler),
  its patterns, status, offset and generation.
* ``deliveries``: one row per (subscriber, signal, generation).

Self-contained on purpose (no model imports).  SQLite changes the signals
table in batch mode (a copy), PostgreSQL in place.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("signals") as batch:
        batch.drop_constraint("uq_signals_id", type_="unique")
        batch.alter_column("id", type_=sa.String(length=200), existing_nullable=False)
        batch.alter_column("correlation_id", type_=sa.String(length=200), existing_nullable=True)
        batch.alter_column("causation_id", type_=sa.String(length=200), existing_nullable=True)
        batch.create_unique_constraint(
            "uq_signals_tenant_id_source_id", ["tenant_id", "source", "id"]
        )
    op.create_index("ix_signals_tenant_id_type", "signals", ["tenant_id", "type"], unique=False)
    op.create_table(
        "subscriptions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("installation_id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=200), nullable=False),
        sa.Column("name", sa.String(length=401), nullable=False),
        sa.Column("handler_kind", sa.String(length=20), nullable=False),
        sa.Column("handler", sa.String(length=200), nullable=False),
        sa.Column("patterns", JSON, nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("offset", sa.Integer(), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("status IN ('active', 'paused')", name=op.f("ck_subscriptions_status")),
        sa.CheckConstraint(
            "handler_kind IN ('agent', 'workflow', 'skill', 'tool')",
            name=op.f("ck_subscriptions_handler_kind"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "installation_id"],
            ["installations.tenant_id", "installations.id"],
            name=op.f("fk_subscriptions_tenant_id_installation_id_installations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_subscriptions_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscriptions")),
        sa.UniqueConstraint("tenant_id", "id", name=op.f("uq_subscriptions_tenant_id_id")),
        sa.UniqueConstraint("tenant_id", "name", name=op.f("uq_subscriptions_tenant_id_name")),
    )
    op.create_table(
        "deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("subscription_id", sa.Integer(), nullable=False),
        sa.Column("signal_pk", sa.Integer(), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("result", JSON, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("status IN ('delivered', 'dead')", name=op.f("ck_deliveries_status")),
        sa.ForeignKeyConstraint(
            ["tenant_id", "subscription_id"],
            ["subscriptions.tenant_id", "subscriptions.id"],
            name=op.f("fk_deliveries_tenant_id_subscription_id_subscriptions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["signal_pk"],
            ["signals.pk"],
            name=op.f("fk_deliveries_signal_pk_signals"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_deliveries_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deliveries")),
        sa.UniqueConstraint(
            "subscription_id",
            "signal_pk",
            "generation",
            name=op.f("uq_deliveries_subscription_id_signal_pk_generation"),
        ),
    )
    op.create_index(
        "ix_deliveries_tenant_id_status", "deliveries", ["tenant_id", "status"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_deliveries_tenant_id_status", table_name="deliveries")
    op.drop_table("deliveries")
    op.drop_table("subscriptions")
    op.drop_index("ix_signals_tenant_id_type", table_name="signals")
    with op.batch_alter_table("signals") as batch:
        batch.drop_constraint("uq_signals_tenant_id_source_id", type_="unique")
        batch.alter_column("id", type_=sa.String(length=36), existing_nullable=False)
        batch.alter_column("correlation_id", type_=sa.String(length=36), existing_nullable=True)
        batch.alter_column("causation_id", type_=sa.String(length=36), existing_nullable=True)
        batch.create_unique_constraint("uq_signals_id", ["id"])
