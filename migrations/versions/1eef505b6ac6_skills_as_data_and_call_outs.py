"""skills as data and call-outs

skill and person_skill: skills people can be matched on (a call-out asks for "one of
these"), seeded with the skills flood and rescue call-outs ask for, and filled from
today's free-text person.skills, split on what people type between skills
(，,、;；/ and spaces); words not in the list become skills too. person.skills stays
for now: the member page and the roster import move over in a later step, which drops it.

callout, callout_shift, callout_ring, callout_recipient: the flood-duty call-out
(volunteer_hub.callouts). New tables only, nothing to backfill.

Revision ID: 1eef505b6ac6
Revises: ee80d6b6022c
Create Date: 2026-12-06 03:23:17.840481

"""

import re

from alembic import op
import sqlalchemy as sa

SEEDED_SKILLS = ("水上救援", "冲锋舟驾驶", "急救", "驾驶", "无人机", "电工", "讲解", "医疗", "通信")
# A frozen copy of people.skills: a migration must mean the same thing when that changes.
SEPARATORS = re.compile(r"[，,、;；/／\s]+")
NAME_LENGTH = 30


# revision identifiers, used by Alembic.
revision = "1eef505b6ac6"
down_revision = "ee80d6b6022c"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "skill",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=30), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_skill")),
        sa.UniqueConstraint("name", name=op.f("uq_skill_name")),
    )
    op.create_table(
        "person_skill",
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("skill_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["person.id"],
            name=op.f("fk_person_skill_person_id_person"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["skill_id"],
            ["skill.id"],
            name=op.f("fk_person_skill_skill_id_skill"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("person_id", "skill_id", name=op.f("pk_person_skill")),
    )
    with op.batch_alter_table("person_skill", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_person_skill_skill_id"), ["skill_id"], unique=False)
    _copy_free_text_skills()

    op.create_table(
        "callout",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("code", sa.String(length=8), nullable=False),
        sa.Column("message", sa.Text(), server_default="", nullable=False),
        sa.Column("is_urgent", sa.Boolean(), nullable=False),
        sa.Column("skills", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["person.id"],
            name=op.f("fk_callout_created_by_id_person"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["event_id"], ["event.id"], name=op.f("fk_callout_event_id_event"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_callout")),
    )
    with op.batch_alter_table("callout", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_callout_event_id"), ["event_id"], unique=False)
        batch_op.create_index("ix_callout_status", ["status"], unique=False)
        batch_op.create_index(
            "uq_callout_code_active",
            ["code"],
            unique=True,
            postgresql_where=sa.text("status = 'active'"),
            sqlite_where=sa.text("status = 'active'"),
        )

    op.create_table(
        "callout_ring",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("callout_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("team_ids", sa.JSON(), nullable=True),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("after_minutes", sa.Integer(), nullable=False),
        sa.Column("fires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("fired_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("texted", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["callout_id"],
            ["callout.id"],
            name=op.f("fk_callout_ring_callout_id_callout"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["unit.id"], name=op.f("fk_callout_ring_unit_id_unit"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_callout_ring")),
        sa.UniqueConstraint("callout_id", "number", name=op.f("uq_callout_ring_callout_id_number")),
    )
    with op.batch_alter_table("callout_ring", schema=None) as batch_op:
        batch_op.create_index(
            "ix_callout_ring_due",
            ["fires_at"],
            unique=False,
            postgresql_where=sa.text("fired_at IS NULL"),
            sqlite_where=sa.text("fired_at IS NULL"),
        )

    op.create_table(
        "callout_shift",
        sa.Column("callout_id", sa.Integer(), nullable=False),
        sa.Column("shift_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["callout_id"],
            ["callout.id"],
            name=op.f("fk_callout_shift_callout_id_callout"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["shift_id"],
            ["shift.id"],
            name=op.f("fk_callout_shift_shift_id_shift"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("callout_id", "shift_id", name=op.f("pk_callout_shift")),
    )
    with op.batch_alter_table("callout_shift", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_callout_shift_shift_id"), ["shift_id"], unique=False)

    op.create_table(
        "callout_recipient",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("callout_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("ring", sa.Integer(), nullable=False),
        sa.Column("texted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answer", sa.String(length=20), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("signup_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["callout_id"],
            ["callout.id"],
            name=op.f("fk_callout_recipient_callout_id_callout"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["person.id"],
            name=op.f("fk_callout_recipient_person_id_person"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["signup_id"],
            ["signup.id"],
            name=op.f("fk_callout_recipient_signup_id_signup"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_callout_recipient")),
        sa.UniqueConstraint(
            "callout_id", "person_id", name=op.f("uq_callout_recipient_callout_id_person_id")
        ),
    )
    with op.batch_alter_table("callout_recipient", schema=None) as batch_op:
        batch_op.create_index("ix_callout_recipient_person_id", ["person_id"], unique=False)


def _copy_free_text_skills():
    connection = op.get_bind()
    skill = sa.table("skill", sa.column("id", sa.Integer), sa.column("name", sa.String))
    person_skill = sa.table(
        "person_skill", sa.column("person_id", sa.Integer), sa.column("skill_id", sa.Integer)
    )
    held = {}
    for person_id, text in connection.execute(
        sa.text("SELECT id, skills FROM person WHERE skills <> '' ORDER BY id")
    ):
        names = {part[:NAME_LENGTH]: None for part in SEPARATORS.split(text) if part}
        held[person_id] = list(names)
    names = list(SEEDED_SKILLS) + sorted(
        {name for names in held.values() for name in names} - set(SEEDED_SKILLS)
    )
    op.bulk_insert(skill, [{"name": name} for name in names])
    ids = dict(connection.execute(sa.select(skill.c.name, skill.c.id)).all())
    rows = [
        {"person_id": person_id, "skill_id": ids[name]}
        for person_id, names in held.items()
        for name in names
    ]
    for start in range(0, len(rows), 1000):
        op.bulk_insert(person_skill, rows[start : start + 1000])


def downgrade():
    with op.batch_alter_table("callout_recipient", schema=None) as batch_op:
        batch_op.drop_index("ix_callout_recipient_person_id")

    op.drop_table("callout_recipient")
    with op.batch_alter_table("callout_shift", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_callout_shift_shift_id"))

    op.drop_table("callout_shift")
    with op.batch_alter_table("callout_ring", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_callout_ring_due",
            postgresql_where=sa.text("fired_at IS NULL"),
            sqlite_where=sa.text("fired_at IS NULL"),
        )

    op.drop_table("callout_ring")
    with op.batch_alter_table("callout", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_callout_code_active",
            postgresql_where=sa.text("status = 'active'"),
            sqlite_where=sa.text("status = 'active'"),
        )
        batch_op.drop_index("ix_callout_status")
        batch_op.drop_index(batch_op.f("ix_callout_event_id"))

    op.drop_table("callout")
    with op.batch_alter_table("person_skill", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_person_skill_skill_id"))

    op.drop_table("person_skill")
    op.drop_table("skill")
