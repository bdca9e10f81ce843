"""Numbered revisions of a package (releases), after helm.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02

``releases`` holds one row per completed install, upgrade, downgrade,
configure, sync step, rollback or undo of a tenant's package, and per failed
install or upgrade: its number (1, 2, 3... per tenant and slug), status
(deployed, superseded, failed, uninstalled) and a snapshot (version, config,
manifest, resources with their content) from which ``rollback`` restores the
package without the index.  The transition audit trail (``revisions``) is
unchanged.  Installations that exist before this migration have no releases:
their first change records revision 1.

Self-contained on purpose (no model imports).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "releases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=200), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("installation_id", sa.Integer(), nullable=False),
        sa.Column("directive_id", sa.String(length=36), nullable=True),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("version", sa.String(length=100), nullable=True),
        sa.Column("previous_version", sa.String(length=100), nullable=True),
        sa.Column("rollback_to", sa.Integer(), nullable=True),
        sa.Column("config", JSON, nullable=False),
        sa.Column("config_diff", JSON, nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("manifest", JSON, nullable=True),
        sa.Column("resources", JSON, nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "action IN ('install', 'upgrade', 'downgrade', 'configure', 'sync', "
            "'rollback', 'undo')",
            name=op.f("ck_releases_action"),
        ),
        sa.CheckConstraint(
            "status IN ('deployed', 'superseded', 'failed', 'uninstalled')",
            name=op.f("ck_releases_status"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "directive_id"],
            ["directives.tenant_id", "directives.id"],
            name=op.f("fk_releases_tenant_id_directive_id_directives"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "installation_id"],
            ["installations.tenant_id", "installations.id"],
            name=op.f("fk_releases_tenant_id_installation_id_installations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_releases_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_releases")),
        sa.UniqueConstraint(
            "tenant_id", "slug", "number", name=op.f("uq_releases_tenant_id_slug_number")
        ),
    )


def downgrade() -> None:
    op.drop_table("releases")
