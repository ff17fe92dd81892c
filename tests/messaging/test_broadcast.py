"""A leader's call-out by SMS: quiet hours, the daily cap, urgent duty, who gets nothing.

Times are given explicitly (``now=``) in Asia/Shanghai wall-clock terms; the quiet hours
are the default 21:00-08:00 and the cap the default 2.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from volunteer_hub import scheduler
from volunteer_hub.broker import queue_depth
from volunteer_hub.errors import DomainError
from volunteer_hub.events import services as events
from volunteer_hub.extensions import db
from volunteer_hub.people.models import Person
from volunteer_hub.sms import services as outbox
from volunteer_hub.sms.broadcast import QuietHours, broadcast_event
from volunteer_hub.sms.models import Broadcast, OutgoingSms, SmsKind, SmsStatus
from volunteer_hub.sms.segments import count_segments
from volunteer_hub.teams.models import Membership

SHANGHAI = ZoneInfo("Asia/Shanghai")


def local(days: int, hour: int, minute: int = 0) -> datetime:
    """``days`` from today in Shanghai, at that wall-clock time, as UTC."""
    day = datetime.now(SHANGHAI).date() + timedelta(days=days)
    return datetime.combine(day, time(hour, minute), tzinfo=SHANGHAI).astimezone(UTC)


def texts(broadcast=None) -> list[OutgoingSms]:
    query = select(OutgoingSms).where(OutgoingSms.kind == SmsKind.BROADCAST)
    if broadcast is not None:
        query = query.where(OutgoingSms.broadcast_id == broadcast.id)
    return list(db.session.scalars(query.order_by(OutgoingSms.id)))


def counts(broadcast) -> tuple[int, int, int]:
    return broadcast.queued_count, broadcast.held_count, broadcast.skipped_count


def nothing_written() -> bool:
    return (
        db.session.scalar(select(func.count()).select_from(Broadcast)) == 0
        and db.session.scalar(select(func.count()).select_from(OutgoingSms)) == 0
    )


@pytest.fixture
def team(make):
    return make.team()


@pytest.fixture
def leader(make, team):
    return make.leader(team)


@pytest.fixture
def members(make, team):
    return [make.member(team) for _ in range(3)]


@pytest.fixture
def event(make, team):
    # Five days ahead, 09:00 local: after any quiet hours the tests go through.
    start = local(5, 9)
    return make.event(
        team, shifts=1, starts_at=start, title="长江巡堤", location="鄂州市鄂城区江堤"
    )


def test_a_daytime_call_out_texts_every_member_at_once(
    app, make, team, leader, members, event, broker
):
    outsider = make.member(make.team())  # another team's member
    shift = make.shifts_of(event)[0]

    sent = broadcast_event(event.id, leader.id, now=local(1, 10))
    db.session.commit()

    assert counts(sent) == (3, 0, 0)
    rows = texts(sent)
    assert [r.person_id for r in rows] == [m.id for m in members]  # not the sender, nor outsider
    assert outsider.id not in {r.person_id for r in rows}
    for row, member in zip(rows, members, strict=True):
        assert row.to_phone == member.phone
        assert row.dedupe_key == f"broadcast:{sent.id}:{member.id}"
        assert (row.is_urgent, row.send_after, row.status) == (False, None, SmsStatus.QUEUED)
        assert row.body == app.config["SMS_SIGNATURE"] + sent.body
        assert row.expires_at == shift.starts_at
    assert sent.body.startswith("新活动：“长江巡堤”")
    assert f"回复“报名 {shift.code}”报名" in sent.body
    assert "地点：鄂州市鄂城区江堤" in sent.body
    assert "9:00" in sent.body
    assert queue_depth(broker, "sms") == 3


def test_at_night_the_texts_wait_for_8_and_the_sweep_sends_them(
    make, team, leader, members, broker, worker, provider
):
    """Held rows go out through the ordinary minute tick once 08:00 has passed. The
    call-out is dated two days back so the real worker (which uses the real clock) can
    send what the tick hands it."""
    start = local(5, 9)
    event = make.event(team, starts_at=start)
    night, morning = local(-2, 22, 30), local(-1, 8)

    sent = broadcast_event(event.id, leader.id, now=night)
    db.session.commit()

    assert counts(sent) == (0, 3, 0)
    assert {r.send_after for r in texts(sent)} == {morning}
    assert queue_depth(broker, "sms") == 0  # nothing handed to a worker yet

    before = scheduler.tick(now=morning - timedelta(minutes=1))
    assert before.requeued_texts == 0

    after = scheduler.tick(now=morning + timedelta(minutes=1))
    assert after.requeued_texts == 3
    broker.join("sms")
    worker.join()

    assert sorted(to for to, _body in provider.sent) == sorted(m.phone for m in members)
    db.session.expire_all()
    assert {r.status for r in texts(sent)} == {SmsStatus.SENT}


def test_a_held_text_is_not_handed_over_before_8(make, team, leader, members, provider):
    event = make.event(team, starts_at=local(5, 9))
    sent = broadcast_event(event.id, leader.id, now=local(1, 6, 30))  # after midnight
    db.session.commit()
    row = texts(sent)[0]
    assert row.send_after == local(1, 8)

    assert outbox.deliver(row.id, provider, now=local(1, 7, 59)).outcome == "skipped"
    assert outbox.deliver(row.id, provider, now=local(1, 8, 1)).outcome == "sent"
    assert provider.sent == [(row.to_phone, row.body)]


def test_urgent_goes_out_at_night_at_once(make, team, leader, members, event, broker):
    sent = broadcast_event(event.id, leader.id, urgent=True, now=local(1, 23, 30))
    db.session.commit()

    assert counts(sent) == (3, 0, 0)
    assert sent.is_urgent
    assert {(r.is_urgent, r.send_after) for r in texts(sent)} == {(True, None)}
    assert queue_depth(broker, "sms") == 3


def test_the_daily_cap_counts_by_the_day_the_text_goes_out(make, team, leader, members, event):
    day1 = [broadcast_event(event.id, leader.id, now=local(1, h)) for h in (9, 15)]
    capped = broadcast_event(event.id, leader.id, now=local(1, 18))
    # Written on day 1 at night, it goes out on day 2: day 1's cap does not apply.
    evening = broadcast_event(event.id, leader.id, now=local(1, 22))
    day2 = broadcast_event(event.id, leader.id, now=local(2, 10))
    day2_capped = broadcast_event(event.id, leader.id, now=local(2, 11))
    urgent = broadcast_event(event.id, leader.id, urgent=True, now=local(2, 12))
    db.session.commit()

    assert [counts(b) for b in day1] == [(3, 0, 0), (3, 0, 0)]
    assert counts(capped) == (0, 0, 3)
    assert texts(capped) == []
    assert counts(evening) == (0, 3, 0)
    assert counts(day2) == (3, 0, 0)
    assert counts(day2_capped) == (0, 0, 3)
    assert counts(urgent) == (3, 0, 0)  # flood duty is never capped


def test_texts_that_never_went_out_do_not_count_towards_the_cap(make, team, leader, members, event):
    first = broadcast_event(event.id, leader.id, now=local(1, 9))
    db.session.execute(
        OutgoingSms.__table__.update()
        .where(OutgoingSms.broadcast_id == first.id)
        .values(status=SmsStatus.FAILED)
    )
    second = broadcast_event(event.id, leader.id, now=local(1, 10))
    third = broadcast_event(event.id, leader.id, now=local(1, 11))
    assert (counts(second), counts(third)) == ((3, 0, 0), (3, 0, 0))


def test_opted_out_and_inactive_members_get_nothing(make, team, leader, members, event):
    outbox.opt_out(members[0].id, channel="sms", keyword="TD")
    members[1].is_active = False
    db.session.commit()

    sent = broadcast_event(event.id, leader.id, now=local(1, 10))
    db.session.commit()

    assert counts(sent) == (1, 0, 1)  # the inactive member is not counted at all
    assert [r.person_id for r in texts(sent)] == [members[2].id]


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("draft", "草稿"),
        ("cancelled", "已取消"),
        ("started", "已开始"),
        ("nobody", "没有其他队员"),
        ("starts_before_8", "紧急"),
    ],
)
def test_refused_call_outs_write_nothing(make, team, leader, setup, message, broker):
    if setup != "nobody":
        make.member(team)
    start = local(5, 9)
    if setup == "starts_before_8":
        start = local(2, 7)
    event = make.event(team, starts_at=start, status="draft" if setup == "draft" else "published")
    if setup == "cancelled":
        events.cancel_event(event.id, "台风")
        db.session.commit()
    now = local(1, 10)
    if setup == "started":
        now = start + timedelta(minutes=5)
    if setup == "starts_before_8":
        now = local(1, 22)

    with pytest.raises(DomainError) as refused:
        broadcast_event(event.id, leader.id, now=now)
    db.session.rollback()

    assert message in refused.value.message
    assert nothing_written()
    assert queue_depth(broker, "sms") == 0


def test_an_event_that_starts_before_8_can_still_be_called_out_as_urgent(make, team, leader):
    make.member(team)
    event = make.event(team, starts_at=local(2, 7))
    sent = broadcast_event(event.id, leader.id, urgent=True, now=local(1, 22))
    assert counts(sent) == (1, 0, 0)


def test_many_shifts_list_their_codes_within_three_segments(app, make, team, leader, members):
    start = local(5, 8)
    shifts = [
        {
            "title": "巡堤" if i % 2 else "值守",
            "starts_at": start + timedelta(hours=2 * (i // 2)),
            "ends_at": start + timedelta(hours=2 * (i // 2) + 2),
            "capacity": 5,
        }
        for i in range(4)
    ]
    few = make.event(team, shifts=shifts, title="防汛值守")
    many = make.event(
        team,
        shifts=30,
        starts_at=start,
        title="汉阳区退役军人志愿服务队防汛巡堤暨江滩环境整治志愿服务活动 联系人13800138000",
        location="武汉市汉阳区江滩公园三号门（联系电话 027-84771234）向东五百米防汛指挥部门前广场",
    )
    signature = app.config["SMS_SIGNATURE"]

    few_body = broadcast_event(few.id, leader.id, now=local(1, 10)).body
    many_body = broadcast_event(many.id, leader.id, urgent=True, now=local(1, 10)).body

    few_codes = [s.code for s in make.shifts_of(few)]
    assert all(code in few_body for code in few_codes)
    assert "值守" in few_body and "巡堤" in few_body  # shifts starting together are named
    assert "回复“报名+编号”报名" in few_body
    assert count_segments(signature + few_body) <= 3
    assert make.shifts_of(many)[0].code in many_body
    assert many_body.endswith("等30个班次")
    assert count_segments(signature + many_body) <= 3
    # the lists are template variables: none longer than a provider takes
    sent = db.session.scalars(select(OutgoingSms).where(OutgoingSms.kind == "broadcast")).all()
    assert {row.template_key for row in sent} == {"broadcast_many_2", "broadcast_many_3"}
    assert all(len(value) <= 35 for row in sent for value in row.template_vars.values())
    assert "13800138000" not in many_body and "84771234" not in many_body


def test_cancelling_the_event_drops_call_outs_still_held(make, team, leader, members):
    event = make.event(team, starts_at=local(5, 9))
    sent = broadcast_event(event.id, leader.id, now=local(1, 22))
    db.session.commit()

    events.cancel_event(event.id, "汛情解除")
    db.session.commit()

    assert {r.status for r in texts(sent)} == {SmsStatus.CANCELLED}


def _team_of(make, size: int):
    team = make.team()
    leader = make.leader(team)
    people = [Person(name=f"队员{i}", phone=f"+86136{team.id:04d}{i:04d}") for i in range(size)]
    db.session.add_all(people)
    db.session.flush()
    db.session.add_all(Membership(team_id=team.id, person_id=p.id) for p in people)
    db.session.commit()
    return team, leader


def test_query_count_does_not_grow_with_the_team(make, count_queries):
    measured = []
    for size in (10, 200):
        team, leader = _team_of(make, size)
        event = make.event(team, starts_at=local(5, 9))
        db.session.expire_all()
        with count_queries() as counter:
            sent = broadcast_event(event.id, leader.id, now=local(1, 10))
            db.session.commit()
        assert sent.queued_count == size
        measured.append(counter.count)
    print("broadcast queries", measured)
    assert measured[0] == measured[1] and measured[1] <= 10, measured


def test_phones_stay_out_of_the_log(make, team, leader, members, event, caplog):
    with caplog.at_level(logging.DEBUG, logger="volunteer_hub"):
        broadcast_event(event.id, leader.id, now=local(1, 10))
        db.session.commit()
    assert "broadcast" in caplog.text
    for member in members:
        assert member.phone[3:] not in caplog.text


@pytest.mark.parametrize(
    ("spec", "at", "end"),
    [
        ("21:00-08:00", (22, 0), (1, 8)),
        ("21:00-08:00", (0, 30), (0, 8)),
        ("21:00-08:00", (8, 0), None),
        ("21:00-08:00", (20, 59), None),
        ("13:00-14:00", (13, 30), (0, 14)),
        ("off", (23, 0), None),
    ],
)
def test_quiet_hours(spec, at, end):
    now = local(3, *at)
    quiet = QuietHours.parse(spec)
    found = quiet.end_after(now, SHANGHAI) if quiet else None
    assert found == (local(3 + end[0], end[1]) if end else None)
