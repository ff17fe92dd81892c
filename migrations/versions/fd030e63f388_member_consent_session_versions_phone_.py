"""member consent, session versions, phone change codes, open events

The schema of the hardening issue (#11):
- team_invitation: a leader adding a phone that belongs to someone already registered
  invites them; they join only when they accept (one pending invitation per team and
  person, a partial unique index).
- phone_change: a new phone number waits here for the code texted to it.
- person.session_version: part of every session's user id; bumping it ends every
  session and remember cookie of the person. 0 for everyone: cookies issued before this
  migration carry no version and are refused once, so everyone logs in again.
- event.open_to_all (公开招募): anyone may sign up by code. Existing events become
  members-only, the safe side of the new rule; a leader opens flood duty by editing it.

Revision ID: fd030e63f388
Revises: 1568b35ac2e5
Create Date: 2026-12-02 18:42:10.398543

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'fd030e63f388'
down_revision = '1568b35ac2e5'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('phone_change',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('new_phone', sa.String(length=20), nullable=False),
    sa.Column('requested_by_id', sa.Integer(), nullable=True),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('failed_attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('confirmed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], name=op.f('fk_phone_change_person_id_person'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['requested_by_id'], ['person.id'], name=op.f('fk_phone_change_requested_by_id_person'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_phone_change'))
    )
    with op.batch_alter_table('phone_change', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_phone_change_person_id'), ['person_id'], unique=False)

    op.create_table('team_invitation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('team_id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('invited_by_id', sa.Integer(), nullable=True),
    sa.Column('name_given', sa.String(length=50), server_default='', nullable=False),
    sa.Column('status', sa.String(length=20), server_default='pending', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decided_via', sa.String(length=10), nullable=True),
    sa.ForeignKeyConstraint(['invited_by_id'], ['person.id'], name=op.f('fk_team_invitation_invited_by_id_person'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], name=op.f('fk_team_invitation_person_id_person'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['team_id'], ['team.id'], name=op.f('fk_team_invitation_team_id_team'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_team_invitation'))
    )
    with op.batch_alter_table('team_invitation', schema=None) as batch_op:
        batch_op.create_index('ix_team_invitation_person_id_status', ['person_id', 'status'], unique=False)
        batch_op.create_index('uq_team_invitation_pending', ['team_id', 'person_id'], unique=True, sqlite_where=sa.text("status = 'pending'"), postgresql_where=sa.text("status = 'pending'"))

    with op.batch_alter_table('event', schema=None) as batch_op:
        batch_op.add_column(sa.Column('open_to_all', sa.Boolean(), server_default=sa.false(), nullable=False))

    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_version', sa.Integer(), server_default='0', nullable=False))



def downgrade():
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.drop_column('session_version')

    with op.batch_alter_table('event', schema=None) as batch_op:
        batch_op.drop_column('open_to_all')

    with op.batch_alter_table('team_invitation', schema=None) as batch_op:
        batch_op.drop_index('uq_team_invitation_pending', sqlite_where=sa.text("status = 'pending'"), postgresql_where=sa.text("status = 'pending'"))
        batch_op.drop_index('ix_team_invitation_person_id_status')

    op.drop_table('team_invitation')
    with op.batch_alter_table('phone_change', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_phone_change_person_id'))

    op.drop_table('phone_change')
