"""A sign-up's text and feed change are held (``volunteer_hub.held_writes``) and written
together before the transaction's next statement or its commit: on PostgreSQL in one
statement, on SQLite one after the other. The rows and the messages are those of a
write made at once; a rollback leaves neither."""

from __future__ import annotations

import pytest
from dramatiq.middleware import Middleware
from sqlalchemy import func, select

from tests.sms.helpers import inbound_row
from volunteer_hub import held_writes
from volunteer_hub.calendar import changes
from volunteer_hub.calendar.changes import FeedChange
from volunteer_hub.extensions import db
from volunteer_hub.people.models import Person
from volunteer_hub.signups import services as signups
from volunteer_hub.sms.inbound import handle_inbound
from volunteer_hub.sms.models import OutgoingSms
from volunteer_hub.sms.services import queue_text
from volunteer_hub.sms.templates import Rendered


class Enqueued(Middleware):
    """The messages the broker is given (actor name and arguments), as it sees them."""

    def __init__(self):
        self.messages: list[tuple[str, tuple]] = []

    def before_enqueue(self, broker, message, delay):
        self.messages.append((message.actor_name, tuple(message.args)))

    def actors(self) -> list[str]:
        return sorted(name for name, _ in self.messages)


@pytest.fixture
def enqueued(broker):
    recorder = Enqueued()
    broker.add_middleware(recorder)
    yield recorder
    broker.middleware.remove(recorder)


def _on_postgresql() -> bool:
    return db.engine.dialect.name == "postgresql"


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def _signed_up(make, statements, enqueued, **person):
    """A member signed up by the API service (not committed): the signup's id, the
    person's and the event's. What the set-up wrote and sent is forgotten first."""
    team = make.team()
    volunteer = make.member(team, **person)
    shift = make.shifts_of(make.event(team, capacity=3))[0]
    db.session.execute(FeedChange.__table__.delete())  # the new event's own
    db.session.commit()
    shift_id, person_id, event_id = shift.id, volunteer.id, shift.event_id
    statements.clear()
    enqueued.messages.clear()
    result = signups.sign_up(shift_id, person_id, "api")
    return result.placed.id, person_id, event_id


def _side_rows(statements: list[str]) -> list[str]:
    return [s for s in statements if "OUTGOING_SMS" in s or "FEED_CHANGE" in s]


def _text(key: str = "t") -> Rendered:
    return Rendered(key=key, variables={}, text="测试")


def test_a_sign_up_s_text_and_feed_change_are_one_statement_at_commit(make, statements, enqueued):
    signup_id, person_id, event_id = _signed_up(make, statements, enqueued)
    assert _side_rows(statements) == [], "written before the commit"

    db.session.commit()

    side = _side_rows(statements)
    if _on_postgresql():
        assert len(side) == 1, side
        assert side[0].startswith("WITH W0 AS (INSERT INTO OUTGOING_SMS"), side[0]
        assert "W1 AS (INSERT INTO FEED_CHANGE" in side[0], side[0]
    else:  # SQLite takes no INSERT inside WITH
        assert [s.split(" (")[0] for s in side] == [
            "INSERT INTO OUTGOING_SMS",
            "INSERT INTO FEED_CHANGE",
        ]
    text = db.session.scalar(select(OutgoingSms).where(OutgoingSms.signup_id == signup_id))
    change = db.session.scalar(select(FeedChange))
    assert (text.dedupe_key, text.person_id, text.kind) == (
        f"notice:placed:{signup_id}",
        person_id,
        "notice",
    )
    assert text.template_key == "signup_confirmed" and text.status == "queued"
    assert (change.event_id, change.person_ids, change.old_category_id) == (event_id, [], None)
    assert sorted(enqueued.messages) == [
        ("feeds_touched", (event_id, (), None, change.id)),
        ("send_sms", (text.id,)),
    ]


def test_a_later_read_in_the_transaction_sees_the_held_rows(make, statements, enqueued):
    signup_id, _, event_id = _signed_up(make, statements, enqueued)

    # before any commit: the read goes through the session, which writes them first
    body = db.session.scalar(
        select(OutgoingSms.body).where(OutgoingSms.dedupe_key == f"notice:placed:{signup_id}")
    )
    changed = db.session.scalars(select(FeedChange.event_id)).all()

    assert body is not None and "报名成功" in body
    assert changed == [event_id]


def test_a_rollback_leaves_no_row_and_sends_nothing(make, statements, enqueued):
    _signed_up(make, statements, enqueued)

    db.session.rollback()
    db.session.commit()

    assert (_count(OutgoingSms), _count(FeedChange)) == (0, 0)
    assert enqueued.messages == []


def test_an_opted_out_person_s_text_does_not_hide_the_feed_change(make, statements, enqueued):
    _, _, event_id = _signed_up(make, statements, enqueued, sms_opted_out_at=signups.utcnow())

    db.session.commit()

    change = db.session.scalar(select(FeedChange))
    assert _count(OutgoingSms) == 0
    assert change.event_id == event_id
    assert enqueued.messages == [("feeds_touched", (event_id, (), None, change.id))]


