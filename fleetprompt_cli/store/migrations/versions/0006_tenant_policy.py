"""Tenant policy: versioned policies, package approvals, the ``policy`` directive kind.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02

* ``tenant_policies``: one row per version of a tenant's policy (rules as
  JSON); the newest version is in force.
* ``package_approvals``: the packages a tenant approved to install tools.
* ``directives.kind`` may be ``policy``: every policy change and approval is
  recorded as a finished directive (the audit trail).

Self-contained on purpose (no model imports).  SQLite changes the directives
check constraint in batch mode (a copy), PostgreSQL in place.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
_KINDS = "kind IN ('install', 'upgrade', 'uninstall', 'rollback', 'sync', 'policy')"
_OLD_KINDS = "kind IN ('install', 'upgrade', 'uninstall', 'rollback', 'sync')"


def upgrade() -> None:
    with op.batch_alter_table("directives") as batch:
        batch.drop_constraint(op.f("ck_directives_kind"), type_="check")
        batch.create_check_constraint("kind", _KINDS)
    op.create_table(
        "tenant_policies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("rules", JSON, nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("directive_id", sa.String(length=36), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_tenant_policies_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tenant_policies")),
        sa.UniqueConstraint(
            "tenant_id", "version", name=op.f("uq_tenant_policies_tenant_id_version")
        ),
    )
    op.create_table(
        "package_approvals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=200), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("directive_id", sa.String(length=36), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_package_approvals_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_package_approvals")),
        sa.UniqueConstraint("tenant_id", "slug", name=op.f("uq_package_approvals_tenant_id_slug")),
    )


def downgrade() -> None:
    op.drop_table("package_approvals")
    op.drop_table("tenant_policies")
    op.execute("DELETE FROM directives WHERE kind = 'policy'")
    with op.batch_alter_table("directives") as batch:
        batch.drop_constraint(op.f("ck_directives_kind"), type_="check")
        batch.create_check_constraint("kind", _OLD_KINDS)
