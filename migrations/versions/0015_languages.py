"""languages: the detected language of each item and the interface language used

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05 19:40:00

"""
from alembic import op
import sqlalchemy as sa


revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("feedback_item") as batch:
        batch.add_column(sa.Column("language", sa.String(length=12), nullable=True))
        batch.add_column(sa.Column("ui_locale", sa.String(length=12), nullable=True))
        batch.create_index("ix_feedback_item_language", ["language"], unique=False)


def downgrade():
    with op.batch_alter_table("feedback_item") as batch:
        batch.drop_index("ix_feedback_item_language")
        batch.drop_column("ui_locale")
        batch.drop_column("language")
