"""form submissions: one-time form tokens

``form_submission``: the one-time token of a form that has been sent (starting a
call-out, creating an event), with who sent it and where the send led, so that a double
tap does the work once (submissions.py). Rows live a day; nothing to backfill.

Revision ID: 6d31e595e3a6
Revises: 41292ef48e3b
Create Date: 2026-12-06 23:15:47.434183

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '6d31e595e3a6'
down_revision = '41292ef48e3b'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'form_submission',
        sa.Column('token', sa.String(length=22), nullable=False),
        sa.Column('person_id', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('location', sa.String(length=300), nullable=True),
        sa.ForeignKeyConstraint(
            ['person_id'],
            ['person.id'],
            name=op.f('fk_form_submission_person_id_person'),
            ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('token', name=op.f('pk_form_submission')),
    )
    op.create_index(
        op.f('ix_form_submission_person_id'), 'form_submission', ['person_id'], unique=False
    )


def downgrade():
    op.drop_index(op.f('ix_form_submission_person_id'), table_name='form_submission')
    op.drop_table('form_submission')
