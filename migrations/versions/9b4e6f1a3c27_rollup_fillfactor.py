"""rollup pages keep room for updates: response_rollups and invitation_rollups get fillfactor 60,
so adding to a row is a HOT update (no index entries) on PostgreSQL; nothing changes on SQLite

Revision ID: 9b4e6f1a3c27
Revises: f2a8c4d6e1b3
Create Date: 2026-11-27 14:30:00

"""
from alembic import op


revision = '9b4e6f1a3c27'
down_revision = 'f2a8c4d6e1b3'
branch_labels = None
depends_on = None

TABLES = ('response_rollups', 'invitation_rollups')


def upgrade():
    # Pages written from now on keep the room; rows already stored move there as they change.
    if op.get_bind().dialect.name == 'postgresql':
        for table in TABLES:
            op.execute(f'ALTER TABLE {table} SET (fillfactor = 60)')


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        for table in TABLES:
            op.execute(f'ALTER TABLE {table} RESET (fillfactor)')
