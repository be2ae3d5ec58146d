"""themes reviewed whole: whether staff's last theme decision on an item covered all of it

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-06 22:20:00

Issue 18. The models page compares each model version's tags with the themes staff gave
the same items (engage.classify.agreement). A theme set on the item page or for a
campaign group is a decision about every theme; a bulk "add a theme" or "remove a theme"
from the inbox decides one theme and carries the model's other tags over as they were,
so counting it would score the model against itself. ``themes_reviewed_whole`` is true
after a whole decision and false after a bulk one. Items reviewed before this revision
are false: nothing says which kind their review was.
"""

from alembic import op
import sqlalchemy as sa


revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


# Not batch_alter_table: on SQLite that copies feedback_item into a new table and drops
# the old one, and with foreign keys on (engage.extensions) the drop deletes every row
# that cascades from it (theme tags, response links, notes). SQLite adds and drops a
# column in place (ALTER TABLE ... ADD / DROP COLUMN, SQLite 3.35 and later).


def upgrade():
    op.add_column(
        "feedback_item",
        sa.Column("themes_reviewed_whole", sa.Boolean(), nullable=False, server_default=sa.false()),
    )


def downgrade():
    op.drop_column("feedback_item", "themes_reviewed_whole")
