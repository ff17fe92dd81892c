"""Erasure and the person's texts: every text to or from them, under any number they had,
keeps what statistics and a carrier's audit need and loses its words and numbers; the
texts of everyone else, the statistics and the segment counts stay as they were."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from tests import factories
from tests.hours.support import shift_with_people
from tests.roster.conftest import HEADERS, phone, run, xlsx
from tests.sms.helpers import deliver_all, texted
from tests.teams.conftest import code_sent_to
from volunteer_hub.auth.login_codes import request_code
from volunteer_hub.auth.models import PasswordReset
from volunteer_hub.auth.password_resets import request_reset
from volunteer_hub.auth.permissions import viewer_for
from volunteer_hub.calendar import services as feeds
from volunteer_hub.calendar.models import Feed
from volunteer_hub.db import utcnow
from volunteer_hub.extensions import db
from volunteer_hub.hours import attendance
from volunteer_hub.hours.models import RecordChange, ServiceRecord
from volunteer_hub.ops.services import outbox_counts
from volunteer_hub.people import phone_changes
from volunteer_hub.people.erasure import erase_person
from volunteer_hub.people.models import Person
from volunteer_hub.people.services import erased_phone
from volunteer_hub.sms import replies
from volunteer_hub.sms import services as sms
from volunteer_hub.sms.models import InboundSms, OutgoingSms, SmsKind, SmsStatus

MINUTE = timedelta(minutes=1)
#: the numbers the erased person held after their first one, and one they asked for last
SECOND_PHONE, ASKED_PHONE = "+8613977770001", "+8613977770002"
NOTE = "我八点就到了，签到晚了"
#: what erasure keeps of an outgoing text (template_key: the kind of text, no words)
OUT_KEPT = (
    "id",
    "person_id",
    "template_key",
    "kind",
    "dedupe_key",
    "status",
    "segments",
    "attempts",
    "provider",
    "provider_sid",
    "error_code",
    "created_at",
    "claimed_at",
    "sent_at",
    "status_changed_at",
)
IN_KEPT = ("id", "message_sid", "to_phone", "person_id", "command", "reply_id", "received_at")


def rows(model, where=None) -> dict[int, dict]:
    """Every column of the matching rows, by id, as stored."""
    db.session.expire_all()
    query = select(model.__table__)
    if where is not None:
        query = query.where(where)
    return {row.id: dict(row._mapping) for row in db.session.execute(query)}


def kept(row: dict, names: tuple[str, ...]) -> dict:
    return {name: row[name] for name in names}


def sms_statistics() -> tuple:
    """What the outbox amounts to: the ops page's counts, and texts and segments by kind,
    status, provider and error, the inbound texts by command."""
    since = utcnow() - timedelta(days=1)
    outgoing = db.session.execute(
        select(
            OutgoingSms.kind,
            OutgoingSms.status,
            OutgoingSms.provider,
            OutgoingSms.error_code,
            func.count(),
            func.sum(OutgoingSms.segments),
        )
        .group_by(
            OutgoingSms.kind, OutgoingSms.status, OutgoingSms.provider, OutgoingSms.error_code
        )
        .order_by(OutgoingSms.kind, OutgoingSms.status, OutgoingSms.error_code)
    ).all()
    inbound = db.session.execute(
        select(InboundSms.command, func.count())
        .group_by(InboundSms.command)
        .order_by(InboundSms.command)
    ).all()
    return outbox_counts(since, utcnow()), [tuple(r) for r in outgoing], [tuple(r) for r in inbound]


@pytest.fixture
def history(make):
    """A volunteer who texted under two numbers, asked for a third, and was texted a
    sign-up confirmation, an hours reply, a login code and both codes of phone changes;
    a teammate who texted too; and a newcomer who took the volunteer's first number.
    Everything sent (the console backend), so statuses are final."""
    now = utcnow().replace(second=0, microsecond=0)
    _team, shift, (person, other) = shift_with_people(
        starts_at=now - 90 * MINUTE, hours=3, title="护苗护学"
    )
    first_phone = person.phone
    # Before the number was theirs on record: a text we could link to nobody.
    texted(SECOND_PHONE, "帮助", "SMerase-unlinked")
    for someone in (person, other):
        attendance.check_in(shift.id, someone.id, now=now - 80 * MINUTE)
    db.session.commit()
    texted(first_phone, f"QT {shift.code}", "SMerase-hours")
    texted(other.phone, f"QT {shift.code}", "SMerase-other-hours")
    texted(first_phone, f"更正 {shift.code} {NOTE}", "SMerase-correction")
    request_code(first_phone)
    db.session.commit()
    phone_changes.start(person.id, SECOND_PHONE, requested_by_id=person.id)
    db.session.commit()
    phone_changes.confirm(person.id, code_sent_to(SECOND_PHONE))
    db.session.commit()
    texted(SECOND_PHONE, "我的", "SMerase-mine")
    phone_changes.start(person.id, ASKED_PHONE, requested_by_id=person.id)
    db.session.commit()
    newcomer = make.person(phone=first_phone)
    texted(first_phone, "帮助", "SMerase-newcomer")
    deliver_all()
    db.session.commit()
    # A provider's refusal that quotes the number, as Twilio's 21211 does.
    db.session.execute(
        update(OutgoingSms)
        .where(OutgoingSms.person_id == person.id, OutgoingSms.kind == SmsKind.LOGIN_CODE)
        .values(
            status=SmsStatus.FAILED,
            error_code="21211",
            error_message=f"The 'To' number {first_phone} is not a valid phone number.",
        )
    )
    db.session.commit()
    return person, other, newcomer, first_phone


def test_their_texts_lose_words_and_numbers_and_nothing_else_changes(make, history):
    person, other, newcomer, first_phone = history
    # Theirs: linked to them under both numbers, the unlinked ones of their number now
    # (the first text, its reply, the code of the change to it), and the code of the
    # change they asked for last.
    theirs_out = rows(
        OutgoingSms,
        (OutgoingSms.person_id == person.id)
        | OutgoingSms.to_phone.in_((SECOND_PHONE, ASKED_PHONE)),
    )
    theirs_in = rows(
        InboundSms, (InboundSms.person_id == person.id) | (InboundSms.from_phone == SECOND_PHONE)
    )
    others_out = rows(OutgoingSms, OutgoingSms.id.not_in(theirs_out))
    others_in = rows(InboundSms, InboundSms.id.not_in(theirs_in))
    # The scenario is what it says: every kind of text under each number.
    kinds = {(row["kind"], row["to_phone"], row["person_id"]) for row in theirs_out.values()}
    assert {
        (SmsKind.NOTICE, first_phone, person.id),  # sign-up confirmed, phone changed
        (SmsKind.REPLY, first_phone, person.id),  # the hours, the correction
        (SmsKind.LOGIN_CODE, first_phone, person.id),
        (SmsKind.LOGIN_CODE, SECOND_PHONE, None),  # the code of the change
        (SmsKind.REPLY, SECOND_PHONE, None),  # the answer to the unlinked text
        (SmsKind.REPLY, SECOND_PHONE, person.id),
        (SmsKind.LOGIN_CODE, ASKED_PHONE, None),
    } == kinds
    assert any("本次计1.5小时" in row["body"] for row in theirs_out.values())
    assert any(row["template_vars"] for row in theirs_out.values())
    assert len(theirs_in) == 4 and {row["from_phone"] for row in theirs_in.values()} == {
        first_phone,
        SECOND_PHONE,
    }
    assert any(row["from_phone"] == first_phone for row in others_in.values())  # the newcomer
    assert {row["person_id"] for row in others_out.values()} >= {other.id, newcomer.id}
    statistics = sms_statistics()

    erase_person(viewer_for(make.admin()), person.id)
    db.session.commit()

    placeholder = erased_phone(person.id)
    after_out = rows(OutgoingSms, OutgoingSms.id.in_(theirs_out))
    for row_id, before in theirs_out.items():
        row = after_out[row_id]
        assert (row["to_phone"], row["body"], row["template_vars"], row["error_message"]) == (
            placeholder,
            "",
            None,
            None,
        ), row
        assert kept(row, OUT_KEPT) == kept(before, OUT_KEPT)
    # SQL NULL, not a JSON null.
    assert (
        db.session.scalar(
            select(func.count()).where(
                OutgoingSms.id.in_(theirs_out), OutgoingSms.template_vars.is_not(None)
            )
        )
        == 0
    )
    after_in = rows(InboundSms, InboundSms.id.in_(theirs_in))
    for row_id, before in theirs_in.items():
        row = after_in[row_id]
        assert (row["from_phone"], row["body"]) == (placeholder, ""), row
        assert kept(row, IN_KEPT) == kept(before, IN_KEPT)
    # Everyone else's texts, the newcomer's under the erased person's first number too.
    assert rows(OutgoingSms, OutgoingSms.id.not_in(theirs_out)) == others_out
    assert rows(InboundSms, InboundSms.id.not_in(theirs_in)) == others_in
    assert sms_statistics() == statistics
    # Nothing of theirs is left to find by a number they had.
    assert rows(OutgoingSms, OutgoingSms.to_phone.in_((SECOND_PHONE, ASKED_PHONE))) == {}
    assert rows(InboundSms, InboundSms.from_phone == SECOND_PHONE) == {}


def test_the_correction_they_asked_for_keeps_no_words(make, history):
    person, other, _newcomer, _first_phone = history
    other_record = db.session.scalar(
        select(ServiceRecord).where(ServiceRecord.person_id == other.id)
    )
    other_record_before = rows(ServiceRecord, ServiceRecord.id == other_record.id)
    other_trail = rows(RecordChange, RecordChange.person_id == other.id)
    trail = rows(RecordChange, RecordChange.person_id == person.id)
    assert NOTE in json.dumps(list(trail.values()), ensure_ascii=False, default=str)

    erase_person(viewer_for(make.admin()), person.id)
    db.session.commit()

    record = db.session.scalar(select(ServiceRecord).where(ServiceRecord.person_id == person.id))
    # Still open for the leader, without what it said.
    assert record.correction_requested_at is not None and record.correction_note == ""
    after = rows(RecordChange, RecordChange.person_id == person.id)
    assert NOTE not in json.dumps(list(after.values()), ensure_ascii=False, default=str)
    asked = [row for row in after.values() if row["action"] == "correction_requested"]
    assert len(asked) == 1 and asked[0]["reason"] == ""
    # The trail still says who asked and when (its actor and time), not what.
    assert asked[0]["changes"] == {}
    # The rest of the trail as it was.
    for row_id, row in after.items():
        assert {**row, "reason": None, "changes": None} == {
            **trail[row_id],
            "reason": None,
            "changes": None,
        }
        if row["action"] != "correction_requested":
            assert row == trail[row_id]
    assert rows(RecordChange, RecordChange.person_id == other.id) == other_trail
    assert rows(ServiceRecord, ServiceRecord.id == other_record.id) == other_record_before


def test_texts_still_waiting_are_cancelled_even_unlinked(make):
    person = make.person()
    bystander = make.person()
    phone_changes.start(person.id, ASKED_PHONE, requested_by_id=person.id)
    db.session.commit()
    code_text = db.session.scalar(select(OutgoingSms).where(OutgoingSms.to_phone == ASKED_PHONE))
    assert (code_text.status, code_text.person_id) == (SmsStatus.QUEUED, None)
    # They texted TD through a domestic provider: the confirmation waits in the outbox,
    # and opting out again (as erasure does) leaves it there.
    sms.opt_out(person.id, channel="sms", keyword="TD")
    confirmation = sms.queue_text(
        to_phone=person.phone,
        text=replies.opted_out(),
        kind=SmsKind.OPT_OUT_CONFIRMATION,
        dedupe_key="reply:SMerase-td",
        person_id=person.id,
    )
    db.session.commit()
    assert confirmation.status == SmsStatus.QUEUED
    request_code(bystander.phone)
    db.session.commit()
    bystanders = rows(OutgoingSms, OutgoingSms.person_id == bystander.id)
    assert [row["status"] for row in bystanders.values()] == [SmsStatus.QUEUED]

    erase_person(viewer_for(make.admin()), person.id)
    db.session.commit()

    # Never sent with no words to no number.
    for text in (code_text, confirmation):
        row = rows(OutgoingSms, OutgoingSms.id == text.id)[text.id]
        assert (row["status"], row["to_phone"], row["body"]) == (
            SmsStatus.CANCELLED,
            erased_phone(person.id),
            "",
        )
    assert rows(OutgoingSms, OutgoingSms.person_id == bystander.id) == bystanders


def test_texts_of_whoever_held_their_number_before_stay(make):
    """Someone had the number, changed away from it, and the erased person took it: the
    earlier holder's texts at that number are theirs, linked to them, and stay."""
    shared_phone = factories.next_phone()
    earlier = make.person(phone=shared_phone)
    texted(shared_phone, "我的", "SMerase-earlier")
    phone_changes.start(earlier.id, SECOND_PHONE, requested_by_id=earlier.id)
    db.session.commit()
    phone_changes.confirm(earlier.id, code_sent_to(SECOND_PHONE))
    db.session.commit()
    person = make.person(phone=shared_phone)
    texted(shared_phone, "我的", "SMerase-later")
    earliers_out = rows(OutgoingSms, OutgoingSms.person_id == earlier.id)
    earliers_in = rows(InboundSms, InboundSms.person_id == earlier.id)
    assert shared_phone in {row["to_phone"] for row in earliers_out.values()}
    assert {row["from_phone"] for row in earliers_in.values()} == {shared_phone}

    erase_person(viewer_for(make.admin()), person.id)
    db.session.commit()

    assert rows(OutgoingSms, OutgoingSms.person_id == earlier.id) == earliers_out
    assert rows(InboundSms, InboundSms.person_id == earlier.id) == earliers_in
    later = rows(InboundSms, InboundSms.message_sid == "SMerase-later")
    assert [(row["from_phone"], row["body"]) for row in later.values()] == [
        (erased_phone(person.id), "")
    ]


