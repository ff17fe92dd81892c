from sqlalchemy import select

from volunteer_hub.extensions import db
from volunteer_hub.people.models import Person
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


def test_skills_typed_on_the_member_form_and_in_a_roster_are_data(make):
    """A call-out filters on the skill tables, so every place that takes typed skills
    fills them: adding a member, editing one, importing a roster."""
    from tests.roster.conftest import phone, xlsx
    from volunteer_hub.auth.permissions import viewer_for
    from volunteer_hub.roster.services import create_import, queue_apply
    from volunteer_hub.roster.tasks import apply_roster_import
    from volunteer_hub.teams import services as teams

    team = make.team()
    leader = make.leader(team)
    membership = teams.add_member(team.id, "李四", "13700001234", skills="急救、冲锋舟驾驶")
    db.session.commit()
    assert skills_of(membership.person_id) == sorted(["冲锋舟驾驶", "急救"])

    teams.update_member(
        team.id,
        membership.person_id,
        "李四",
        "13700001234",
        "member",
        skills="无人机",
        viewer=viewer_for(leader),
    )
    db.session.commit()
    assert skills_of(membership.person_id) == ["无人机"]

    content = xlsx(("Sheet1", [["姓名", "手机号", "技能特长"], ["王五", phone(77), "电工 驾驶"]]))
    record = create_import(content, "r.xlsx", viewer_for(leader), team.id)
    queue_apply(record.id)
    db.session.commit()
    apply_roster_import(record.id)
    imported = db.session.scalar(select(Person.id).where(Person.name == "王五"))
    assert skills_of(imported) == sorted(["电工", "驾驶"])
