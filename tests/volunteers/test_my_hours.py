"""我的服务时长 on /me: the totals, the history with Chinese statuses, and the per-record
correction request (CSRF, Chinese errors, nothing changed on bad input)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from tests.conftest import token_from
from tests.hours.support import shift_with_people, viewer
from tests.volunteers.conftest import me_login, page
from volunteer_hub.db import utcnow
from volunteer_hub.extensions import db
from volunteer_hub.hours import attendance, personal, records, verification
from volunteer_hub.hours.models import RecordChange, ServiceRecord
from volunteer_hub.i18n import to_local
from volunteer_hub.signups import services as signups
from volunteer_hub.signups.models import SignupSource
from volunteer_hub.sms.models import OutgoingSms

HOUR = timedelta(hours=1)
SHANGHAI = ZoneInfo("Asia/Shanghai")


def records_state() -> tuple:
    db.session.expire_all()
    records = select(ServiceRecord.__table__).order_by(ServiceRecord.id)
    changes = select(RecordChange.__table__).order_by(RecordChange.id)
    return tuple(tuple(tuple(row) for row in db.session.execute(q)) for q in (records, changes))


def service(team, person, leader, starts_at, hours_long=2.0, *, title="长江巡堤"):
    """A record of ``person`` on a new shift of ``team``, marked present by the leader."""
    _team, shift, _people = shift_with_people(
        team, starts_at=starts_at, hours=hours_long, people=0, title=title
    )
    signups.sign_up(shift.id, person.id, SignupSource.WEB, now=starts_at - 48 * HOUR)
    record = attendance.mark_attendance(
        shift.id, person.id, "present", viewer=leader, now=shift.ends_at + HOUR
    )
    db.session.commit()
    return shift, record


@pytest.fixture
def history(teams):
    """The volunteer's records: verified (last year and this year), pending, rejected,
    auto-closed; and one of someone else."""
    year = to_local(utcnow()).year
    leader = viewer(teams.leader_a)
    person = teams.volunteer
    at = lambda y, m, d: datetime(y, m, d, 8, tzinfo=SHANGHAI)  # noqa: E731
    _s, old = service(teams.team_a, person, leader, at(year - 1, 12, 30), 2.5, title="冬季巡河")
    _s, verified = service(teams.team_a, person, leader, at(year, 3, 5), 1.5, title="红色宣讲")
    # Marked and verified once over, whatever today's date: 10 March is after all of it.
    done = at(year, 3, 10)
    verification.verify([old.id, verified.id], viewer=leader, now=done)
    _s, pending = service(teams.team_a, person, leader, at(year, 3, 6), 2, title="护苗护学")
    _s, rejected = service(teams.team_a, person, leader, at(year, 3, 7), 3, title="敬老院探访")
    verification.reject(rejected.id, viewer=leader, reason="未到岗")
    _team, shift, _people = shift_with_people(
        teams.team_a, starts_at=at(year, 3, 8), people=0, title="防汛值守"
    )
    signups.sign_up(shift.id, person.id, SignupSource.WEB, now=at(year, 3, 1))
    closed = attendance.check_in(shift.id, person.id, now=shift.starts_at)
    attendance.close_forgotten_check_outs(now=shift.ends_at + 3 * HOUR)
    _s, absent = service(teams.team_a, person, leader, at(year, 2, 1), 2, title="缺席的活动")
    attendance.mark_attendance(absent.shift_id, person.id, "absent", viewer=leader, now=done)
    _s, others = service(teams.team_a, teams.other, leader, at(year, 3, 9), 4, title="别人的活动")
    verification.verify([others.id], viewer=leader, now=done)
    db.session.commit()
    return {
        "year": year,
        "old": old,
        "verified": verified,
        "pending": pending,
        "rejected": rejected,
        "closed": closed,
        "others": others,
        "absent": absent,
    }


@pytest.fixture
def logged_in(client, teams):
    me_login(client, teams.volunteer)
    return client


def card(html: str, record_id: int) -> str:
    match = re.search(rf'<li class="me-card" id="record-{record_id}">(.*?)</li>', html, re.S)
    assert match, f"record {record_id} not on the page"
    return match.group(1)


def totals(html: str) -> list[str]:
    block = html.split('class="me-totals"')[1].split("</dl>")[0]
    return [re.sub(r"\s+", " ", dd).strip() for dd in re.findall(r"<dd>(.*?)</dd>", block)]


def test_home_shows_my_totals_and_the_way_to_the_records(logged_in, history):
    html = page(logged_in.get("/me"))
    assert "我的服务时长" in html
    # verified: 2.5 h last year + 1.5 h this year; pending: 护苗护学 and the auto-closed one
    assert totals(html) == ["4 小时", "1.5 小时", "2"]
    assert f"{history['year']} 年" in html
    assert 'href="/me/hours"' in html


def test_history_lists_my_records_with_their_status(logged_in, history, teams):
    response = logged_in.get("/me/hours")
    assert response.status_code == 200
    html = page(response)
    assert totals(html) == ["4 小时", "1.5 小时", "2"]

    verified = card(html, history["verified"].id)
    assert "红色宣讲" in verified and "已认定" in verified and "1.5 小时" in verified
    assert teams.team_a.name in verified
    local = to_local(history["verified"].started_at)
    assert f"{local.year}年{local.month}月{local.day}日" in verified
    assert "待审核" in card(html, history["pending"].id)
    rejected = card(html, history["rejected"].id)
    assert "未认定" in rejected and "已认定" not in rejected
    closed = card(html, history["closed"].id)
    assert "未签退，按班次结束时间计" in closed and "待审核" in closed
    assert "未签退" not in verified
    absent = card(html, history["absent"].id)
    assert "缺勤" in absent and "0 小时" in absent
    # Latest service first; nobody else's record.
    order = [int(i) for i in re.findall(r'id="record-(\d+)"', html)]
    assert order == [
        history[name].id for name in ("closed", "rejected", "pending", "verified", "absent", "old")
    ]
    assert "别人的活动" not in html
    assert teams.other.phone[3:] not in html


def test_a_correction_request_from_the_page(logged_in, history):
    record = history["verified"]
    html = page(logged_in.get("/me/hours"))
    assert f'action="/me/hours/{record.id}/correction"' in card(html, record.id)
    response = logged_in.post(
        f"/me/hours/{record.id}/correction", data={"note": "  实际 8 点到，11 点走  "}
    )
    assert response.status_code == 302
    assert response.headers["Location"] == f"/me/hours#record-{record.id}"
    db.session.expire_all()
    stored = db.session.get(ServiceRecord, record.id)
    assert stored.correction_note == "实际 8 点到，11 点走"
    assert stored.status == "verified"  # the leader decides; the request changes no hours
    change = db.session.scalars(select(RecordChange).order_by(RecordChange.id.desc())).first()
    assert (change.action, change.channel) == ("correction_requested", "web")

    html = page(logged_in.get(f"/me/hours#record-{record.id}"))
    assert "已提交更正申请" in html
    assert "更正申请处理中：实际 8 点到，11 点走" in card(html, record.id)
    assert "修改更正申请" in card(html, record.id)


def test_the_leaders_answer_to_a_correction_is_texted_and_shown(logged_in, history, teams):
    record = history["pending"]
    logged_in.post(f"/me/hours/{record.id}/correction", data={"note": "实际 7 点到"})
    leader = viewer(teams.leader_a)
    records.resolve_correction(record.id, viewer=leader, reason="已核实，改为 7 点到")
    db.session.commit()

    texts = db.session.scalars(
        select(OutgoingSms).where(OutgoingSms.template_key == "correction_resolved")
    ).all()
    assert [text.person_id for text in texts] == [teams.volunteer.id]
    assert "护苗护学" in texts[0].body and "已核实，改为 7 点到" in texts[0].body
    html = card(page(logged_in.get("/me/hours")), record.id)
    assert "队长已处理更正申请" in html and "已核实，改为 7 点到" in html
    assert "更正申请处理中" not in html

    # A second request and its answer: a second text, and the page shows the newer answer.
    logged_in.post(f"/me/hours/{record.id}/correction", data={"note": "还是不对"})
    records.resolve_correction(record.id, viewer=leader, reason="按签到时间计")
    db.session.commit()
    assert (
        db.session.scalar(
            select(func.count()).where(OutgoingSms.template_key == "correction_resolved")
        )
        == 2
    )
    html = card(page(logged_in.get("/me/hours")), record.id)
    assert "按签到时间计" in html and "已核实" not in html


@pytest.mark.parametrize(
    ("note", "error"),
    [
        ("", "请写明需要更正的内容"),
        ("   \n  ", "请写明需要更正的内容"),
        ("长" * 501, "更正说明不能超过 500 字"),
    ],
)
def test_a_bad_correction_is_refused_in_chinese_and_changes_nothing(
    logged_in, history, note, error
):
    record = history["pending"]
    before = records_state()
    response = logged_in.post(f"/me/hours/{record.id}/correction", data={"note": note})
    assert response.status_code == 400
    html = page(response)
    own = card(html, record.id)
    assert (
        error in own
        and 'aria-invalid="true"' in own
        and '<details class="me-correction" open>' in own
    )
    assert error not in card(html, history["verified"].id)
    assert records_state() == before


def test_someone_elses_or_a_missing_record_is_not_found(logged_in, history):
    before = records_state()
    for record_id in (history["others"].id, 10**6):
        response = logged_in.post(f"/me/hours/{record_id}/correction", data={"note": "改一下"})
        assert response.status_code == 404
    assert records_state() == before


def test_login_is_needed(client, history):
    before = records_state()
    assert client.get("/me/hours").headers["Location"] == "/me/login"
    response = client.post(f"/me/hours/{history['pending'].id}/correction", data={"note": "x"})
    assert response.headers["Location"] == "/me/login"
    assert records_state() == before


def test_the_correction_form_needs_the_csrf_token(logged_in, history, csrf_on):
    record = history["pending"]
    before = records_state()
    url = f"/me/hours/{record.id}/correction"
    assert logged_in.post(url, data={"note": "少记了半小时"}).status_code == 400
    assert logged_in.post(url, data={"note": "x", "csrf_token": "forged"}).status_code == 400
    assert records_state() == before
    html = page(logged_in.get("/me/hours"))
    forms = re.findall(r'<form method="post".*?</form>', html, flags=re.S)
    assert len(forms) >= 5
    assert all('name="csrf_token"' in form for form in forms)
    response = logged_in.post(url, data={"note": "少记了半小时", "csrf_token": token_from(html)})
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(ServiceRecord, record.id).correction_note == "少记了半小时"


def test_no_records_yet(logged_in):
    html = page(logged_in.get("/me/hours"))
    assert "还没有服务记录" in html
    assert totals(html) == ["0 小时", "0 小时", "0"]


def test_a_long_history_comes_a_page_at_a_time(logged_in, teams):
    leader = viewer(teams.leader_a)
    start = datetime(2030, 1, 1, 8, tzinfo=SHANGHAI)
    made = [
        service(teams.team_a, teams.volunteer, leader, start + timedelta(days=i), 1)[1]
        for i in range(personal.HISTORY_PAGE + 2)
    ]
    first = page(logged_in.get("/me/hours"))
    assert first.count('class="me-card"') == personal.HISTORY_PAGE
    assert 'href="/me/hours?page=2"' in first and "更早的记录" in first
    second = page(logged_in.get("/me/hours?page=2"))
    assert [int(i) for i in re.findall(r'id="record-(\d+)"', second)] == [made[1].id, made[0].id]
    assert "更早的记录" not in second and 'href="/me/hours?page=1"' in second


def test_the_page_in_english(logged_in, history):
    html = page(logged_in.get("/me/hours?lang=en"))
    for text in ("My service hours", "Verified", "Pending", "Not verified", "Request a correction"):
        assert text in html, text
    response = logged_in.post(f"/me/hours/{history['pending'].id}/correction", data={"note": ""})
    assert "Please say what should be corrected" in page(response)
