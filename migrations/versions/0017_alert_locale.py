"""alert_locale: the language an address asked for alerts in

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05 20:40:00

"""
from alembic import op
import sqlalchemy as sa


revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("alert_subscription") as batch:
        batch.add_column(sa.Column("locale", sa.String(length=12), nullable=True))


def downgrade():
    with op.batch_alter_table("alert_subscription") as batch:
        batch.drop_column("locale")
