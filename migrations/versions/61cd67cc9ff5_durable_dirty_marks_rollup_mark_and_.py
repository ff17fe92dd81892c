"""durable dirty marks: rollup_mark and feed_change

Derived data is marked stale in the transaction of the change, so that a lost
after-commit message no longer leaves it wrong: ``rollup_mark`` holds the hour roll-up
keys owed a recompute (one row per key, cleared by the recompute when its ``version``
is unchanged), ``feed_change`` the changes the calendar feeds have not taken in yet
(one row per change, deleted once its feeds are marked stale). The scheduler's tick
sends the work again for rows older than a minute.

Both start empty: what was derived before the upgrade is taken as current. Messages
queued for the removed ``signup_touched`` actor at the moment of the deploy are lost;
``flask feeds rebuild`` once after the upgrade covers them. No foreign keys: the rows
are short-lived notes, and a key or an event gone meanwhile is a no-op for the worker.

Revision ID: 61cd67cc9ff5
Revises: fd030e63f388
Create Date: 2026-12-06 02:45:13.170880

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '61cd67cc9ff5'
down_revision = 'fd030e63f388'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'feed_change',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('event_id', sa.Integer(), nullable=False),
        sa.Column('person_ids', sa.JSON(), nullable=False),
        sa.Column('old_category_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_feed_change')),
    )
    with op.batch_alter_table('feed_change', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_feed_change_created_at'), ['created_at'], unique=False)

    op.create_table(
        'rollup_mark',
        sa.Column('person_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('team_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('category_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('month', sa.Date(), nullable=False),
        sa.Column('marked_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('version', sa.Integer(), server_default='1', nullable=False),
        sa.PrimaryKeyConstraint(
            'person_id', 'team_id', 'category_id', 'month', name=op.f('pk_rollup_mark')
        ),
    )
    with op.batch_alter_table('rollup_mark', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rollup_mark_marked_at'), ['marked_at'], unique=False)


def downgrade():
    with op.batch_alter_table('rollup_mark', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rollup_mark_marked_at'))
    op.drop_table('rollup_mark')

    with op.batch_alter_table('feed_change', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_feed_change_created_at'))
    op.drop_table('feed_change')
