"""What the inbound webhook reads and writes for one text: the sender, a call-out they
might be answering and, for 报名 with one code, the shift in one statement; the inbound
row written once, the reply's row linked from it; and a call-out that is gone by the time
its answer is acted on."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.callouts.helpers import member_with_an_open_callout
from tests.sms.helpers import inbound_row, texted
from volunteer_hub.callouts import answers
from volunteer_hub.extensions import db
from volunteer_hub.signups.models import Signup
from volunteer_hub.sms.inbound import handle_inbound
from volunteer_hub.sms.models import OutgoingSms


def test_a_sign_up_by_text_reads_its_sender_once_and_writes_each_row_once(make, count_queries):
    team = make.team()
    member = make.member(team)
    shift = make.shifts_of(make.event(team, capacity=3))[0]
    db.session.commit()
    member_id, phone, code = member.id, member.phone, shift.code
    db.session.expunge_all()  # nothing from the set-up in the identity map

    with count_queries() as counter:
        result = handle_inbound(
            message_sid="SM-lookups-1", from_phone=phone, to_phone="+10000", body=f"报名 {code}"
        )
        db.session.commit()

    assert "报名成功" in result.reply
    statements = [" ".join(s.split()).lower() for s in counter.statements]
    # "报名 1234" could answer a call-out with that code: asked in the sender's statement,
    # which reads the shift with the code too (on PostgreSQL, in a WITH that records the
    # inbound row as well).
    sender_read = ("select", "with sender as")
    from_person = [s for s in statements if s.startswith(sender_read) and "from person" in s]
    assert len(from_person) == 1 and "callout" in from_person[0], statements
    assert not [s for s in statements if "callout" in s and s not in from_person], statements
    assert [s for s in statements if "shift.code =" in s] == from_person, statements
    # The inbound row: one INSERT, then only the link to its reply.
    inbound_writes = [s for s in statements if "inbound_sms" in s and not s.startswith("select")]
    assert len(inbound_writes) == 2, statements
    if db.session.get_bind().dialect.name == "postgresql":
        # Recorded by the sender's read; the reply's INSERT and the link are one WITH,
        # held to the commit with the sign-up's feed change (held_writes): the read, the
        # seat and the signup, then these.
        assert "insert into inbound_sms" in from_person[0], statements
        assert len(statements) == 3, statements
        together = inbound_writes[1]
        assert together == statements[-1], statements
        assert together.startswith("with w0 as (insert into feed_change"), together
        assert "w1_reply as (insert into outgoing_sms" in together, together
        assert "w1 as (update inbound_sms set reply_id=(select w1_reply.id" in together, together
    else:  # SQLite takes no INSERT inside WITH: INSERT, then UPDATE for the link
        assert inbound_writes[0].startswith("insert into inbound_sms"), statements
        assert inbound_writes[1].startswith("update inbound_sms"), statements
    assert not [s for s in statements if s.startswith("select") and "from inbound_sms" in s]

    recorded = inbound_row("SM-lookups-1")
    reply = db.session.get(OutgoingSms, recorded.reply_id)
    assert recorded.command == "sign_up" and recorded.person_id == member_id
    assert reply.body == result.reply and reply.dedupe_key == "reply:SM-lookups-1"
    assert (reply.person_id, reply.to_phone, reply.status) == (member_id, phone, "sent")
    assert reply.template_key == "signup_confirmed" and reply.template_vars["code"] == code
    assert reply.is_urgent is False and reply.attempts == 1 and reply.provider == "webhook-reply"


def test_a_call_out_gone_before_its_answer_is_acted_on_leaves_the_text_to_the_commands(
    make, monkeypatch
):
    member, _shift = member_with_an_open_callout(make)
    # The call-out found with the sender is gone (ended, answered elsewhere) by the time
    # its answer is taken: the text is then read as any other.
    monkeypatch.setattr(answers, "handle_callout_reply", lambda *args: None)

    result = texted(member.phone, "1", "SM-lookups-2")

    assert "帮助" in result.reply or "回复" in result.reply
    assert inbound_row("SM-lookups-2").command == "acknowledge"
    assert db.session.scalar(select(Signup).where(Signup.person_id == member.id)) is None


def test_an_opted_out_person_answering_a_call_out_gets_nothing(make):
    member, _shift = member_with_an_open_callout(make)
    texted(member.phone, "TD", "SM-lookups-3")

    result = texted(member.phone, "1", "SM-lookups-4")

    assert result.reply is None
    recorded = inbound_row("SM-lookups-4")
    assert recorded.command == "acknowledge" and recorded.reply_id is None
    assert db.session.scalar(select(Signup).where(Signup.person_id == member.id)) is None


def test_an_unknown_number_answering_like_a_call_out_gets_the_way_to_join(make):
    result = handle_inbound(
        message_sid="SM-lookups-5", from_phone="+8613900009999", to_phone="+10000", body="1"
    )
    db.session.commit()

    recorded = inbound_row("SM-lookups-5")
    assert result.reply is not None and recorded.person_id is None
    assert recorded.command == "acknowledge"
    assert db.session.get(OutgoingSms, recorded.reply_id).body == result.reply


def test_a_code_both_of_a_call_out_and_of_a_shift_answers_the_call_out(make):
    member, callout_shift = member_with_an_open_callout(make)
    from volunteer_hub.callouts.models import Callout

    code = db.session.scalar(select(Callout.code))
    other = make.shifts_of(make.event(make.team(), capacity=3, open_to_all=True))[0]
    other.code = code
    db.session.commit()

    result = texted(member.phone, f"报名 {code}", "SM-lookups-6")

    assert "已为您留位" in result.reply
    assert inbound_row("SM-lookups-6").command == "callout_reply"
    signup = db.session.scalar(select(Signup).where(Signup.person_id == member.id))
    assert signup.shift_id == callout_shift.id


def test_a_call_out_answer_with_punctuation_and_thanks_takes_a_seat(make):
    member, callout_shift = member_with_an_open_callout(make)
    from volunteer_hub.callouts.models import Callout

    code = db.session.scalar(select(Callout.code))

    result = texted(member.phone, f"报名：{code} 谢谢！", "SM-lookups-9")

    assert "已为您留位" in result.reply, result.reply
    assert inbound_row("SM-lookups-9").command == "callout_reply"
    signup = db.session.scalar(select(Signup).where(Signup.person_id == member.id))
    assert signup.shift_id == callout_shift.id


@pytest.mark.parametrize("known", [True, False])
def test_a_sign_up_for_a_code_no_current_shift_has(make, known):
    person = make.person() if known else None
    phone = person.phone if person else "+8613900009998"
    db.session.commit()

    result = handle_inbound(
        message_sid=f"SM-lookups-7{known}", from_phone=phone, to_phone="+10000", body="报名 86420"
    )

    assert ("86420" in result.reply) is known  # unknown code / the way to join
    assert inbound_row(f"SM-lookups-7{known}").command == "sign_up"


def test_an_opted_out_person_signing_up_by_text_gets_nothing(make):
    team = make.team()
    member = make.member(team)
    shift = make.shifts_of(make.event(team, capacity=3))[0]
    texted(member.phone, "TD", "SM-lookups-8")

    assert texted(member.phone, f"报名 {shift.code}", "SM-lookups-9").reply is None
    assert db.session.scalar(select(Signup).where(Signup.person_id == member.id)) is None
