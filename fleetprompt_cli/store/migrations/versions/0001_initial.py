"""The initial state store schema.

Revision ID: 0001
Revises: (none)
Create Date: 2025-11-25

Self-contained on purpose: a migration must not import the models, which
describe the latest schema and will change after this file is frozen.
Timestamps are ``timestamptz`` on PostgreSQL and naive-UTC text on SQLite
(the models' ``UTCDateTime`` converts); JSON is JSONB on PostgreSQL.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

INSTALLATION_STATUSES = (
    "('queued', 'installing', 'active', 'paused', 'failed', 'cancelled', "
    "'upgrading', 'uninstalling', 'uninstalled')"
)
JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "package_stats",
        sa.Column("slug", sa.String(length=200), nullable=False),
        sa.Column("install_count", sa.Integer(), nullable=False),
        sa.Column("active_install_count", sa.Integer(), nullable=False),
        sa.Column("rating_sum", sa.Integer(), nullable=False),
        sa.Column("rating_count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("slug", name=op.f("pk_package_stats")),
    )
    op.create_table(
        "tenants",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=100), nullable=False),
        sa.Column("tier", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("tier IN ('free', 'pro', 'enterprise')", name=op.f("ck_tenants_tier")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tenants")),
        sa.UniqueConstraint("slug", name=op.f("uq_tenants_slug")),
    )
    op.create_table(
        "directives",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("command", sa.Text(), nullable=False),
        sa.Column("arguments", JSON, nullable=False),
        sa.Column("plan", JSON, nullable=False),
        sa.Column("atomic", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("lease_owner", sa.String(length=200), nullable=True),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "kind IN ('install', 'upgrade', 'uninstall', 'rollback', 'sync')",
            name=op.f("ck_directives_kind"),
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'running', 'succeeded', 'failed', 'cancelled')",
            name=op.f("ck_directives_status"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_directives_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_directives")),
        sa.UniqueConstraint("tenant_id", "id", name=op.f("uq_directives_tenant_id_id")),
    )
    op.create_index(
        "ix_directives_status_lease", "directives", ["status", "lease_expires_at"], unique=False
    )
    op.create_index(op.f("ix_directives_tenant_id"), "directives", ["tenant_id"], unique=False)
    op.create_table(
        "installations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=200), nullable=False),
        sa.Column("version", sa.String(length=100), nullable=True),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("pending_version", sa.String(length=100), nullable=True),
        sa.Column("pending_config", JSON, nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("previous_status", sa.String(length=20), nullable=True),
        sa.Column("config", JSON, nullable=False),
        sa.Column("requested", sa.Boolean(), nullable=False),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("installed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "previous_status IN " + INSTALLATION_STATUSES,
            name=op.f("ck_installations_previous_status"),
        ),
        sa.CheckConstraint(
            "status IN " + INSTALLATION_STATUSES,
            name=op.f("ck_installations_status"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_installations_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_installations")),
        sa.UniqueConstraint("tenant_id", "id", name=op.f("uq_installations_tenant_id_id")),
    )
    op.create_index(
        op.f("ix_installations_tenant_id"), "installations", ["tenant_id"], unique=False
    )
    op.create_index(
        "uq_installations_live_slug",
        "installations",
        ["tenant_id", "slug"],
        unique=True,
        sqlite_where=sa.text("status NOT IN ('uninstalled', 'cancelled')"),
        postgresql_where=sa.text("status NOT IN ('uninstalled', 'cancelled')"),
    )
    op.create_table(
        "reviews",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=200), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("rating", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=True),
        sa.Column("content", sa.Text(), nullable=True),
        sa.Column("helpful_count", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("rating BETWEEN 1 AND 5", name=op.f("ck_reviews_rating")),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_reviews_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reviews")),
        sa.UniqueConstraint("slug", "actor", name=op.f("uq_reviews_slug_actor")),
    )
    op.create_index(op.f("ix_reviews_slug"), "reviews", ["slug"], unique=False)
    op.create_table(
        "signals",
        sa.Column("pk", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("specversion", sa.String(length=10), nullable=False),
        sa.Column("type", sa.String(length=200), nullable=False),
        sa.Column("source", sa.String(length=500), nullable=False),
        sa.Column("subject", sa.String(length=500), nullable=True),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("datacontenttype", sa.String(length=100), nullable=False),
        sa.Column("data", JSON, nullable=True),
        sa.Column("correlation_id", sa.String(length=36), nullable=True),
        sa.Column("causation_id", sa.String(length=36), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_signals_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_signals")),
        sa.UniqueConstraint("id", name=op.f("uq_signals_id")),
        sa.UniqueConstraint("tenant_id", "sequence", name=op.f("uq_signals_tenant_id_sequence")),
    )
    op.create_index(op.f("ix_signals_correlation_id"), "signals", ["correlation_id"], unique=False)
    op.create_table(
        "tenant_counters",
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("signal_sequence", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_tenant_counters_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", name=op.f("pk_tenant_counters")),
    )
    op.create_table(
        "directive_steps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("directive_id", sa.String(length=36), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=200), nullable=False),
        sa.Column("version", sa.String(length=100), nullable=True),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("installation_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "action IN ('install', 'upgrade', 'downgrade', 'keep', 'uninstall')",
            name=op.f("ck_directive_steps_action"),
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'running', 'done', 'failed', 'cancelled', 'undone')",
            name=op.f("ck_directive_steps_status"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "directive_id"],
            ["directives.tenant_id", "directives.id"],
            name=op.f("fk_directive_steps_tenant_id_directive_id_directives"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "installation_id"],
            ["installations.tenant_id", "installations.id"],
            name=op.f("fk_directive_steps_tenant_id_installation_id_installations"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_directive_steps_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_directive_steps")),
        sa.UniqueConstraint(
            "directive_id", "position", name=op.f("uq_directive_steps_directive_id_position")
        ),
    )
    op.create_table(
        "installed_resources",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("installation_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("definition", JSON, nullable=False),
        sa.Column("content", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('agent', 'workflow', 'skill', 'tool')",
            name=op.f("ck_installed_resources_kind"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "installation_id"],
            ["installations.tenant_id", "installations.id"],
            name=op.f("fk_installed_resources_tenant_id_installation_id_installations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_installed_resources_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_installed_resources")),
        sa.UniqueConstraint(
            "tenant_id",
            "installation_id",
            "kind",
            "name",
            name=op.f("uq_installed_resources_tenant_id_installation_id_kind_name"),
        ),
    )
    op.create_table(
        "review_votes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("review_id", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["review_id"],
            ["reviews.id"],
            name=op.f("fk_review_votes_review_id_reviews"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_review_votes_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_votes")),
        sa.UniqueConstraint("review_id", "actor", name=op.f("uq_review_votes_review_id_actor")),
    )
    op.create_table(
        "revisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("installation_id", sa.Integer(), nullable=False),
        sa.Column("directive_id", sa.String(length=36), nullable=True),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("transition", sa.String(length=40), nullable=False),
        sa.Column("from_status", sa.String(length=20), nullable=True),
        sa.Column("to_status", sa.String(length=20), nullable=False),
        sa.Column("from_version", sa.String(length=100), nullable=True),
        sa.Column("to_version", sa.String(length=100), nullable=True),
        sa.Column("config_diff", JSON, nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id", "directive_id"],
            ["directives.tenant_id", "directives.id"],
            name=op.f("fk_revisions_tenant_id_directive_id_directives"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "installation_id"],
            ["installations.tenant_id", "installations.id"],
            name=op.f("fk_revisions_tenant_id_installation_id_installations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_revisions_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_revisions")),
    )
    op.create_index(
        "ix_revisions_tenant_id_installation_id",
        "revisions",
        ["tenant_id", "installation_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_revisions_tenant_id_installation_id", table_name="revisions")
    op.drop_table("revisions")
    op.drop_table("review_votes")
    op.drop_table("installed_resources")
    op.drop_table("directive_steps")
    op.drop_table("tenant_counters")
    op.drop_index(op.f("ix_signals_correlation_id"), table_name="signals")
    op.drop_table("signals")
    op.drop_index(op.f("ix_reviews_slug"), table_name="reviews")
    op.drop_table("reviews")
    op.drop_index(
        "uq_installations_live_slug",
        table_name="installations",
        sqlite_where=sa.text("status NOT IN ('uninstalled', 'cancelled')"),
        postgresql_where=sa.text("status NOT IN ('uninstalled', 'cancelled')"),
    )
    op.drop_index(op.f("ix_installations_tenant_id"), table_name="installations")
    op.drop_table("installations")
    op.drop_index(op.f("ix_directives_tenant_id"), table_name="directives")
    op.drop_index("ix_directives_status_lease", table_name="directives")
    op.drop_table("directives")
    op.drop_table("tenants")
    op.drop_table("package_stats")
