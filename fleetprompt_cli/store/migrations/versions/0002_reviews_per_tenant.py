"""Reviews per (tenant, actor, package), with the version reviewed.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02

A review was unique per (package, actor): the same actor name writing for
another tenant moved the row (and its ``tenant_id``) to that tenant.  Now a
review is unique per (tenant, actor, package), and a helpful vote per
(review, tenant, actor).  ``version`` records the version the tenant had
installed when the review was written.  The index on (slug, helpful_count,
updated_at, id) serves the detail page's "most helpful" reviews without
sorting a package's reviews.

Self-contained on purpose (no model imports).  Batch mode recreates the
tables on SQLite, which cannot drop a constraint in place; on PostgreSQL the
same operations are plain ALTERs.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("reviews") as batch:
        batch.add_column(sa.Column("version", sa.String(length=100), nullable=True))
        batch.drop_constraint("uq_reviews_slug_actor", type_="unique")
        batch.create_unique_constraint(
            "uq_reviews_tenant_id_actor_slug", ["tenant_id", "actor", "slug"]
        )
        batch.drop_index("ix_reviews_slug")
        batch.create_index(
            "ix_reviews_slug_helpful_count_updated_at_id",
            ["slug", "helpful_count", "updated_at", "id"],
            unique=False,
        )
    with op.batch_alter_table("review_votes") as batch:
        batch.drop_constraint("uq_review_votes_review_id_actor", type_="unique")
        batch.create_unique_constraint(
            "uq_review_votes_review_id_tenant_id_actor", ["review_id", "tenant_id", "actor"]
        )


def downgrade() -> None:
    # Going back merges nothing: it fails if one actor reviewed a package for
    # two tenants (the old schema cannot hold both), and changes nothing then.
    with op.batch_alter_table("review_votes") as batch:
        batch.drop_constraint("uq_review_votes_review_id_tenant_id_actor", type_="unique")
        batch.create_unique_constraint("uq_review_votes_review_id_actor", ["review_id", "actor"])
    with op.batch_alter_table("reviews") as batch:
        batch.drop_index("ix_reviews_slug_helpful_count_updated_at_id")
        batch.create_index("ix_reviews_slug", ["slug"], unique=False)
        batch.drop_constraint("uq_reviews_tenant_id_actor_slug", type_="unique")
        batch.create_unique_constraint("uq_reviews_slug_actor", ["slug", "actor"])
        batch.drop_column("version")
