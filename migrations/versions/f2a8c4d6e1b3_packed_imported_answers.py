"""packed imported answers: import-responses keeps a response's closed-question answers in its
row (responses.packed_answers) instead of one answers row each

Revision ID: f2a8c4d6e1b3
Revises: 5e2d7a9c1b38
Create Date: 2026-11-27 10:45:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'f2a8c4d6e1b3'
down_revision = '5e2d7a9c1b38'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('responses', schema=None) as batch_op:
        batch_op.add_column(sa.Column('packed_answers', sa.JSON(), nullable=True))


def downgrade():
    # The packed answers become answers rows again before their column goes.
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("""
            INSERT INTO answers (response_id, question_key, value_num, value_text, answered_at)
            SELECT r.id, a.key,
                   CASE WHEN json_typeof(a.value) = 'number' THEN (a.value #>> '{}')::float END,
                   CASE WHEN json_typeof(a.value) = 'string' THEN a.value #>> '{}' END,
                   coalesce(r.completed_at, r.started_at)
              FROM responses r, json_each(r.packed_answers) a
             WHERE r.packed_answers IS NOT NULL AND json_typeof(a.value) IN ('number', 'string')""")
    else:
        op.execute("""
            INSERT INTO answers (response_id, question_key, value_num, value_text, answered_at)
            SELECT r.id, a.key,
                   CASE WHEN a.type IN ('integer', 'real') THEN a.value END,
                   CASE WHEN a.type = 'text' THEN a.value END,
                   coalesce(r.completed_at, r.started_at)
              FROM responses r, json_each(r.packed_answers) a
             WHERE r.packed_answers IS NOT NULL AND a.type IN ('integer', 'real', 'text')""")
    with op.batch_alter_table('responses', schema=None) as batch_op:
        batch_op.drop_column('packed_answers')
