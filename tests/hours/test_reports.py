"""Reports from the roll-ups: the figures equal what the records say once the workers
have run, for a unit's subtree only, in a fixed number of queries."""

from __future__ import annotations

from datetime import date

import pytest

from tests.hours.report_support import at, raw_by_team, served, settle, tree
from tests.hours.support import viewer
from volunteer_hub.errors import ValidationFailed
from volunteer_hub.extensions import db
from volunteer_hub.hours import reports, verification


@pytest.fixture
def scene(make, broker, worker):
    s = tree()
    # 鄂城区: team 1 — two people 2 h in March (防汛抗旱), one of them again 3 h in May
    # (红色宣讲); team 2 — one person 1.5 h in May; an unverified record in team 2.
    a, b = served(s.t1, s.l1, when=at(2031, 3, 5), hours_each=2, people=2)
    served(
        s.t1, s.l1, when=at(2031, 5, 5), hours_each=3, people=0, existing=[a], category="红色宣讲"
    )
    served(s.t2, s.l2, when=at(2031, 5, 20), hours_each=1.5)
    served(s.t2, s.l2, when=at(2031, 6, 20), hours_each=4, verify=False)
    # 华容区 (outside 鄂城区): 5 h in April.
    served(s.t3, s.l3, when=at(2031, 4, 1), hours_each=5)
    # Outside the period: January 2030.
    served(s.t1, s.l1, when=at(2030, 1, 5), hours_each=8, people=0, existing=[b])
    settle(broker, worker)
    s.a, s.b = a, b
    return s


def report(s, unit=None, **kwargs):
    kwargs.setdefault("month_from", date(2031, 1, 1))
    kwargs.setdefault("month_to", date(2031, 12, 31))
    return reports.unit_report((unit or s.city).path, **kwargs)


def test_unit_report_equals_the_raw_records(scene):
    got = report(scene)
    expected = raw_by_team(scene.city.path, date(2031, 1, 1), date(2031, 12, 1))
    assert {r.team_id: (r.minutes, r.services) for r in got.by_team if r.services} == expected
    assert [(r.team_id, r.minutes) for r in got.by_team] == [
        (scene.t1.id, 2 * 120 + 180),
        (scene.t3.id, 300),
        (scene.t2.id, 90),
    ]
    t1 = got.by_team[0]
    # 参与人次: a counts once in March (防汛抗旱) and once in May (红色宣讲)
    assert (t1.name, t1.services, t1.volunteers) == ("莲花山社区戎马志愿服务队", 3, 3)
    assert got.totals.minutes == 420 + 300 + 90
    assert got.totals.services == 5
    assert got.totals.volunteers == 5
    assert got.totals.hours == pytest.approx(13.5)


def test_by_month_lists_every_month_with_zeros_and_by_category_sums(scene):
    got = report(scene)
    assert [m.month for m in got.by_month] == [date(2031, n, 1) for n in range(1, 13)]
    by_month = {m.month.month: (m.minutes, m.services, m.volunteers) for m in got.by_month}
    assert by_month[1] == (0, 0, 0)
    assert by_month[3] == (240, 2, 2)
    assert by_month[5] == (270, 2, 2)
    assert by_month[6] == (0, 0, 0)  # not verified
    by_category = {c.name: (c.minutes, c.services, c.volunteers) for c in got.by_category}
    assert by_category == {"防汛抗旱": (240 + 90 + 300, 4, 4), "红色宣讲": (180, 1, 1)}
    assert got.by_category[0].name == "防汛抗旱"
    assert sum(m.minutes for m in got.by_month) == got.totals.minutes


def test_a_subtree_sees_only_its_own_teams(scene):
    got = report(scene, unit=scene.echeng)
    assert {r.team_id for r in got.by_team} == {scene.t1.id, scene.t2.id}
    assert got.totals.minutes == 420 + 90
    huarong = report(scene, unit=scene.huarong)
    assert [(r.team_id, r.minutes) for r in huarong.by_team] == [(scene.t3.id, 300)]