def test_their_calendar_feed_keeps_no_body(make):
    person = make.person(name="王建国")
    feed_id = feeds.create_feed("person", person.id, [], viewer_for(person)).feed.id
    db.session.commit()
    feeds.rebuild_feed(feed_id)
    db.session.commit()
    assert "王建国".encode() in db.session.scalar(select(Feed.body).where(Feed.id == feed_id))

    erase_person(viewer_for(make.admin()), person.id)
    db.session.commit()

    feed = db.session.execute(
        select(Feed.revoked_at, Feed.body, Feed.etag).where(Feed.id == feed_id)
    ).one()
    assert feed.revoked_at is not None and (feed.body, feed.etag) == (None, None)


def test_a_roster_that_listed_them_under_their_earlier_number_forgets_them(make):
    district = make.unit("鄂城区")
    make.team(district, name="甲队")
    content = xlsx(
        (
            "Sheet1",
            [
                HEADERS,
                ["张一", phone(60), "是", "驾驶", "甲队", ""],
                ["张二", phone(61), "否", "", "甲队", ""],
            ],
        )
    )
    record = run(content, make.coordinator(district))
    person = db.session.scalar(select(Person).where(Person.phone == f"+86{phone(60)}"))
    phone_changes.start(person.id, SECOND_PHONE, requested_by_id=person.id)
    db.session.commit()
    phone_changes.confirm(person.id, code_sent_to(SECOND_PHONE))
    db.session.commit()

    erase_person(viewer_for(make.admin()), person.id)
    db.session.commit()

    db.session.expire_all()
    preview = db.session.get(type(record), record.id).preview
    listed = {row[1]: row[3:5] for row in preview["rows"]}
    assert listed == {2: ["已删除", "已删除"], 3: ["张二", "137****0061"]}
    for trace in ("张一", phone(60), "0060"):
        assert trace not in str(preview)


def test_a_leaders_reset_codes_go_with_the_text_of_them(make):
    leader = make.leader(make.team())
    request_reset(leader.phone)
    db.session.commit()
    assert db.session.scalars(select(PasswordReset.id)).all() != []

    erase_person(viewer_for(make.admin()), leader.id)
    db.session.commit()

    assert db.session.scalars(select(PasswordReset.id)).all() == []
    texts = rows(OutgoingSms, OutgoingSms.person_id == leader.id)
    assert [(row["kind"], row["body"]) for row in texts.values()] == [(SmsKind.LOGIN_CODE, "")]
