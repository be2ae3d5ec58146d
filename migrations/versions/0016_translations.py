"""translations: staff's English translation of an item, and translated staff content

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05 19:35:00

Issue 24. ``feedback_item.translation`` is the English translation staff add to an item
that is not in English (the original ``text`` is kept as it was); ``needs_translation``
marks an item whose language is not English and that has no translation yet, with a
partial index so the inbox can read those items first without scanning the others.
``engagement.translations`` and ``response.translations`` hold staff-written text in
other languages, as {locale: {field: text}}.
"""

from alembic import op
import sqlalchemy as sa


revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("feedback_item") as batch:
        batch.add_column(sa.Column("translation", sa.Text(), nullable=True))
        batch.add_column(sa.Column("translated_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("translated_by_id", sa.Integer(), nullable=True))
        batch.add_column(
            sa.Column("needs_translation", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.create_foreign_key(
            "fk_feedback_item_translated_by_id_staff_user",
            "staff_user",
            ["translated_by_id"],
            ["id"],
            ondelete="SET NULL",
        )
    op.create_index(
        "ix_feedback_item_needs_translation",
        "feedback_item",
        ["submitted_at", "id"],
        unique=False,
        postgresql_where=sa.text("needs_translation"),
        sqlite_where=sa.text("needs_translation = 1"),
    )
    with op.batch_alter_table("engagement") as batch:
        batch.add_column(sa.Column("translations", sa.JSON(), nullable=True))
    with op.batch_alter_table("response") as batch:
        batch.add_column(sa.Column("translations", sa.JSON(), nullable=True))


def downgrade():
    with op.batch_alter_table("response") as batch:
        batch.drop_column("translations")
    with op.batch_alter_table("engagement") as batch:
        batch.drop_column("translations")
    op.drop_index("ix_feedback_item_needs_translation", table_name="feedback_item")
    with op.batch_alter_table("feedback_item") as batch:
        batch.drop_constraint("fk_feedback_item_translated_by_id_staff_user", type_="foreignkey")
        batch.drop_column("needs_translation")
        batch.drop_column("translated_by_id")
        batch.drop_column("translated_at")
        batch.drop_column("translation")
