"""The provider's webhooks, signed as Twilio signs them (the real RequestValidator)."""

import re

import pytest
from sqlalchemy import func, select
from twilio.request_validator import RequestValidator

from volunteer_hub.extensions import db
from volunteer_hub.people.models import Person
from volunteer_hub.signups import services as signups
from volunteer_hub.signups.models import Signup
from volunteer_hub.sms.backends.twilio import TwilioGateway
from volunteer_hub.sms.models import InboundSms, OutgoingSms
from volunteer_hub.sms.templates import render

AUTH_TOKEN = "test-auth-token"


@pytest.fixture
def twilio(app):
    app.extensions["sms_gateway"] = TwilioGateway(
        account_sid="AC" + "0" * 32, auth_token=AUTH_TOKEN, from_number="+15005550006"
    )
    yield
    app.extensions.pop("sms_gateway", None)


_sids = iter(range(1, 10**6))


def post_signed(client, path, params, token=AUTH_TOKEN, sign=True):
    url = f"http://localhost{path}"
    headers = {}
    if sign:
        headers["X-Twilio-Signature"] = RequestValidator(token).compute_signature(url, params)
    return client.post(path, data=params, headers=headers)


def text(client, phone, body, sid=None):
    params = {
        "MessageSid": sid or f"SM{next(_sids):032d}",
        "From": phone,
        "To": "+15005550006",
        "Body": body,
    }
    response = post_signed(client, "/sms/inbound", params)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/xml"
    match = re.search(r"<Message>(.*)</Message>", response.get_data(as_text=True), re.S)
    return match.group(1) if match else None


@pytest.fixture
def shift(make):
    # Open to all: the people texting here belong to no team.
    event = make.event(make.team(), capacity=1, title="长江巡堤", open_to_all=True)
    return make.shifts_of(event)[0]


def _count(model):
    return db.session.scalar(select(func.count()).select_from(model))


def test_unsigned_or_wrongly_signed_is_403_and_changes_nothing(client, twilio, make):
    volunteer = make.person()
    params = {"MessageSid": "SM1", "From": volunteer.phone, "Body": "帮助"}
    assert post_signed(client, "/sms/inbound", params, sign=False).status_code == 403
    assert post_signed(client, "/sms/inbound", params, token="wrong").status_code == 403
    assert post_signed(client, "/sms/status", params, sign=False).status_code == 403
    assert _count(InboundSms) == 0


def test_a_signature_over_the_url_with_its_port_is_accepted_too(client, twilio, make):
    """Twilio signs the URL sometimes with the default port written out: the one-HMAC
    check of the URL as we know it fails then, and the SDK's full check lets it in."""
    volunteer = make.person()
    params = {"MessageSid": "SM2", "From": volunteer.phone, "To": "+15005550006", "Body": "帮助"}
    with_port = RequestValidator(AUTH_TOKEN).compute_signature(
        "http://localhost:80/sms/inbound", params
    )
    response = client.post("/sms/inbound", data=params, headers={"X-Twilio-Signature": with_port})
    assert response.status_code == 200
    assert _count(InboundSms) == 1
    forged = RequestValidator(AUTH_TOKEN).compute_signature(
        "http://localhost:81/sms/inbound", params
    )
    response = client.post("/sms/inbound", data=params, headers={"X-Twilio-Signature": forged})
    assert response.status_code == 403


def test_console_backend_keeps_the_webhooks_closed(client, make):
    volunteer = make.person()  # no Twilio configured: SMS_BACKEND is console
    params = {"MessageSid": "SM2", "From": volunteer.phone, "Body": "帮助"}
    assert post_signed(client, "/sms/inbound", params).status_code == 403
    assert _count(InboundSms) == 0


def test_sign_up_by_text_in_any_form(client, twilio, make, shift):
    first, second = make.person(), make.person()
    reply = text(client, first.phone, f"报名{shift.code}")
    assert reply.startswith("【") and "长江巡堤" in reply and shift.code in reply
    full_width = shift.code.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    waitlisted = text(client, second.phone, f"ＢＭ {full_width}")
    assert "候补" in waitlisted and "1" in waitlisted
    sources = db.session.scalars(select(Signup.source)).all()
    assert sources == ["sms", "sms"]
    assert _count(OutgoingSms) == 2  # each reply is a row too


def test_a_replayed_webhook_changes_nothing_twice(client, twilio, make, shift):
    volunteer = make.person()
    assert text(client, volunteer.phone, f"报名 {shift.code}", sid="SMreplay") is not None
    assert text(client, volunteer.phone, f"报名 {shift.code}", sid="SMreplay") is None
    assert (_count(InboundSms), _count(Signup), _count(OutgoingSms)) == (1, 1, 1)


def test_cancel_by_text_promotes_the_waitlist(client, twilio, make, shift):
    holder, waiting = make.person(), make.person()
    text(client, holder.phone, f"报名 {shift.code}")
    text(client, waiting.phone, f"报名 {shift.code}")
    reply = text(client, holder.phone, f"取消 {shift.code}")
    assert "取消" in reply
    assert signups.active_signup(shift.id, waiting.id).status == "confirmed"
    assert text(client, holder.phone, f"qx {shift.code}") != reply  # not signed up any more