def test_a_duplicate_text_does_not_hide_the_feed_change_s_id(make, statements, enqueued):
    person = make.person()
    queue_text(to_phone=person.phone, text=_text(), kind="notice", dedupe_key="dup")
    db.session.commit()
    enqueued.messages.clear()
    statements.clear()
    written: list[tuple[str, int | None]] = []

    queue_text(to_phone=person.phone, text=_text(), kind="notice", dedupe_key="dup", hold=True)
    changes.note(41, (person.id,), then=lambda change_id: written.append(("feed", change_id)))
    db.session.commit()

    [change] = db.session.scalars(select(FeedChange)).all()
    assert written == [("feed", change.id)]
    assert (change.event_id, change.person_ids) == (41, [person.id])
    assert _count(OutgoingSms) == 1
    assert enqueued.messages == []  # nothing for the duplicate; the feed's was ``then``'s
    if _on_postgresql():
        writes = [s for s in _side_rows(statements) if s.startswith(("WITH", "INSERT"))]
        assert len(writes) == 1, statements


def test_held_writes_go_before_a_savepoint_that_then_rolls_back(make, statements, enqueued):
    person = make.person()
    db.session.commit()
    statements.clear()
    queue_text(to_phone=person.phone, text=_text(), kind="notice", dedupe_key="before", hold=True)
    changes.note(42)

    with pytest.raises(RuntimeError), db.session.begin_nested():
        db.session.execute(select(1))  # a savepoint is begun by its first statement
        raise RuntimeError("inner failure")
    db.session.commit()

    savepoint = next(i for i, s in enumerate(statements) if s.startswith("SAVEPOINT"))
    assert _side_rows(statements[:savepoint]) and not _side_rows(statements[savepoint:])
    assert _count(OutgoingSms) == 1 and _count(FeedChange) == 1
    assert enqueued.actors() == ["send_sms"]


def test_a_write_held_in_a_savepoint_that_rolls_back_is_dropped(make, enqueued):
    person = make.person()
    db.session.commit()

    with pytest.raises(RuntimeError), db.session.begin_nested():
        queue_text(
            to_phone=person.phone, text=_text(), kind="notice", dedupe_key="inner", hold=True
        )
        raise RuntimeError("inner failure")
    changes.note(43)
    db.session.commit()

    assert _count(OutgoingSms) == 0 and _count(FeedChange) == 1
    assert enqueued.messages == []


def test_held_rows_go_before_the_orm_rows_added_after_them(make, statements):
    person = make.person()
    db.session.commit()
    statements.clear()

    queue_text(to_phone=person.phone, text=_text(), kind="notice", dedupe_key="first", hold=True)
    db.session.add(Person(name="后来", phone="+8613900000077"))
    db.session.flush()

    writes = [s for s in statements if s.startswith(("INSERT", "WITH"))]
    assert "OUTGOING_SMS" in writes[0] and writes[-1].startswith("INSERT INTO PERSON"), writes


def test_a_sign_up_by_text_is_three_statements_on_postgresql(make, statements):
    if not _on_postgresql():
        pytest.skip("SQLite takes no INSERT inside WITH: the reply and its link are two")
    team = make.team()
    member = make.member(team)
    shift = make.shifts_of(make.event(team, capacity=3))[0]
    db.session.execute(FeedChange.__table__.delete())  # the new event's own
    db.session.commit()
    phone, code = member.phone, shift.code
    db.session.expunge_all()
    statements.clear()

    result = handle_inbound(
        message_sid="SM-held-1", from_phone=phone, to_phone="+10000", body=f"报名 {code}"
    )
    db.session.commit()

    # the sender's read with the inbound row; the seat and the signup; the feed change
    # with the reply and its link
    assert len(statements) == 3, statements
    assert "INSERT INTO FEED_CHANGE" in statements[-1], statements[-1]
    assert "UPDATE INBOUND_SMS SET REPLY_ID" in statements[-1], statements[-1]
    recorded = inbound_row("SM-held-1")
    reply = db.session.get(OutgoingSms, recorded.reply_id)
    assert "报名成功" in result.reply and reply.body == result.reply
    assert reply.dedupe_key == "reply:SM-held-1" and _count(FeedChange) == 1


def test_many_held_writes_go_a_few_statements_at_a_time_each_with_its_id(statements):
    written: list[tuple[int, int | None]] = []
    count = held_writes.MAX_TOGETHER + 2
    for event_id in range(1, count + 1):
        changes.note(event_id, then=lambda change_id, e=event_id: written.append((e, change_id)))

    db.session.commit()

    rows = dict(db.session.execute(select(FeedChange.event_id, FeedChange.id)).all())
    assert written == sorted(rows.items()) and len(rows) == count
    writes = [s for s in statements if "FEED_CHANGE" in s and not s.startswith("SELECT")]
    assert len(writes) == (2 if _on_postgresql() else count), writes
