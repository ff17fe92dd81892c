"""Skills as data: a list of skills (水上救援, 冲锋舟驾驶, 急救 …) and who has which.

A call-out may ask for "one of these skills", which needs skills people can be matched
on rather than free text. ``person.skills`` (free text) stays for now, as typed: the
migration that created these tables copied it in with :func:`split_skills`, and every
place that writes it (the member form, the API, the roster import) also gives the person
these skills (:func:`give_skills`), so a call-out's filter finds them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from sqlalchemy import String, select
from sqlalchemy.orm import Mapped, mapped_column

from volunteer_hub.db import Base, dialect_insert, link_key
from volunteer_hub.extensions import db

#: the skills a flood or rescue call-out asks for most; the migration seeds them
SEEDED_SKILLS = ("水上救援", "冲锋舟驾驶", "急救", "驾驶", "无人机", "电工", "讲解", "医疗", "通信")
#: what people put between skills when they type them: ，,、;；/ and spaces
_SEPARATORS = re.compile(r"[，,、;；/／\s]+")
NAME_LENGTH = 30


class Skill(Base):
    __tablename__ = "skill"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH), unique=True)


class PersonSkill(Base):
    __tablename__ = "person_skill"

    person_id: Mapped[int] = link_key("person.id")
    #: indexed for "who has this skill" (the call-out's filter)
    skill_id: Mapped[int] = link_key("skill.id", index=True)


def split_skills(text: str | None) -> list[str]:
    """ "驾驶、急救 水上救援" → ["驾驶", "急救", "水上救援"]: distinct, in order, each cut
    to the column's length."""
    seen: dict[str, None] = {}
    for part in _SEPARATORS.split(text or ""):
        if part:
            seen.setdefault(part[:NAME_LENGTH], None)
    return list(seen)


def skill_ids(names: Iterable[str], *, create: bool = False) -> dict[str, int]:
    """Name → id of the named skills; ``create`` adds the ones not there yet (a roster
    import or a member page may name a new skill; a call-out filter may not)."""
    wanted = {name.strip()[:NAME_LENGTH] for name in names if name and name.strip()}
    if not wanted:
        return {}
    if create:
        db.session.execute(
            dialect_insert(db.session, Skill)
            .values([{"name": name} for name in sorted(wanted)])
            .on_conflict_do_nothing(index_elements=[Skill.name])
        )
    return dict(
        db.session.execute(select(Skill.name, Skill.id).where(Skill.name.in_(wanted))).all()
    )


def set_skills(person_id: int, names: Iterable[str]) -> None:
    """Give the person exactly these skills (new names become skills)."""
    ids = set(skill_ids(names, create=True).values())
    db.session.execute(
        PersonSkill.__table__.delete().where(
            PersonSkill.person_id == person_id, PersonSkill.skill_id.not_in(ids)
        )
    )
    if ids:
        db.session.execute(
            dialect_insert(db.session, PersonSkill)
            .values([{"person_id": person_id, "skill_id": skill_id} for skill_id in sorted(ids)])
            .on_conflict_do_nothing(index_elements=[PersonSkill.person_id, PersonSkill.skill_id])
        )


def give_skills(typed_by_person: dict[int, str]) -> None:
    """Add the skills typed for each person (free text, split with :func:`split_skills`),
    for many people in a few statements (a roster import of a whole district)."""
    names_by_person = {pid: split_skills(text) for pid, text in typed_by_person.items()}
    ids = skill_ids({n for names in names_by_person.values() for n in names}, create=True)
    rows = [
        {"person_id": pid, "skill_id": ids[name]}
        for pid, names in names_by_person.items()
        for name in names
        if name in ids
    ]
    if rows:
        db.session.execute(
            dialect_insert(db.session, PersonSkill).on_conflict_do_nothing(
                index_elements=[PersonSkill.person_id, PersonSkill.skill_id]
            ),
            rows,
        )


def skills_of(person_id: int) -> list[str]:
    return list(
        db.session.scalars(
            select(Skill.name)
            .join(PersonSkill, PersonSkill.skill_id == Skill.id)
            .where(PersonSkill.person_id == person_id)
            .order_by(Skill.name)
        )
    )