def test_category_filter_and_period(scene):
    red = report(scene, category_ids=[_category_id("红色宣讲")])
    assert red.totals.minutes == 180
    assert [c.name for c in red.by_category] == ["红色宣讲"]
    march = report(scene, month_from=date(2031, 3, 17), month_to=date(2031, 3, 2))
    assert march.totals.minutes == 240  # days are ignored: whole months
    assert len(march.by_month) == 1
    with pytest.raises(ValidationFailed):
        report(scene, month_from=date(2031, 4, 1), month_to=date(2031, 3, 1))


def test_a_rejected_record_leaves_the_report(scene, broker, worker):
    from sqlalchemy import select

    from volunteer_hub.hours.models import ServiceRecord

    record = db.session.scalar(
        select(ServiceRecord).where(
            ServiceRecord.team_id == scene.t2.id, ServiceRecord.minutes == 90
        )
    )
    verification.reject(record.id, viewer=viewer(scene.l2), reason="重复登记")
    db.session.commit()
    settle(broker, worker)
    got = report(scene)
    assert {r.team_id: r.minutes for r in got.by_team}[scene.t2.id] == 0
    assert got.totals.minutes == 420 + 300


def test_query_count_does_not_grow_with_the_number_of_teams(make, count_queries):
    s = tree()
    path = s.city.path
    with count_queries() as few:
        reports.unit_report(path, month_from=date(2031, 1, 1), month_to=date(2031, 12, 1))
    for n in range(12):
        team = make.team(s.huarong, name=f"加队{n}")
        served(team, make.leader(team), when=at(2031, 1 + n % 12, 3), people=2)
    with count_queries() as many:
        got = reports.unit_report(path, month_from=date(2031, 1, 1), month_to=date(2031, 12, 1))
    assert len(got.by_team) == 15
    assert many.count == few.count == 3


def test_team_report_per_volunteer_masks_phones_for_others(scene, make):
    got = reports.team_report(
        scene.t1.id,
        month_from=date(2031, 1, 1),
        month_to=date(2031, 12, 1),
        viewer=viewer(scene.l1),
    )
    rows = {r.person_id: r for r in got.by_person}
    assert rows[scene.a.id].minutes == 300 and rows[scene.a.id].services == 2
    assert rows[scene.a.id].active_months == 2
    assert rows[scene.b.id].minutes == 120
    assert rows[scene.l1.id].minutes == 0 and rows[scene.l1.id].is_member  # no service
    assert got.by_person[0].person_id == scene.a.id
    assert not rows[scene.a.id].phone_masked  # the leader reads the team's numbers
    assert got.totals.minutes == 420 and got.totals.volunteers == 3
    assert got.people_served == 2

    masked = reports.team_report(
        scene.t1.id,
        month_from=date(2031, 1, 1),
        month_to=date(2031, 12, 1),
        viewer=viewer(scene.l2),
    )
    phone = {r.person_id: r for r in masked.by_person}[scene.a.id].phone
    assert "****" in phone and phone.endswith(scene.a.phone[-4:])


def test_person_history_lists_records_with_verified_totals(scene):
    history = reports.person_history(scene.a.id)
    assert [(r.team_name, r.category_name, r.minutes, r.status) for r in history.records] == [
        ("莲花山社区戎马志愿服务队", "红色宣讲", 180, "verified"),
        ("莲花山社区戎马志愿服务队", "防汛抗旱", 120, "verified"),
    ]
    assert history.totals.minutes == 300 and history.totals.services == 2
    pending = reports.person_history(_pending_person())
    assert [r.status for r in pending.records] == ["pending"]
    assert pending.totals.minutes == 0


def _pending_person() -> int:
    from sqlalchemy import select

    from volunteer_hub.hours.models import ServiceRecord

    return db.session.scalar(
        select(ServiceRecord.person_id).where(ServiceRecord.status == "pending")
    )


def _category_id(name: str) -> int:
    from tests import factories

    return factories.category(name).id
