"""campaign members counted from the index: (duplicate_group_id, status) covering

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-06 08:10:00

The staff campaigns page counts each listed group's members by status and by current
theme. Through the partial index on duplicate_group_id alone, PostgreSQL read every
member's heap page twice (1,158 pages for the 1,271 members of the bench's first page);
keyed on (duplicate_group_id, status) and, on PostgreSQL, including id and
themes_reviewed_at, the counts are index-only scans. The old index is dropped: the new
one leads with the same column and serves every lookup it did.
"""

from alembic import op
import sqlalchemy as sa


revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

_TABLE = "feedback_item"
_WHERE = {
    "postgresql_where": sa.text("duplicate_group_id IS NOT NULL"),
    "sqlite_where": sa.text("duplicate_group_id IS NOT NULL"),
}


def upgrade():
    op.create_index(
        "ix_feedback_item_duplicate_group",
        _TABLE,
        ["duplicate_group_id", "status"],
        postgresql_include=["id", "themes_reviewed_at"],
        **_WHERE,
    )
    op.drop_index("ix_feedback_item_duplicate_group_id", table_name=_TABLE)


def downgrade():
    op.create_index("ix_feedback_item_duplicate_group_id", _TABLE, ["duplicate_group_id"], **_WHERE)
    op.drop_index("ix_feedback_item_duplicate_group", table_name=_TABLE)
