from sqlalchemy import select

from volunteer_hub.extensions import db
from volunteer_hub.people.skills import (
    PersonSkill,
    Skill,
    set_skills,
    skill_ids,
    skills_of,
    split_skills,
)


def test_split_on_what_people_type_between_skills():
    assert split_skills("驾驶、急救 水上救援") == ["驾驶", "急救", "水上救援"]
    assert split_skills("厨师;驾驶/ 电工，摄影,无人机；急救／驾驶") == [
        "厨师",
        "驾驶",
        "电工",
        "摄影",
        "无人机",
        "急救",
    ]
    assert split_skills("") == []
    assert split_skills(None) == []
    assert split_skills("  、 ") == []


def test_set_skills_creates_new_names_and_replaces_the_old_set(make):
    person = make.person()
    set_skills(person.id, ["驾驶", "急救"])
    assert skills_of(person.id) == sorted(["驾驶", "急救"])
    set_skills(person.id, ["急救", "无人机"])
    db.session.commit()
    assert skills_of(person.id) == sorted(["急救", "无人机"])
    # 驾驶 stays a skill, though nobody holds it now
    assert db.session.scalar(select(Skill.id).where(Skill.name == "驾驶")) is not None
    assert db.session.scalar(select(db.func.count()).select_from(PersonSkill)) == 2


def test_skill_ids_does_not_create_unless_asked():
    assert skill_ids(["冲锋舟驾驶"]) == {}
    created = skill_ids(["冲锋舟驾驶"], create=True)
    assert list(created) == ["冲锋舟驾驶"]
    assert skill_ids(["冲锋舟驾驶", "不存在"]) == created
