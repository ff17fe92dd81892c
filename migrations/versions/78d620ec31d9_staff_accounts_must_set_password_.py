"""staff accounts: must_set_password and password resets

Issue 13 makes staff accounts from the web:
- ``person.must_set_password``: the password was set by someone else (an account made
  or reset by an admin or coordinator); every staff page leads to choosing one's own
  until it is done. NOT NULL with a server default of false: existing accounts chose
  their passwords themselves (or on the command line), nothing to backfill.
- ``password_reset``: the codes texted to staff who forgot their password, the same
  columns as ``login_code`` (texted_codes.CodeColumns: only a keyed hash of the code).

Plain ADD/DROP COLUMN on person rather than a batch copy of the table: SQLite (3.35+)
and PostgreSQL both do it in place.

Revision ID: 78d620ec31d9
Revises: 2de0f05d4613
Create Date: 2026-12-06 06:06:15.638145

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '78d620ec31d9'
down_revision = '2de0f05d4613'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('password_reset',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('failed_attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], name=op.f('fk_password_reset_person_id_person'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_password_reset'))
    )
    with op.batch_alter_table('password_reset', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_password_reset_person_id'), ['person_id'], unique=False)

    op.add_column('person', sa.Column('must_set_password', sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade():
    op.drop_column('person', 'must_set_password')

    with op.batch_alter_table('password_reset', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_password_reset_person_id'))

    op.drop_table('password_reset')
