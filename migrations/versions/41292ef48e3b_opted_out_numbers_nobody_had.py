"""opted-out numbers nobody had

``opted_out_number``: a number no person had that texted an opt-out word (TD, 退订,
STOP …), or that the provider reported unsubscribed on a reply to it. Carriers require
the stop for the number, so every text to it is refused, and a person later given the
number starts opted out since then (sms/number_opt_outs.py). Keyed by the number: a
second opt-out keeps the first's time and word. Nothing to backfill: such opt-outs
were not kept before.

Revision ID: 41292ef48e3b
Revises: 78d620ec31d9
Create Date: 2026-12-06 20:41:17.513215

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '41292ef48e3b'
down_revision = '78d620ec31d9'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'opted_out_number',
        sa.Column('phone', sa.String(length=20), nullable=False),
        sa.Column('opted_out_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('channel', sa.String(length=20), nullable=False),
        sa.Column('keyword', sa.String(length=30), nullable=True),
        sa.PrimaryKeyConstraint('phone', name=op.f('pk_opted_out_number')),
    )


def downgrade():
    op.drop_table('opted_out_number')
