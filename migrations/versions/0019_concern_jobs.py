"""concern_job: a theme's grouping owed to the worker (issue 27)

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06 01:30:00

The first grouping of a large theme takes tens of seconds: too long for a web request.
Staff's request now queues a row here and a worker claims it (engage.concerns.jobs).
"""

from alembic import op
import sqlalchemy as sa


revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "concern_job",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("engagement_id", sa.Integer(), nullable=False),
        sa.Column("theme_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("rediscover", sa.Boolean(), nullable=False),
        sa.Column("items", sa.Integer(), nullable=False),
        sa.Column("progress", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("requested_by", sa.String(length=254), nullable=True),
        sa.Column("requested_at", sa.DateTime(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=True),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("not_before", sa.DateTime(), nullable=True),
        sa.Column("claim_token", sa.String(length=32), nullable=True),
        sa.Column("claimed_until", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["engagement_id"],
            ["engagement.id"],
            name=op.f("fk_concern_job_engagement_id_engagement"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["theme_id"],
            ["theme.id"],
            name=op.f("fk_concern_job_theme_id_theme"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_concern_job")),
        sa.UniqueConstraint("engagement_id", "theme_id", name=op.f("uq_concern_job_engagement_id")),
    )
    with op.batch_alter_table("concern_job", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_concern_job_state"), ["state"], unique=False)


def downgrade():
    with op.batch_alter_table("concern_job", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_concern_job_state"))
    op.drop_table("concern_job")
