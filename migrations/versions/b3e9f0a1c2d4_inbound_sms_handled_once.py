"""inbound SMS handled once: a Twilio MessageSid is unique among inbound messages

Revision ID: b3e9f0a1c2d4
Revises: b7c3e1a2d4f5
Create Date: 2026-11-27 04:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'b3e9f0a1c2d4'
down_revision = 'b7c3e1a2d4f5'
branch_labels = None
depends_on = None

INBOUND = sa.text("direction = 'in'")


def upgrade():
    op.create_index("ux_messages_inbound_provider_id", "messages", ["provider_id"], unique=True,
                    postgresql_where=INBOUND, sqlite_where=INBOUND)


def downgrade():
    op.drop_index("ux_messages_inbound_provider_id", table_name="messages")
