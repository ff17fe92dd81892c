"""outgoing sms: the template key and the variables beside the rendered text

Every outgoing text is now rendered from a template of the catalogue (sms/catalogue.py).
The outbox row keeps the key and the variables as sent, so a template backend (Aliyun,
Tencent Cloud) can send the provider's approved template with them while the console
and Twilio send the body. Both columns are nullable: rows written before this migration
have a body only, and nothing is backfilled (they were sent long ago or are replies).

Plain ADD/DROP COLUMN rather than a batch copy of the table: SQLite (3.35+) and
PostgreSQL both do it in place, and a copy would have to rebuild the outbox's partial
index.

Revision ID: c8ead0ce57f5
Revises: 1eef505b6ac6
Create Date: 2026-12-06 03:22:36.426276

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c8ead0ce57f5'
down_revision = '1eef505b6ac6'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('outgoing_sms', sa.Column('template_key', sa.String(length=60), nullable=True))
    op.add_column('outgoing_sms', sa.Column('template_vars', sa.JSON(), nullable=True))


def downgrade():
    op.drop_column('outgoing_sms', 'template_vars')
    op.drop_column('outgoing_sms', 'template_key')
