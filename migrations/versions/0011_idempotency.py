"""idempotency: partners' Idempotency-Key records and the web form's double-submit key

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05 14:30:00

``idempotency_key`` holds each partner's Idempotency-Key with the hash of the request
and the references it stored (written in the same transaction as the feedback).
``feedback_item.submission_key`` lets the web form find a post sent twice with one
index seek. Both are added without rebuilding feedback_item (ADD COLUMN and CREATE
INDEX), so SQLite's full-text triggers are untouched.
"""

import sqlalchemy as sa
from alembic import op

from engage.feedback import search

# revision identifiers, used by Alembic.
revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "idempotency_key",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("item_references", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["api_partner.id"],
            name=op.f("fk_idempotency_key_partner_id_api_partner"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idempotency_key")),
        sa.UniqueConstraint("partner_id", "key", name=op.f("uq_idempotency_key_partner_id")),
    )
    op.create_index(
        op.f("ix_idempotency_key_created_at"), "idempotency_key", ["created_at"], unique=False
    )
    op.add_column("feedback_item", sa.Column("submission_key", sa.String(length=64), nullable=True))
    op.create_index(
        "ix_feedback_item_submission_key", "feedback_item", ["submission_key"], unique=True
    )


def downgrade():
    op.drop_index("ix_feedback_item_submission_key", table_name="feedback_item")
    with op.batch_alter_table("feedback_item", schema=None) as batch_op:
        batch_op.drop_column("submission_key")
    # On SQLite the batch operation rebuilds feedback_item, dropping the full-text triggers.
    search.install(op.get_bind())
    op.drop_index(op.f("ix_idempotency_key_created_at"), table_name="idempotency_key")
    op.drop_table("idempotency_key")
