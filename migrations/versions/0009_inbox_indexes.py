"""inbox indexes: newest first within an engagement and status, and the list of areas

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-23 12:30:00

"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index(
        "ix_feedback_item_inbox_engagement",
        "feedback_item",
        ["engagement_id", "status", "submitted_at", "themes_reviewed_at"],
    )
    op.create_index(
        "ix_feedback_item_inbox_status",
        "feedback_item",
        ["status", "submitted_at", "themes_reviewed_at"],
    )
    op.create_index("ix_feedback_item_area", "feedback_item", ["area"])


def downgrade():
    op.drop_index("ix_feedback_item_area", table_name="feedback_item")
    op.drop_index("ix_feedback_item_inbox_status", table_name="feedback_item")
    op.drop_index("ix_feedback_item_inbox_engagement", table_name="feedback_item")
