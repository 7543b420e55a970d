"""questionnaire routes by ticket kind and channel; draft and published versions

Revision ID: 7a1e5c0b9d42
Revises: 61c5a3f79f45
Create Date: 2026-11-27 03:45:00

"""
from alembic import op
import sqlalchemy as sa


revision = '7a1e5c0b9d42'
down_revision = '61c5a3f79f45'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('questionnaire_routes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ticket_kind', sa.String(length=16), nullable=False),
    sa.Column('channel', sa.String(length=10), nullable=False),
    sa.Column('questionnaire_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['questionnaire_id'], ['questionnaires.id'], name=op.f('fk_questionnaire_routes_questionnaire_id_questionnaires')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_questionnaire_routes')),
    sa.UniqueConstraint('ticket_kind', 'channel', name=op.f('uq_questionnaire_routes_ticket_kind'))
    )
    with op.batch_alter_table('questionnaire_versions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('published_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('created_by_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_questionnaire_versions_created_by_id_users'), 'users', ['created_by_id'], ['id'])
    # Every version written before drafts existed was in use: published when it was made.
    op.execute("UPDATE questionnaire_versions SET published_at = created_at")


def downgrade():
    with op.batch_alter_table('questionnaire_versions', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_questionnaire_versions_created_by_id_users'), type_='foreignkey')
        batch_op.drop_column('created_by_id')
        batch_op.drop_column('published_at')
    op.drop_table('questionnaire_routes')
