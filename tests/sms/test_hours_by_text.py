"""签到 / 签退 / 我的时长 / 更正 by text, through the signed inbound webhook: a clear reply
for every outcome, and no change to the service records on any bad input."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, update

from tests.hours.support import shift_with_people, viewer
from volunteer_hub.db import utcnow
from volunteer_hub.events.models import Shift
from volunteer_hub.events.services import cancel_event, release_stale_codes
from volunteer_hub.extensions import db
from volunteer_hub.hours import attendance, verification
from volunteer_hub.hours.models import RecordChange, RecordStatus, ServiceRecord
from volunteer_hub.i18n import to_local
from volunteer_hub.signups import services as signups
from volunteer_hub.signups.models import SignupSource

MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
SIGNATURE = "【退役军人志愿服务】"


def records_state() -> tuple:
    """Every column of every service record and audit row: to see that nothing changed."""
    db.session.expire_all()
    records = select(ServiceRecord.__table__).order_by(ServiceRecord.id)
    changes = select(RecordChange.__table__).order_by(RecordChange.id)
    return tuple(tuple(tuple(row) for row in db.session.execute(q)) for q in (records, changes))


def now_minute() -> datetime:
    return utcnow().replace(second=0, microsecond=0)


@pytest.fixture
def on_site():
    """A 2-hour shift starting in 10 minutes (check-in is open), two people with seats."""
    return shift_with_people(starts_at=now_minute() + 10 * MINUTE, title="长江巡堤")


def hhmm(at: datetime) -> str:
    return f"{to_local(at):%H:%M}"


# -- check-in --------------------------------------------------------------------------


def test_a_cancel_after_checking_in_is_refused_with_the_way_to_check_out(
    client, sms_webhook, on_site
):
    _team, shift, (person, _other) = on_site
    sms_webhook(client, person.phone, f"签到 {shift.code}")
    before = records_state()

    reply = sms_webhook(client, person.phone, f"取消 {shift.code}")

    assert reply == f"{SIGNATURE}您已在长江巡堤签到，报名不能取消。提前离开请回复 签退 {shift.code}"
    assert signups.active_signup(shift.id, person.id) is not None
    assert records_state() == before


@pytest.mark.parametrize("word", ["签到", "QD", "qd", "签 到", "ＱＤ"])
def test_check_in_by_text(client, sms_webhook, on_site, word):
    _team, shift, (person, _other) = on_site
    reply = sms_webhook(client, person.phone, f"{word} {shift.code}")
    assert reply.startswith(SIGNATURE + "签到成功：长江巡堤，")
    assert reply.endswith(f"结束时请回复 签退 {shift.code}")
    record = db.session.scalar(select(ServiceRecord))
    assert (record.person_id, record.shift_id, record.status) == (person.id, shift.id, "pending")
    assert record.checked_in_at is not None
    change = db.session.scalar(select(RecordChange))
    assert (change.action, change.channel, change.actor_id) == ("checked_in", "sms", person.id)


def test_check_out_by_text_says_the_hours_counted(client, sms_webhook, make):
    start = now_minute() - 90 * MINUTE
    _team, shift, (person, _other) = shift_with_people(starts_at=start, hours=3, title="护苗护学")
    attendance.check_in(shift.id, person.id, now=now_minute() - 80 * MINUTE)  # 80 min on site
    db.session.commit()

    reply = sms_webhook(client, person.phone, f"QT {shift.code}")
    assert reply.startswith(SIGNATURE + "签退成功：护苗护学，")
    assert reply.endswith("本次计1.5小时，待队长审核。")
    record = db.session.scalar(select(ServiceRecord))
    db.session.refresh(record)
    assert record.minutes == 90 and record.checked_out_at is not None
    actions = db.session.execute(
        select(RecordChange.action, RecordChange.channel).order_by(RecordChange.id)
    ).all()
    assert [tuple(a) for a in actions] == [("checked_in", "sms"), ("checked_out", "sms")]


def test_check_in_then_check_out_both_by_text(client, sms_webhook, on_site):
    _team, shift, (person, _other) = on_site
    sms_webhook(client, person.phone, f"签到{shift.code}")
    reply = sms_webhook(client, person.phone, f"签退{shift.code}")
    assert "签退成功" in reply and "本次计0小时" in reply  # a minute on site rounds to nothing


# -- bad input: a clear reply and no record change ---------------------------------------


def assert_unchanged(client, sms_webhook, phone, body, *expected):
    before = records_state()
    reply = sms_webhook(client, phone, body)
    assert reply is not None and reply.startswith(SIGNATURE)
    for part in expected:
        assert part in reply, reply
    assert records_state() == before
    return reply


def test_unknown_code(client, sms_webhook, on_site):
    _team, _shift, (person, _other) = on_site
    for word in ("签到", "签退"):
        assert_unchanged(
            client, sms_webhook, person.phone, f"{word} 98765432", "未找到编号98765432"
        )


@pytest.mark.parametrize("word", ["签退", "QT"])
def test_missing_code_gets_the_format(client, sms_webhook, on_site, word):
    # Not checked in anywhere: no shift to check out of (签到 alone: test_parser_replies).
    _team, _shift, (person, _other) = on_site
    assert_unchanged(client, sms_webhook, person.phone, word, "请回复 签退+编号")


def test_check_in_too_early_says_when_it_opens(client, sms_webhook):
    start = now_minute() + 2 * HOUR
    _team, shift, (person, _other) = shift_with_people(starts_at=start, title="红色宣讲")
    reply = assert_unchanged(
        client, sms_webhook, person.phone, f"签到 {shift.code}", "签到时间未到"
    )
    opens = start - 30 * MINUTE
    assert f"{to_local(opens).month}月{to_local(opens).day}日 {hhmm(opens)}起可签到" in reply


def test_check_in_after_the_shift_ended(client, sms_webhook):
    start = now_minute() - 3 * HOUR
    _team, shift, (person, _other) = shift_with_people(starts_at=start, title="红色宣讲")
    assert_unchanged(client, sms_webhook, person.phone, f"QD {shift.code}", "已结束，不能签到")


def test_check_in_twice(client, sms_webhook, on_site):
    _team, shift, (person, _other) = on_site
    sms_webhook(client, person.phone, f"签到 {shift.code}")
    checked_in = db.session.scalar(select(ServiceRecord.checked_in_at))
    reply = assert_unchanged(
        client, sms_webhook, person.phone, f"签到 {shift.code}", "无需重复", f"签退 {shift.code}"
    )
    assert hhmm(checked_in) in reply


def test_check_in_by_someone_not_signed_up(client, sms_webhook, on_site, make):
    team, shift, _people = on_site
    stranger = make.member(team)
    assert_unchanged(client, sms_webhook, stranger.phone, f"签到 {shift.code}", "您没有报名")
    assert_unchanged(client, sms_webhook, stranger.phone, f"签退 {shift.code}", "您没有报名")


def test_check_in_from_the_waitlist(client, sms_webhook, make):
    start = now_minute() + 10 * MINUTE
    team = make.team()
    event = make.event(
        team, shifts=[{"starts_at": start, "ends_at": start + 2 * HOUR, "capacity": 1}]
    )
    shift = make.shifts_of(event)[0]
    seated, waiting = make.member(team), make.member(team)
    for person in (seated, waiting):
        signups.sign_up(shift.id, person.id, SignupSource.WEB, now=start - 48 * HOUR)
    db.session.commit()
    for word in ("签到", "签退"):
        assert_unchanged(client, sms_webhook, waiting.phone, f"{word} {shift.code}", "候补名单")


def test_check_in_on_a_cancelled_shift(client, sms_webhook, on_site):
    _team, shift, (person, _other) = on_site
    cancel_event(shift.event_id, reason="暴雨")
    db.session.commit()
    assert_unchanged(client, sms_webhook, person.phone, f"签到 {shift.code}", "已取消")


def test_check_in_on_a_record_the_leader_already_verified(client, sms_webhook, on_site, make):
    team, shift, (person, _other) = on_site
    leader = viewer(make.leader(team))
    after = shift.ends_at + HOUR
    record = attendance.mark_attendance(shift.id, person.id, "present", viewer=leader, now=after)
    verification.verify([record.id], viewer=leader, now=after)
    db.session.commit()
    assert_unchanged(
        client, sms_webhook, person.phone, f"签到 {shift.code}", "已审核", f"更正 {shift.code}"
    )


def test_check_out_without_check_in(client, sms_webhook, on_site):
    _team, shift, (person, _other) = on_site
    assert_unchanged(client, sms_webhook, person.phone, f"签退 {shift.code}", "还没有签到")


def test_check_out_twice(client, sms_webhook, on_site):
    _team, shift, (person, _other) = on_site
    sms_webhook(client, person.phone, f"签到 {shift.code}")
    sms_webhook(client, person.phone, f"签退 {shift.code}")
    checked_out = db.session.scalar(select(ServiceRecord.checked_out_at))
    reply = assert_unchanged(client, sms_webhook, person.phone, f"QT {shift.code}", "签退")
    assert f"您已于{to_local(checked_out).month}月" in reply and hhmm(checked_out) in reply


def test_check_out_after_its_window(client, sms_webhook):
    start = now_minute() - 5 * HOUR  # ended 3 h ago; check-out closes 2 h after the end
    _team, shift, (person, _other) = shift_with_people(starts_at=start, title="长江巡堤")
    attendance.check_in(shift.id, person.id, now=start)
    db.session.commit()
    assert_unchanged(client, sms_webhook, person.phone, f"签退 {shift.code}", "签退时间已过")


def test_a_replayed_check_in_changes_nothing_twice(client, sms_webhook, on_site):
    _team, shift, (person, _other) = on_site
    assert sms_webhook(client, person.phone, f"签到 {shift.code}", sid="SMcheckin") is not None
    before = records_state()
    assert sms_webhook(client, person.phone, f"签到 {shift.code}", sid="SMcheckin") is None
    assert records_state() == before


def test_an_opted_out_person_gets_no_answer_and_no_record(client, sms_webhook, on_site):
    _team, shift, (person, _other) = on_site
    sms_webhook(client, person.phone, "退订")
    before = records_state()
    assert sms_webhook(client, person.phone, f"签到 {shift.code}") is None
    assert sms_webhook(client, person.phone, "我的时长") is None
    assert records_state() == before


def test_every_reply_fits_one_segment(client, sms_webhook, on_site):
    from volunteer_hub.sms.models import OutgoingSms

    _team, shift, (person, other) = on_site
    for body in (f"签到 {shift.code}", f"签到 {shift.code}", f"签退 {shift.code}", "SC"):
        sms_webhook(client, person.phone, body)
    sms_webhook(client, other.phone, f"签退 {shift.code}")
    assert set(db.session.scalars(select(OutgoingSms.segments))) == {1}


# -- 我的时长 -----------------------------------------------------------------------------


def _verified_service(team, person, leader, starts_at, hours_long, *, verify=True):
    _team, shift, _people = shift_with_people(team, starts_at=starts_at, hours=hours_long, people=0)
    signups.sign_up(shift.id, person.id, SignupSource.WEB, now=starts_at - 48 * HOUR)
    after = shift.ends_at + HOUR
    record = attendance.mark_attendance(shift.id, person.id, "present", viewer=leader, now=after)
    if verify:
        verification.verify([record.id], viewer=leader, now=after)
    db.session.commit()
    return shift, record


def local_datetime(year: int, month: int, day: int, hour: int) -> datetime:
    from zoneinfo import ZoneInfo

    return datetime(year, month, day, hour, tzinfo=ZoneInfo("Asia/Shanghai"))


@pytest.mark.parametrize("word", ["我的时长", "SC", "sc", "我的 时长"])
def test_my_hours(client, sms_webhook, make, word):
    team = make.team()
    person, other = make.member(team), make.member(team)
    leader = viewer(make.leader(team))
    year = to_local(utcnow()).year
    _verified_service(team, person, leader, local_datetime(year - 1, 12, 30, 8), 2.5)
    _verified_service(team, person, leader, local_datetime(year, 7, 1, 8), 1.5)
    _verified_service(team, other, leader, local_datetime(year, 7, 2, 8), 4)  # someone else's
    _verified_service(team, person, leader, local_datetime(year, 7, 3, 8), 2, verify=False)
    _shift, rejected = _verified_service(
        team, person, leader, local_datetime(year, 7, 4, 8), 3, verify=False
    )
    verification.reject(rejected.id, viewer=leader, reason="未到岗")
    db.session.commit()

    reply = sms_webhook(client, person.phone, word)
    assert reply == (
        f"{SIGNATURE}您的志愿服务时长：累计认定4小时，{year}年1.5小时；另有1条记录待审核。"
    )


def test_my_hours_without_records(client, sms_webhook, make):
    person = make.person()
    reply = sms_webhook(client, person.phone, "SC")
    assert "还没有志愿服务记录" in reply


# -- corrections -------------------------------------------------------------------------


def correction_of(record_id: int) -> str | None:
    db.session.expire_all()
    return db.session.get(ServiceRecord, record_id).correction_note


def test_correction_by_code_after_the_code_was_released_and_reused(client, sms_webhook, make):
    team = make.team()
    person = make.member(team)
    leader = viewer(make.leader(team))
    old_shift, record = _verified_service(team, person, leader, now_minute() - 30 * 24 * HOUR, 2)
    assert release_stale_codes() >= 1
    db.session.commit()
    # The code now belongs to a new shift the person is signed up for, without a record.
    _team, new_shift, _people = shift_with_people(team, starts_at=now_minute() + 24 * HOUR)
    signups.sign_up(new_shift.id, person.id, SignupSource.WEB)
    db.session.execute(update(Shift).where(Shift.id == new_shift.id).values(code=old_shift.code))
    db.session.commit()

    reply = sms_webhook(client, person.phone, f"更正 {old_shift.code} 实际 8 点到，11 点走")
    day = to_local(record.started_at)
    assert reply.startswith(SIGNATURE + f"已收到您对“长江巡堤”（{day.month}月{day.day}日）")
    assert reply.endswith("记录的更正申请，队长将核实处理。")
    assert correction_of(record.id) == "实际 8 点到，11 点走"
    change = db.session.scalars(select(RecordChange).order_by(RecordChange.id.desc())).first()
    assert (change.action, change.channel, change.record_id) == (
        "correction_requested",
        "sms",
        record.id,
    )
    assert change.reason == "实际 8 点到，11 点走"
    assert db.session.get(ServiceRecord, record.id).status == RecordStatus.VERIFIED


def test_correction_by_code_takes_the_latest_shift_with_that_code(client, sms_webhook, make):
    team = make.team()
    person = make.member(team)
    leader = viewer(make.leader(team))
    first, older = _verified_service(team, person, leader, now_minute() - 60 * 24 * HOUR, 2)
    release_stale_codes()
    second, newer = _verified_service(team, person, leader, now_minute() - 20 * 24 * HOUR, 2)
    release_stale_codes()
    db.session.execute(update(Shift).where(Shift.id == second.id).values(code=first.code))
    db.session.commit()

    sms_webhook(client, person.phone, f"GZ{first.code} arrived at 7")
    assert correction_of(newer.id) == "arrived at 7"
    assert correction_of(older.id) is None


def test_correction_without_code_is_on_the_latest_record(client, sms_webhook, make):
    team = make.team()
    person = make.member(team)
    leader = viewer(make.leader(team))
    _s, older = _verified_service(team, person, leader, now_minute() - 10 * 24 * HOUR, 2)
    _s, latest = _verified_service(team, person, leader, now_minute() - 2 * 24 * HOUR, 2)
    reply = sms_webhook(client, person.phone, "更正 少记了半小时")
    assert "更正申请" in reply
    assert correction_of(latest.id) == "少记了半小时"
    assert correction_of(older.id) is None


def test_bad_corrections_change_nothing(client, sms_webhook, make):
    team = make.team()
    person, other = make.member(team), make.member(team)
    leader = viewer(make.leader(team))
    shift, _record = _verified_service(team, person, leader, now_minute() - 3 * 24 * HOUR, 2)
    other_shift, _r = _verified_service(team, other, leader, now_minute() - 4 * 24 * HOUR, 2)
    phone = person.phone

    assert_unchanged(client, sms_webhook, phone, "更正 98765432 时间不对", "未找到您在编号98765432")
    assert_unchanged(client, sms_webhook, phone, f"更正 {other_shift.code} 时间不对", "未找到")
    assert_unchanged(client, sms_webhook, phone, f"更正 {shift.code}", "请写明更正内容")
    assert_unchanged(client, sms_webhook, phone, "更正", "请写明更正内容")
    assert_unchanged(client, sms_webhook, phone, f"更正 {shift.code} " + "长" * 501, "不超过500字")
    stranger = make.person()
    assert_unchanged(client, sms_webhook, stranger.phone, "更正 时间不对", "还没有志愿服务记录")
    assert_unchanged(client, sms_webhook, "+8613911112222", "更正 1234 x", "尚未登记")


def test_help_lists_the_hours_commands(client, sms_webhook, make):
    person = make.person()
    reply = sms_webhook(client, person.phone, "帮助")
    for word in ("签到", "签退", "我的时长", "更正"):
        assert word in reply
