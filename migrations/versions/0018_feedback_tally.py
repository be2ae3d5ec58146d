"""feedback_tally: feedback counted per engagement, day, kind and key (issue 25)

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-05 23:00:00

The dashboard and the public figures add these rows up instead of counting every item.
The table is filled from the items here (engage.feedback.tally.REBUILD, portable SQL)
and kept exact from then on by the writes that change an item's counts.
"""
from alembic import op
import sqlalchemy as sa

from engage.feedback.tally import REBUILD


revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "feedback_tally",
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("engagement_key", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("key", sa.String(length=120), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("spam", sa.Integer(), nullable=False),
        sa.Column("duplicate", sa.Integer(), nullable=False),
        sa.Column("responded", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("kind", "engagement_key", "day", "key", name=op.f("pk_feedback_tally")),
    )
    for statement in REBUILD:
        op.execute(statement)


def downgrade():
    op.drop_table("feedback_tally")
