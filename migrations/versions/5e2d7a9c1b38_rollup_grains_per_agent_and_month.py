"""rollup grains per agent and month: the channel x ticket kind x region day rows (grain 7), and
the agent alone and with one or two other keys summed per calendar month (grains 24-30),
derived from the all-keys day rows already stored (reports.rollups.derive_grains, the code of
this revision); no column changes.

Revision ID: 5e2d7a9c1b38
Revises: e4b1c9d2a7f3
Create Date: 2026-11-27 10:55:00

"""
from alembic import op


revision = '5e2d7a9c1b38'
down_revision = 'e4b1c9d2a7f3'
branch_labels = None
depends_on = None


def upgrade():
    from reports.rollups import derive_grains
    derive_grains(op.get_bind())


def downgrade():
    # The earlier code reads grains 0, 1, 2, 4, 8 and 15 by day, which this revision keeps;
    # the rows it added are only dropped.
    op.execute("DELETE FROM response_rollups WHERE grain NOT IN (0, 1, 2, 4, 8, 15)")
    op.execute("DELETE FROM invitation_rollups WHERE grain NOT IN (0, 1, 2, 4, 8, 15)")