def test_opt_out_is_absolute_until_opt_in(client, twilio, make, shift):
    volunteer = make.person()
    confirmation = text(client, volunteer.phone, "退订")
    assert "订阅" in confirmation
    assert db.session.get(Person, volunteer.id).sms_opted_out
    assert text(client, volunteer.phone, f"报名 {shift.code}") is None
    assert text(client, volunteer.phone, "帮助") is None
    assert _count(Signup) == 0
    assert text(client, volunteer.phone, "订阅") is not None
    assert not db.session.get(Person, volunteer.id).sms_opted_out
    assert text(client, volunteer.phone, f"报名 {shift.code}") is not None


@pytest.mark.parametrize("word", ["TD", "STOP", "cancel", "Unsubscribe", "R"])
def test_carrier_opt_out_words(client, twilio, make, word):
    volunteer = make.person()
    text(client, volunteer.phone, word)
    assert db.session.get(Person, volunteer.id).sms_opted_out


def test_unknown_number_is_told_how_to_join_and_nothing_is_created(client, twilio):
    reply = text(client, "+8613911112222", "报名 1234")
    assert reply is not None
    assert _count(Person) == 0 and _count(Signup) == 0


def test_unknown_code_and_missing_code(client, twilio, make):
    volunteer = make.person()
    assert "9999" in text(client, volunteer.phone, "报名 9999")
    assert "报名" in text(client, volunteer.phone, "报名")


def test_my_shifts_lists_codes(client, twilio, make, shift):
    volunteer = make.person()
    text(client, volunteer.phone, f"报名 {shift.code}")
    assert shift.code in text(client, volunteer.phone, "我的")


def test_status_callbacks_only_move_forward(client, twilio, make):
    from volunteer_hub.sms import services

    volunteer = make.person()
    row = services.queue_text(
        to_phone=volunteer.phone,
        text=render("reminder", title="防汛巡堤", when="12月1日 08:00", place="江滩", code="1234"),
        kind="notice",
        dedupe_key="s:1",
        person_id=volunteer.id,
    )
    row.status, row.provider_sid = "sent", "SM" + "a" * 32
    db.session.commit()

    def report(status):
        params = {"MessageSid": row.provider_sid, "MessageStatus": status}
        assert post_signed(client, "/sms/status", params).status_code == 204
        db.session.expire_all()
        return db.session.get(OutgoingSms, row.id).status

    assert report("delivered") == "delivered"
    assert report("sent") == "delivered"  # a late, older report does not move it back
    assert report("queued") == "delivered"


def test_a_failed_report_keeps_the_providers_error_code(client, twilio, make):
    from volunteer_hub.sms import services

    volunteer = make.person()
    row = services.queue_text(
        to_phone=volunteer.phone,
        text=render("reminder", title="防汛巡堤", when="12月1日 08:00", place="江滩", code="1234"),
        kind="notice",
        dedupe_key="s:2",
        person_id=volunteer.id,
    )
    row.status, row.provider_sid = "sent", "SM" + "b" * 32
    db.session.commit()

    params = {"MessageSid": row.provider_sid, "MessageStatus": "undelivered", "ErrorCode": "30003"}
    assert post_signed(client, "/sms/status", params).status_code == 204
    db.session.expire_all()
    stored = db.session.get(OutgoingSms, row.id)
    assert (stored.status, stored.error_code) == ("undelivered", "30003")


def test_a_delivery_report_on_an_unknown_message_changes_nothing(client, twilio, make):
    from volunteer_hub.sms import services

    volunteer = make.person()
    row = services.queue_text(
        to_phone=volunteer.phone,
        text=render("reminder", title="防汛巡堤", when="12月1日 08:00", place="江滩", code="1234"),
        kind="notice",
        dedupe_key="s:3",
        person_id=volunteer.id,
    )
    row.status, row.provider_sid = "sent", "SM" + "c" * 32
    db.session.commit()

    assert not services.record_delivery_report("SM" + "d" * 32, "delivered")
    assert row.status == "sent"
    assert services.record_delivery_report(row.provider_sid, "delivered")
    assert row.status == "delivered"
    # and a provider's word we do not follow is ignored at the webhook
    params = {"MessageSid": row.provider_sid, "MessageStatus": "receiving"}
    assert post_signed(client, "/sms/status", params).status_code == 204


# -- 确认: confirming attendance after a reminder ----------------------------------------


def _sent_reminder(signup, when):
    """A reminder the provider already took, as the outbox records it."""
    db.session.add(
        OutgoingSms(
            person_id=signup.person_id,
            to_phone="+8613800000000",
            body="提醒",
            kind="reminder",
            dedupe_key=f"reminder:{signup.id}:test",
            status="sent",
            signup_id=signup.id,
            sent_at=when,
        )
    )
    db.session.commit()


