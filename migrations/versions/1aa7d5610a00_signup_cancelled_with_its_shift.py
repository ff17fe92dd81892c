"""signup cancelled with its shift

signup.cancelled_with_shift: the signup ended because the organizer cancelled the shift
or the event, so the person's calendar feed keeps the shift, marked cancelled, instead
of dropping it. Not backfilled: nothing recorded why older signups ended, and a signup
the person had cancelled themselves must not come back into their calendar.

Revision ID: 1aa7d5610a00
Revises: a3c5e7f90b12
Create Date: 2026-12-02 13:10:57.299308

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '1aa7d5610a00'
down_revision = 'a3c5e7f90b12'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('signup', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('cancelled_with_shift', sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade():
    with op.batch_alter_table('signup', schema=None) as batch_op:
        batch_op.drop_column('cancelled_with_shift')
