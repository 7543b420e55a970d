"""sealed secrets: webhook signing secrets and second-factor seeds are stored encrypted under
the data keys (core/sealing.py); the columns widen to hold the sealed text

Revision ID: 3d8f2c6a9e14
Revises: 9b4e6f1a3c27
Create Date: 2026-11-27 17:10:00

"""
import sqlalchemy as sa
from alembic import op

revision = '3d8f2c6a9e14'
down_revision = '9b4e6f1a3c27'
branch_labels = None
depends_on = None

# (table, column, its width before)
COLUMNS = (('webhook_endpoints', 'secret', 80), ('users', 'totp_secret', 32))


def _rewrite(convert) -> None:
    """Every stored value of COLUMNS through `convert`, under the running app's data keys."""
    from flask import current_app

    from core.sealing import data_keys
    keys, connection = data_keys(current_app.config), op.get_bind()
    for table, column, _width in COLUMNS:
        rows = connection.execute(sa.text(f'SELECT id, {column} FROM {table} WHERE {column} IS NOT NULL')).all()
        for row_id, value in rows:
            connection.execute(sa.text(f'UPDATE {table} SET {column} = :value WHERE id = :id'),
                               {'value': convert(value, keys), 'id': row_id})


def upgrade():
    for table, column, width in COLUMNS:
        with op.batch_alter_table(table) as batch_op:
            batch_op.alter_column(column, existing_type=sa.String(length=width), type_=sa.String(length=255))
    from core.sealing import seal
    _rewrite(seal)


def downgrade():
    from core.sealing import unseal
    _rewrite(unseal)
    for table, column, width in COLUMNS:
        with op.batch_alter_table(table) as batch_op:
            batch_op.alter_column(column, existing_type=sa.String(length=255), type_=sa.String(length=width))
