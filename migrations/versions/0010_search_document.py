"""search document: PostgreSQL keeps each item's text-search document in a stored column

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-23 16:10:00

The GIN index on the expression (0006) becomes a GIN index on a generated, stored
column, so the inbox can list the latest matches of a search by reading the table
backwards without working the document out again for each row. SQLite's FTS5 table is
unchanged.
"""

from alembic import op

from engage.feedback import search

# revision identifiers, used by Alembic.
revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_EXPRESSION_INDEX = (
    "CREATE INDEX IF NOT EXISTS ix_feedback_item_fulltext ON feedback_item "
    "USING gin ((to_tsvector('english', coalesce(subject, '') || ' ' || text)))"
)


def upgrade():
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        search.install(bind)  # idempotent: adds the column and its index, drops the old one


def downgrade():
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_feedback_item_search")
        op.execute("ALTER TABLE feedback_item DROP COLUMN IF EXISTS search_document")
        op.execute(_EXPRESSION_INDEX)