def test_confirm_with_a_code_marks_that_signup(client, twilio, make, shift):
    volunteer = make.person()
    signup = signups.sign_up(shift.id, volunteer.id, "web").signup
    db.session.commit()

    reply = text(client, volunteer.phone, f"确认 {shift.code}")

    assert "已确认参加" in reply and "长江巡堤" in reply
    db.session.refresh(signup)
    assert signup.attendance_confirmed_at is not None


def test_confirm_without_code_means_the_latest_reminder(client, twilio, make):
    team = make.team()
    early, late = make.shifts_of(
        make.event(
            team,
            title="防汛值守",
            open_to_all=True,
            shifts=[
                {"starts_at": make.future(5), "ends_at": make.future(9), "capacity": 5},
                {"starts_at": make.future(20), "ends_at": make.future(24), "capacity": 5},
            ],
        )
    )
    volunteer = make.person()
    first = signups.sign_up(early.id, volunteer.id, "web").signup
    second = signups.sign_up(late.id, volunteer.id, "web").signup
    db.session.commit()
    _sent_reminder(second, make.future(-1))  # the later shift's 24 h reminder went out

    assert "已确认参加" in text(client, volunteer.phone, "Y")

    db.session.refresh(first)
    db.session.refresh(second)
    assert second.attendance_confirmed_at is not None
    assert first.attendance_confirmed_at is None


def test_confirm_without_reminder_takes_the_next_shift_within_two_days(client, twilio, make):
    soon, far = (
        make.shifts_of(make.event(make.team(), starts_at=make.future(hours), open_to_all=True))[0]
        for hours in (30, 24 * 6)
    )
    volunteer = make.person()
    near = signups.sign_up(soon.id, volunteer.id, "web").signup
    later = signups.sign_up(far.id, volunteer.id, "web").signup
    db.session.commit()

    assert "已确认参加" in text(client, volunteer.phone, "ＱＲ")

    db.session.refresh(near)
    db.session.refresh(later)
    assert near.attendance_confirmed_at is not None
    assert later.attendance_confirmed_at is None


def test_confirm_with_nothing_ahead_or_a_foreign_code_changes_nothing(client, twilio, make, shift):
    volunteer = make.person()
    assert "没有需要确认" in text(client, volunteer.phone, "确认")
    assert f"没有报名编号{shift.code}" in text(client, volunteer.phone, f"确认{shift.code}")
    waiting = make.person()
    signups.sign_up(shift.id, make.person().id, "web")  # takes the only seat
    waitlisted = signups.sign_up(shift.id, waiting.id, "web").signup
    db.session.commit()

    assert f"没有报名编号{shift.code}" in text(client, waiting.phone, f"确认 {shift.code}")

    db.session.refresh(waitlisted)
    assert waitlisted.attendance_confirmed_at is None
    assert (
        db.session.scalar(
            select(func.count())
            .select_from(Signup)
            .where(Signup.attendance_confirmed_at.is_not(None))
        )
        == 0
    )


@pytest.mark.parametrize(
    ("body", "recorded"),
    [
        ("报名\x00{code}", "报名{code}"),
        ("\x00报名 {code}\x00", "报名 {code}"),
        ("报\x07名\x1b{code}", "报名{code}"),
    ],
    ids=["nul inside", "nul around", "other controls"],
)
def test_a_text_with_control_characters_is_recorded_and_answered(
    client, twilio, make, body, recorded
):
    """Signed over what the provider sent (the NUL included); recorded and acted on
    without it. A 500 here would have the provider retry the same text forever."""
    team = make.team()
    volunteer = make.member(team)
    shift = make.shifts_of(make.event(team, title="长江巡堤"))[0]
    reply = text(client, volunteer.phone, body.format(code=shift.code), sid="SMnul0001")
    assert reply and "长江巡堤" in reply
    inbound = db.session.scalar(select(InboundSms))
    assert (inbound.body, inbound.message_sid) == (recorded.format(code=shift.code), "SMnul0001")
    signup = db.session.scalar(select(Signup))
    assert (signup.person_id, signup.shift_id) == (volunteer.id, shift.id)
    assert "\x00" not in db.session.scalar(select(OutgoingSms.body))
    assert text(client, volunteer.phone, body.format(code=shift.code), sid="SMnul0001") is None
    assert _count(InboundSms) == 1  # a replay is still recognised


def test_a_text_of_nothing_but_a_nul_gets_the_help_reply(client, twilio, make):
    volunteer = make.person()
    reply = text(client, volunteer.phone, "\x00")
    assert reply
    assert db.session.scalar(select(InboundSms.body)) == ""


def test_the_signature_still_covers_what_was_sent(client, twilio, make):
    """Cleaning comes after the check: a signature over the cleaned text is not Twilio's."""
    volunteer = make.person()
    sent = {"MessageSid": "SMnul0002", "From": volunteer.phone, "To": "+15005550006"}
    signature = RequestValidator(AUTH_TOKEN).compute_signature(
        "http://localhost/sms/inbound", {**sent, "Body": "帮助"}
    )
    response = client.post(
        "/sms/inbound", data={**sent, "Body": "帮\x00助"}, headers={"X-Twilio-Signature": signature}
    )
    assert response.status_code == 403
    assert _count(InboundSms) == 0
