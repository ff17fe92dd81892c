"""Reply bodies: within one UCS-2 segment with the signature, no phone numbers, sound times."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from volunteer_hub.config import DEFAULT_SMS_SIGNATURE
from volunteer_hub.sms import replies
from volunteer_hub.sms.commands import CommandKind
from volunteer_hub.sms.segments import UCS2_SINGLE, count_segments
from volunteer_hub.sms.templates import BODY_BUDGET, format_time, units

SHANGHAI = ZoneInfo("Asia/Shanghai")
WHEN = datetime(2025, 11, 25, 8, 0, tzinfo=SHANGHAI)

TITLES = [
    "防汛",
    "防汛巡堤",
    "敬老院探访与义务理发",
    "汉阳区退役军人志愿服务队防汛巡堤暨江滩环境整治志愿服务活动",
    "鄂州市梁子湖区2025年冬季森林防火巡护志愿服务（第三期）—— 重点林区",
    "🚩 江滩清洁 🧹🧹🧹 欢迎家属参加 🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉",
    "A" * 200,
]
CODES = ["123", "1234", "56789", "123456"]
# A run of 7+ digits (with optional spaces/dashes) would look like a phone number.
PHONE_LIKE = re.compile(r"\d(?:[\s\-]?\d){6,}")


TEAMS = [
    "长江卫士队",
    "汉阳区退役军人志愿服务队",
    "鄂州市梁子湖区涂家垴镇退役军人志愿服务队（第三分队）",
]
PLACES = ["", "江滩", "鄂州市鄂城区莲花山社区党群服务中心（联系人13800138000）"]
#: (team, place) pairs every sign-up reply is tried with, short to long
ABOUT = [("", ""), (TEAMS[0], PLACES[1]), (TEAMS[1], PLACES[2]), (TEAMS[2], PLACES[2])]


def _sign_up_bodies(title: str, code: str, team: str, location: str) -> list[str]:
    about = {"title": title, "code": code, "team": team, "location": location}
    return [
        replies.signup_confirmed(starts_at=WHEN, **about).text,
        replies.signup_waitlisted(starts_at=WHEN, position=3, **about).text,
        replies.signup_waitlisted(starts_at=WHEN, position=128, **about).text,
        replies.already_signed_up(starts_at=WHEN, **about).text,
        replies.shift_started(**about).text,
        replies.event_cancelled(**about).text,
        replies.members_only(**about).text,
    ]


def _all_bodies(title: str, code: str) -> list[str]:
    kinds = [CommandKind.SIGN_UP, CommandKind.CANCEL, CommandKind.CHECK_IN, CommandKind.CHECK_OUT]
    return [
        *(body for team, place in ABOUT for body in _sign_up_bodies(title, code, team, place)),
        replies.help_text().text,
        replies.unknown_command().text,
        *(replies.need_code(kind).text for kind in kinds),
        replies.unknown_number().text,
        replies.opted_out().text,
        replies.opted_in().text,
        replies.signup_confirmed(title=title, starts_at=WHEN, code=code).text,
        replies.signup_waitlisted(title=title, starts_at=WHEN, code=code, position=3).text,
        replies.signup_waitlisted(title=title, starts_at=WHEN, code=code, position=128).text,
        replies.waitlist_promoted(title=title, starts_at=WHEN, code=code).text,
        replies.already_signed_up(title=title, starts_at=WHEN, code=code).text,
        replies.shift_started(title=title, code=code).text,
        replies.event_cancelled(title=title, code=code).text,
        replies.unknown_code(code=code).text,
        replies.cancel_done(title=title, starts_at=WHEN, code=code).text,
        replies.not_signed_up(code=code).text,
        replies.confirm_thanks().text,
        replies.confirm_thanks(title=title, starts_at=WHEN).text,
        replies.nothing_to_confirm().text,
        replies.checked_in(title=title, at=WHEN).text,
        replies.checked_in(title=title, at=WHEN, code=code).text,
        replies.checked_out(title=title, at=WHEN).text,
        replies.checked_out(title=title, at=WHEN, minutes=36 * 60 - 15).text,
        replies.check_in_not_open(title=title, opens_at=WHEN).text,
        replies.check_in_closed(title=title, code=code).text,
        replies.already_checked_in(title=title, at=WHEN, code=code).text,
        replies.waitlisted_no_check_in(code=code).text,
        replies.shift_cancelled(title=title, code=code).text,
        replies.record_decided(title=title, code=code).text,
        replies.not_checked_in(code=code).text,
        replies.already_checked_out(title=title, at=WHEN, code=code).text,
        replies.already_checked_out(title=title, at=None, code=code).text,
        replies.check_out_closed(title=title, code=code).text,
        replies.need_code(CommandKind.CORRECTION).text,
        replies.my_hours(
            verified_minutes=9_999 * 60 + 15, year_minutes=999 * 60, year=2025, pending=0
        ).text,
        replies.my_hours(
            verified_minutes=99_999 * 60 + 45, year_minutes=9_999 * 60, year=2025, pending=999
        ).text,
        replies.no_records().text,
        replies.correction_received(title=title, day=WHEN).text,
        replies.correction_need_note(code).text,
        replies.correction_no_record(code=code).text,
        replies.correction_too_long(limit=500).text,
        replies.my_shifts([]).text,
        replies.my_shifts([(code, title, WHEN)]).text,
    ]


@pytest.mark.parametrize("code", CODES)
@pytest.mark.parametrize("title", TITLES)
def test_every_body_fits_one_segment_with_the_signature(title, code):
    for body in _all_bodies(title, code):
        assert body
        assert units(body) <= BODY_BUDGET, body
        assert units(DEFAULT_SMS_SIGNATURE + body) <= UCS2_SINGLE, body
        assert count_segments(DEFAULT_SMS_SIGNATURE + body) == 1, body


def test_signature_takes_ten_units():
    assert units(DEFAULT_SMS_SIGNATURE) == 10
    assert BODY_BUDGET + 10 == UCS2_SINGLE


@pytest.mark.parametrize("code", CODES)
@pytest.mark.parametrize("title", TITLES)
def test_no_body_looks_like_a_phone_number(title, code):
    for body in _all_bodies(title, code):
        assert not PHONE_LIKE.search(body), body


@pytest.mark.parametrize(
    ("title", "shown"),
    [
        ("联系人张师傅13800138000", "138****8000"),
        ("联系 138 0013 8000 报到", "138****8000"),
        ("联系电话：027-88886666", "****"),
        ("联系１３８００１３８０００", "１３８****８０００"),
    ],
)
def test_phone_numbers_in_titles_are_masked(title, shown):
    body = replies.signup_confirmed(title=title, starts_at=WHEN, code="1234").text
    assert shown in body
    assert not PHONE_LIKE.search(body)
    assert not re.search(r"[0-9０-９]{7,}", body)


def test_short_title_is_kept_whole():
    body = replies.signup_confirmed(title="防汛巡堤", starts_at=WHEN, code="1234").text
    assert body == "报名成功：“防汛巡堤”，11月25日 08:00，地点：待定。取消请回复 取消 1234"


def test_a_sign_up_reply_names_the_team_and_the_place():
    about = {"title": "防汛巡堤", "code": "1234", "team": "长江卫士队", "location": "鄂州江滩"}
    assert (
        replies.signup_confirmed(starts_at=WHEN, **about).text
        == "报名成功：长江卫士队“防汛巡堤”，11月25日 08:00，地点：鄂州江滩。取消请回复 取消 1234"
    )
    for body in _sign_up_bodies(**about):
        assert "长江卫士队“防汛巡堤”" in body and "地点：鄂州江滩" in body, body


@pytest.mark.parametrize("team", TEAMS)
@pytest.mark.parametrize("title", TITLES)
def test_long_team_title_and_place_are_all_cut_and_all_kept(title, team):
    place = PLACES[-1]
    for body in _sign_up_bodies(title, "123456", team, place):
        assert units(body) <= BODY_BUDGET, body
        named, rest = body.split("“", 1)
        assert named.removeprefix("报名成功：").removeprefix("您已报名")[:3] == team[:3], body
        assert "地点：鄂州市" in rest, body
        assert not PHONE_LIKE.search(body), body


def test_members_only_says_so_and_whose_event_it_is():
    body = replies.members_only(
        title="防汛巡堤", code="6422", team="长江卫士队", location="江滩"
    ).text
    assert body.startswith("长江卫士队“防汛巡堤”（编号6422，地点：江滩）仅限该队队员报名")
    assert "未为您报名" in body


def test_long_title_is_cut_with_an_ellipsis_and_keeps_code_and_time():
    title = TITLES[3]
    body = replies.signup_confirmed(title=title, starts_at=WHEN, code="123456").text
    assert "…" in body
    assert title not in body
    assert title[:10] in body
    assert "11月25日 08:00" in body
    assert body.endswith("取消 123456")
    assert units(body) == BODY_BUDGET  # cut just enough


def test_title_whitespace_is_collapsed_and_an_empty_title_named():
    body = replies.cancel_done(title="  防汛\n巡堤  ", starts_at=WHEN, code="1234").text
    assert "防汛 巡堤" in body
    assert "活动" in replies.cancel_done(title="   ", starts_at=WHEN, code="1234").text


def test_emoji_title_is_not_cut_inside_a_surrogate_pair():
    body = replies.signup_confirmed(title="🎉" * 60, starts_at=WHEN, code="1234").text
    body.encode("utf-8")  # a lone surrogate would raise
    assert units(body) <= BODY_BUDGET


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (datetime(2025, 11, 25, 8, 0, tzinfo=SHANGHAI), "11月25日 08:00"),
        (datetime(2025, 1, 5, 19, 30, tzinfo=SHANGHAI), "1月5日 19:30"),
        (datetime(2025, 11, 25, 8, 0), "11月25日 08:00"),  # naive: taken as local already
        (datetime(2025, 11, 25, 0, 0, tzinfo=UTC), "11月25日 08:00"),  # aware: to Shanghai
        (datetime(2025, 12, 31, 16, 30, tzinfo=UTC), "1月1日 00:30"),
    ],
)
def test_format_time(value, shown):
    assert format_time(value) == shown


def test_waitlisted_names_the_position():
    body = replies.signup_waitlisted(title="防汛巡堤", starts_at=WHEN, code="1234", position=3).text
    assert "候补第3位" in body
    assert "防汛巡堤" in body


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        (CommandKind.SIGN_UP, "请回复 报名+编号，如：报名 1234"),
        (CommandKind.CANCEL, "请回复 取消+编号，如：取消 1234"),
        (CommandKind.CHECK_IN, "请回复 签到+编号，如：签到 1234"),
        (CommandKind.CHECK_OUT, "请回复 签退+编号，如：签退 1234"),
    ],
)
def test_need_code_hints(kind, expected):
    assert replies.need_code(kind).text == expected


def test_need_code_for_a_kind_without_code_falls_back_to_help():
    assert replies.need_code(CommandKind.HELP).text == replies.help_text().text


def test_help_lists_the_main_commands():
    for word in ("报名", "取消", "确认", "我的", "退订", "签到", "签退", "我的时长", "更正"):
        assert word in replies.help_text().text


def test_opt_out_confirmation_says_how_to_come_back():
    assert "订阅" in replies.opted_out().text
    assert "退订" in replies.opted_out().text


def test_unknown_number_is_offered_the_way_to_join():
    body = replies.unknown_number().text
    assert "尚未登记" in body
    assert "队长" in body


# -- my shifts -------------------------------------------------------------------------


def _at(day: int, hour: int) -> datetime:
    return datetime(2025, 11, day, hour, 0, tzinfo=SHANGHAI)


def test_my_shifts_empty():
    assert "没有" in replies.my_shifts([]).text


def test_my_shifts_one():
    assert replies.my_shifts([("1234", "防汛巡堤", _at(25, 8))]).text == (
        "您的安排：11月25日 08:00 防汛巡堤 1234"
    )


def test_my_shifts_are_listed_soonest_first():
    body = replies.my_shifts([("5678", "敬老院", _at(26, 9)), ("1234", "防汛", _at(25, 8))]).text
    assert body == "您的安排：11月25日 08:00 防汛 1234；11月26日 09:00 敬老院 5678"


def test_my_shifts_a_page_says_how_many_more_and_how_to_see_them():
    shifts = [(str(1000 + day), f"活动{day}", _at(day, 8)) for day in range(20, 28)]
    body = replies.my_shifts(reversed(shifts)).text
    assert body == (
        "您的安排：11月20日 08:00 活动20 1020；11月21日 08:00 活动21 1021；"
        "11月22日 08:00 活动22 1022。另有5个，回复“我的 2”看下一页，或登录志愿者页面查看。"
    )
    assert count_segments(DEFAULT_SMS_SIGNATURE + body) == 2


def test_my_shifts_next_pages():
    shifts = [(str(1000 + day), f"活动{day}", _at(day, 8)) for day in range(20, 28)]
    second = replies.my_shifts(shifts, page=2).text
    assert second.startswith("您的安排：11月23日 08:00 活动23 1023；")
    assert second.endswith("另有2个，回复“我的 3”看下一页，或登录志愿者页面查看。")
    last = replies.my_shifts(shifts, page=3).text
    assert last == "您的安排：11月26日 08:00 活动26 1026；11月27日 08:00 活动27 1027"
    assert replies.my_shifts(shifts, page=4).text == (
        "您共有8个安排，没有第4页。回复“我的”从头查看。"
    )


def test_my_shifts_long_titles_are_cut_in_the_list():
    body = replies.my_shifts(
        [("1234", TITLES[3], _at(25, 8)), ("5678", TITLES[4], _at(26, 8))]
    ).text
    assert "…" in body
    assert "1234" in body and "5678" in body
    assert units(body) <= BODY_BUDGET


@pytest.mark.parametrize("code", CODES)
@pytest.mark.parametrize("title", TITLES)
def test_a_full_page_of_my_shifts_takes_two_segments_at_most(title, code):
    body = replies.my_shifts([(code, title, WHEN)] * 5).text
    assert count_segments(DEFAULT_SMS_SIGNATURE + body) <= 2, body


def test_my_shifts_shows_aware_utc_times_in_shanghai():
    body = replies.my_shifts([("1234", "防汛", datetime(2025, 11, 25, 0, 0, tzinfo=UTC))]).text
    assert "11月25日 08:00" in body


def test_texts_show_times_in_the_configured_zone(app, monkeypatch):
    starts = datetime(2025, 11, 25, 0, 0, tzinfo=UTC)
    with app.app_context():
        assert format_time(starts) == "11月25日 08:00"  # TIMEZONE's default, Asia/Shanghai
        monkeypatch.setitem(app.config, "TIMEZONE", "Asia/Tokyo")
        assert format_time(starts) == "11月25日 09:00"
        confirmed = replies.signup_confirmed(title="防汛巡堤", starts_at=starts, code="1234")
        assert "11月25日 09:00" in confirmed.text
        shown = replies.span(starts, datetime(2025, 11, 25, 15, 30, tzinfo=UTC))
        assert shown == "11月25日 09:00–11月26日 00:30"
        noted = replies.correction_received(
            title="防汛巡堤", day=datetime(2025, 11, 25, 15, 30, tzinfo=UTC)
        )
        assert "11月26日" in noted.text


def test_cancellation_reason_is_shortened_and_never_carries_a_phone_number():
    text = replies.organizer_cancelled(
        title="长江巡堤",
        starts_at=datetime(2026, 12, 1, 8, 0),
        code="1234",
        whole_event=True,
        reason="台风预警，江堤封闭，请联系 138 0013 8000 了解改期安排" * 3,
    ).text
    assert "原因：台风预警" in text
    assert "138 0013 8000" not in text and "13800138000" not in text
    assert "…" in text  # cut, so that the notice stays within two segments
    assert count_segments(DEFAULT_SMS_SIGNATURE + text) <= 2


def test_no_reason_no_reason_line():
    text = replies.organizer_cancelled(
        title="长江巡堤", starts_at=datetime(2026, 12, 1, 8, 0), code="1234", whole_event=False
    ).text
    assert "原因" not in text and "1234" in text


def test_reminder_names_what_when_where_and_the_code_within_two_segments():
    text = replies.reminder(
        title="“八个一”拥军活动：走进武警鄂州支队慰问官兵并开展军地联谊" * 2,
        starts_at=datetime(2026, 12, 1, 0, 0, tzinfo=UTC),
        location="鄂州市鄂城区凤凰街道莲花山社区党群服务中心二楼会议室（联系 027-60880000）",
        code="4821",
    ).text
    assert "12月1日 08:00" in text  # shown in Asia/Shanghai
    assert "取消 4821" in text and "确认" in text
    assert "60880000" not in text  # phone-like digits never go into a text
    assert count_segments(DEFAULT_SMS_SIGNATURE + text) <= 2


@pytest.mark.parametrize(
    ("minutes", "text"), [(0, "0"), (30, "0.5"), (60, "1"), (90, "1.5"), (15, "0.25"), (20, "0.33")]
)
def test_hours_are_written_without_trailing_zeros(minutes, text):
    assert replies.format_hours(minutes) == text


def test_my_hours_names_the_year_and_the_pending_only_when_there_are_some():
    body = replies.my_hours(verified_minutes=750, year_minutes=480, year=2025, pending=2).text
    assert body == "您的志愿服务时长：累计认定12.5小时，2025年8小时；另有2条记录待审核。"
    body = replies.my_hours(verified_minutes=750, year_minutes=480, year=2025, pending=0).text
    assert body == "您的志愿服务时长：累计认定12.5小时，2025年8小时。"


def test_check_out_reply_says_the_hours_counted():
    body = replies.checked_out(title="防汛巡堤", at=WHEN, minutes=150).text
    assert body == "签退成功：防汛巡堤，11月25日 08:00。本次计2.5小时，待队长审核。"


def test_correction_received_names_the_day_in_shanghai():
    late_utc = datetime(2025, 11, 24, 17, 0, tzinfo=UTC)  # 25 Nov 01:00 in Shanghai
    assert "（11月25日）" in replies.correction_received(title="防汛", day=late_utc).text
