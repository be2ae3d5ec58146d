"""fewer index entries: feedback_item's redundant indexes dropped, mostly-empty ones partial

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-06 01:30:00

Issue 25: each row the purge rewrites, and each row an import inserts, wrote an entry
in every one of feedback_item's 17 indexes. The indexes on engagement_id and on status
alone are the leading columns of ix_feedback_item_engagement_submitted and
ix_feedback_item_inbox_status, which serve the same lookups: dropped. The indexes of
columns that are empty on most rows (area after a purge, the web form's submission key,
duplicate groups) keep only the rows with a value, and the worker's two sweeps read
partial indexes of the few rows they look for (owed an acknowledgement, never
classified) instead of an index of the flag over every row.
"""

from alembic import op
import sqlalchemy as sa


revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

_TABLE = "feedback_item"


def _where(pg: str, lite: str | None = None) -> dict:
    return {"postgresql_where": sa.text(pg), "sqlite_where": sa.text(lite or pg)}


# (name, columns, unique, predicate): partial indexes made here.
_PARTIAL = (
    ("ix_feedback_item_area", ["area"], False, _where("area IS NOT NULL")),
    ("ix_feedback_item_submission_key", ["submission_key"], True, _where("submission_key IS NOT NULL")),
    ("ix_feedback_item_duplicate_group_id", ["duplicate_group_id"], False, _where("duplicate_group_id IS NOT NULL")),
    ("ix_feedback_item_ack_owed", ["id"], False, _where("ack_pending", "ack_pending = 1")),
    ("ix_feedback_item_unclassified", ["id"], False, _where("classified_at IS NULL")),
)
# (name, columns, unique): the full indexes of 0018 that this replaces or drops.
_FULL = (
    ("ix_feedback_item_engagement_id", ["engagement_id"], False),
    ("ix_feedback_item_status", ["status"], False),
    ("ix_feedback_item_area", ["area"], False),
    ("ix_feedback_item_submission_key", ["submission_key"], True),
    ("ix_feedback_item_duplicate_group_id", ["duplicate_group_id"], False),
    ("ix_feedback_item_ack_pending", ["ack_pending"], False),
    ("ix_feedback_item_classified_at", ["classified_at"], False),
)


def upgrade():
    for name, _, _ in _FULL:
        op.drop_index(name, table_name=_TABLE)
    for name, columns, unique, where in _PARTIAL:
        op.create_index(name, _TABLE, columns, unique=unique, **where)


def downgrade():
    for name, _, _, _ in _PARTIAL:
        op.drop_index(name, table_name=_TABLE)
    for name, columns, unique in _FULL:
        op.create_index(name, _TABLE, columns, unique=unique)
