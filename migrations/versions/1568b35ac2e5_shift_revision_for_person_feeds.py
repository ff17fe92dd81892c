"""shift revision for person feeds

shift.revision and shift.changed_at: SEQUENCE and LAST-MODIFIED of a shift's entry in
person feeds, bumped only when what that entry shows changes, so editing one shift no
longer moves the entries of its event's other shifts. Existing shifts start from their
event's revision and last change, which is what their entries carried until now: no
entry's SEQUENCE goes down.

Revision ID: 1568b35ac2e5
Revises: 1aa7d5610a00
Create Date: 2026-12-02 13:33:57.069560

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '1568b35ac2e5'
down_revision = '1aa7d5610a00'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('shift', schema=None) as batch_op:
        batch_op.add_column(sa.Column('revision', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(
            sa.Column('changed_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False)
        )
    op.execute(
        "UPDATE shift SET"
        " revision = (SELECT event.revision FROM event WHERE event.id = shift.event_id),"
        " changed_at = (SELECT event.updated_at FROM event WHERE event.id = shift.event_id)"
    )


def downgrade():
    with op.batch_alter_table('shift', schema=None) as batch_op:
        batch_op.drop_column('changed_at')
        batch_op.drop_column('revision')
