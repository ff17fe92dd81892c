from datetime import timedelta

from sqlalchemy import select

from volunteer_hub import scheduler
from volunteer_hub.broker import queue_depth
from volunteer_hub.db import utcnow
from volunteer_hub.events.models import Shift
from volunteer_hub.extensions import db
from volunteer_hub.sms import services
from volunteer_hub.sms.templates import render


def test_tick_recovers_lost_texts_and_releases_old_codes(make, broker):
    person = make.person()
    services.queue_text(
        to_phone=person.phone,
        text=render("nothing_to_confirm"),
        kind="notice",
        dedupe_key="n:1",
        person_id=person.id,
    )
    team = make.team()
    long_ago = utcnow() - timedelta(days=30)
    old_shift = make.shifts_of(make.event(team, starts_at=long_ago))[0]
    current_shift = make.shifts_of(make.event(team))[0]
    db.session.commit()
    broker.flush_all()  # the actor message was lost

    result = scheduler.tick(now=utcnow() + timedelta(minutes=5))

    assert (result.requeued_texts, result.flagged_texts, result.released_codes) == (1, 0, 1)
    assert queue_depth(broker, "sms") == 1
    codes = dict(db.session.execute(select(Shift.id, Shift.code_is_current)).all())
    assert codes == {old_shift.id: False, current_shift.id: True}


def test_scheduler_command_runs_one_tick(runner):
    result = runner.invoke(args=["scheduler", "--once"])
    assert result.exit_code == 0, result.output
    assert "texts requeued 0" in result.output
