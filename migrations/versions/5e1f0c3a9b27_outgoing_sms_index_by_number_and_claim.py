"""outgoing sms: an index by number and claim time, for the per-recipient caps

Before each hand-over the send path counts the texts one number got in the last hour
and on the local day (SMS_RECIPIENT_HOURLY_CAP / SMS_RECIPIENT_DAILY_CAP, sms/limits.py),
by when they were claimed. Without an index that count reads the whole outbox once per
text. Nothing to backfill: ``claimed_at`` is already set on every row a worker claimed.

Revision ID: 5e1f0c3a9b27
Revises: c8ead0ce57f5
Create Date: 2026-12-06 06:40:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '5e1f0c3a9b27'
down_revision = 'c8ead0ce57f5'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index(
        'ix_outgoing_sms_to_phone_claimed_at', 'outgoing_sms', ['to_phone', 'claimed_at']
    )


def downgrade():
    op.drop_index('ix_outgoing_sms_to_phone_claimed_at', table_name='outgoing_sms')
