"""responses by respondent: import-responses looks up repeats of (respondent, answered_at)

Revision ID: b7c3e1a2d4f5
Revises: c1f47169689a
Create Date: 2026-11-27 03:40:00

"""
from alembic import op


revision = 'b7c3e1a2d4f5'
down_revision = 'c1f47169689a'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('responses', schema=None) as batch_op:
        batch_op.create_index('ix_responses_respondent', ['respondent', 'completed_at'], unique=False)


def downgrade():
    with op.batch_alter_table('responses', schema=None) as batch_op:
        batch_op.drop_index('ix_responses_respondent')
