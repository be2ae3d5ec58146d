"""deferred outbox messages: rendered when sent, from what the row keeps

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-06 01:40:00

Issue 25: acknowledgements were rendered when they were queued, three templates each,
which cost an import of 10,000 messages more than any other step. A row may now keep
what its email is made from (``deferred``: the item, the language) and be rendered by
the run that sends it.
"""

from alembic import op
import sqlalchemy as sa


revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("outbox_message", sa.Column("deferred", sa.JSON(), nullable=True))


def downgrade():
    with op.batch_alter_table("outbox_message") as batch_op:
        batch_op.drop_column("deferred")
