"""Tenant policy: versioned policies, package approvals, the ``policy`` directive kind.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02

* ``tenant_policies``: one row per version of a tenant's policy (rules as
  JSON); the newest version is in force.
* ``package_approvals``: the packages a tenant approved to install tools.
* ``directives.kind`` may be ``policy``: every policy change and approval is
  recorded as a finished directive (the audit trail).

Self-contained on purpose (no model imports).  PostgreSQL replaces the
directives check constraint in place.  SQLite cannot ALTER a constraint, and
recreating ``directives`` (batch mode) would cascade-delete its steps and
fail on the releases that refer to it; it takes the procedure SQLite's
documentation gives for changing a CHECK constraint instead (rewrite the
table's SQL in ``sqlite_schema`` under ``writable_schema``, then bump the
schema version), which is safe here because the new constraint only allows
one more value: every existing row still satisfies it.
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


def _replace_kind_check(old: str, new: str) -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        op.drop_constraint(op.f("ck_directives_kind"), "directives", type_="check")
        op.create_check_constraint(op.f("ck_directives_kind"), "directives", new)
        return
    sql = bind.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'directives'"
    ).scalar_one()
    if old not in sql:
        raise RuntimeError("directives: the kind check constraint is not the expected one")
    version = bind.exec_driver_sql("PRAGMA schema_version").scalar_one()
    bind.exec_driver_sql("PRAGMA writable_schema = ON")
    bind.exec_driver_sql(
        "UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = 'directives'",
        (sql.replace(old, new),),
    )
    bind.exec_driver_sql(f"PRAGMA schema_version = {int(version) + 1}")
    bind.exec_driver_sql("PRAGMA writable_schema = OFF")


def upgrade() -> None:
    _replace_kind_check(_OLD_KINDS, _KINDS)
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
    _replace_kind_check(_KINDS, _OLD_KINDS)
