"""revocable sessions, two-factor login, recovery codes, hash-chained audit log

Revision ID: a7c1e5d2b9f0
Revises: 8dd7dd207df9
Create Date: 2026-11-27 03:30:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'a7c1e5d2b9f0'
down_revision = '8dd7dd207df9'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_version', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('password_changed_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('totp_secret', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('totp_confirmed_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('totp_last_step', sa.Integer(), nullable=True))
    op.create_table(
        'recovery_codes',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('code_hash', sa.String(length=64), nullable=False),
        sa.Column('used_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_recovery_codes_user_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_recovery_codes')),
    )
    with op.batch_alter_table('recovery_codes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_recovery_codes_user_id'), ['user_id'], unique=False)
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('prev_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('row_hash', sa.String(length=64), nullable=True))
    _chain_existing_audit_rows()


def _chain_existing_audit_rows():
    """Rows written before the chain existed are chained now, in id order."""
    from core.accounts import audit_digest

    bind = op.get_bind()
    table = sa.table('audit_events', sa.column('id', sa.Integer), sa.column('at', sa.DateTime),
                     sa.column('user_id', sa.Integer), sa.column('action', sa.String),
                     sa.column('target', sa.String), sa.column('details', sa.JSON),
                     sa.column('prev_hash', sa.String), sa.column('row_hash', sa.String))
    prev = None
    for row in bind.execute(sa.select(table).order_by(table.c.id)).all():
        digest = audit_digest(prev, row.at, row.user_id, row.action, row.target, row.details)
        bind.execute(table.update().where(table.c.id == row.id).values(prev_hash=prev, row_hash=digest))
        prev = digest


def downgrade():
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_column('row_hash')
        batch_op.drop_column('prev_hash')
    with op.batch_alter_table('recovery_codes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_recovery_codes_user_id'))
    op.drop_table('recovery_codes')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('totp_last_step')
        batch_op.drop_column('totp_confirmed_at')
        batch_op.drop_column('totp_secret')
        batch_op.drop_column('password_changed_at')
        batch_op.drop_column('session_version')
