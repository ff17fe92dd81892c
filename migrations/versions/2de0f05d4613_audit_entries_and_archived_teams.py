"""audit entries of administrative changes, and archived teams

``audit_entry``: one row per change made from the administration pages (units created,
renamed, moved; teams created, renamed, archived; leaders appointed and removed; a
person's sessions ended or their personal data erased): who, what, to which unit, team
or person, when, and details that never hold a person's name or phone.

``team.archived_at``: set when a team stops. Nullable and not backfilled: every team
existing now is running.

Plain CREATE TABLE / ADD COLUMN: SQLite and PostgreSQL both add a nullable column in
place, without copying the table.

Revision ID: 2de0f05d4613
Revises: 5e1f0c3a9b27
Create Date: 2026-12-06 06:06:31.898202

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '2de0f05d4613'
down_revision = '5e1f0c3a9b27'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'audit_entry',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('actor_id', sa.Integer(), nullable=True),
        sa.Column('action', sa.String(length=40), nullable=False),
        sa.Column('subject_type', sa.String(length=20), nullable=False),
        sa.Column('subject_id', sa.Integer(), nullable=False),
        sa.Column('details', sa.JSON(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ['actor_id'],
            ['person.id'],
            name=op.f('fk_audit_entry_actor_id_person'),
            ondelete='SET NULL',
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_entry')),
    )
    op.create_index('ix_audit_entry_subject', 'audit_entry', ['subject_type', 'subject_id'])
    op.add_column('team', sa.Column('archived_at', sa.DateTime(timezone=True), nullable=True))


def downgrade():
    op.drop_column('team', 'archived_at')
    op.drop_index('ix_audit_entry_subject', table_name='audit_entry')
    op.drop_table('audit_entry')
