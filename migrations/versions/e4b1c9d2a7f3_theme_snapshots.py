"""theme snapshots: discovered comment themes computed by the scheduler, read by requests

Revision ID: e4b1c9d2a7f3
Revises: 7a1e5c0b9d42
Create Date: 2026-11-27 08:15:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'e4b1c9d2a7f3'
down_revision = '7a1e5c0b9d42'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('theme_snapshots',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('date_from', sa.Date(), nullable=False),
    sa.Column('date_to', sa.Date(), nullable=False),
    sa.Column('filter_key', sa.String(length=300), nullable=False),
    sa.Column('comments', sa.Integer(), nullable=False),
    sa.Column('themes_json', sa.Text(), nullable=True),
    sa.Column('computed_at', sa.DateTime(), nullable=True),
    sa.Column('requested_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_theme_snapshots')),
    sa.UniqueConstraint('date_from', 'date_to', 'filter_key', name='uq_theme_snapshots_scope')
    )


def downgrade():
    op.drop_table('theme_snapshots')
