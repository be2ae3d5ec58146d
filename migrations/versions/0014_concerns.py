"""concerns: the worries found inside a theme, steered by staff

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05 17:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('concern',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('engagement_id', sa.Integer(), nullable=False),
    sa.Column('theme_id', sa.Integer(), nullable=False),
    sa.Column('label', sa.String(length=200), nullable=False),
    sa.Column('draft', sa.Text(), nullable=False),
    sa.Column('edited_at', sa.DateTime(), nullable=True),
    sa.Column('hidden', sa.Boolean(), nullable=False),
    sa.Column('is_new_group', sa.Boolean(), nullable=False),
    sa.Column('centroid', sa.JSON(), nullable=True),
    sa.Column('central_ids', sa.JSON(), nullable=True),
    sa.Column('response_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['engagement_id'], ['engagement.id'], name=op.f('fk_concern_engagement_id_engagement'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['response_id'], ['response.id'], name=op.f('fk_concern_response_id_response'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['theme_id'], ['theme.id'], name=op.f('fk_concern_theme_id_theme'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_concern'))
    )
    op.create_index('ix_concern_engagement_theme', 'concern', ['engagement_id', 'theme_id'], unique=False)
    op.create_table('concern_item',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('concern_id', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('theme_id', sa.Integer(), nullable=False),
    sa.Column('placed_by', sa.String(length=10), nullable=False),
    sa.ForeignKeyConstraint(['concern_id'], ['concern.id'], name=op.f('fk_concern_item_concern_id_concern'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['item_id'], ['feedback_item.id'], name=op.f('fk_concern_item_item_id_feedback_item'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['theme_id'], ['theme.id'], name=op.f('fk_concern_item_theme_id_theme'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_concern_item')),
    sa.UniqueConstraint('item_id', 'theme_id', name=op.f('uq_concern_item_item_id'))
    )
    with op.batch_alter_table('concern_item', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_concern_item_concern_id'), ['concern_id'], unique=False)


def downgrade():
    with op.batch_alter_table('concern_item', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_concern_item_concern_id'))
    op.drop_table('concern_item')
    op.drop_index('ix_concern_engagement_theme', table_name='concern')
    op.drop_table('concern')
