"""The fault tests' data and clock, run in a process of their own against the private
servers (DATABASE_URL, REDIS_URL from the environment): the test process itself never
builds an app, so its global Dramatiq broker stays the suite's.

    python tests/faults/app_commands.py setup MEMBERS   # prints one line of JSON
    python tests/faults/app_commands.py tick            # the scheduler's tick, clock moved on
"""

from __future__ import annotations

import json
import sys
from datetime import timedelta

STAFF_PASSWORD = "fault-tests-password-2026"
ADMIN_PHONE = "+8613900009001"


def setup(members: int) -> dict:
    """An admin (password and API token), a team with ``members`` members and one
    members-only event with a large shift, committed."""
    from volunteer_hub import create_app
    from volunteer_hub.auth.services import create_user, mint_token
    from volunteer_hub.db import utcnow
    from volunteer_hub.events.models import Shift
    from volunteer_hub.events.services import EventInput, ShiftInput, create_event, find_category
    from volunteer_hub.extensions import db
    from volunteer_hub.people.models import Person
    from volunteer_hub.teams.models import MemberRole, Membership
    from volunteer_hub.teams.services import create_team
    from volunteer_hub.units.services import create_unit

    app = create_app()
    with app.app_context():
        province = create_unit("湖北省", None)
        city = create_unit("鄂州市", province.id)
        team = create_team(city.id, "故障演练志愿服务队")
        admin = create_user(ADMIN_PHONE, "演练管理员", "admin", STAFF_PASSWORD)
        _token, token = mint_token(admin, "faults")
        start = (utcnow() + timedelta(days=2)).replace(microsecond=0)
        event = create_event(
            team.id,
            EventInput(
                title="长江巡堤演练",
                category_id=find_category("防汛抗旱").id,
                location="鄂州市鄂城区江堤",
            ),
            [ShiftInput(starts_at=start, ends_at=start + timedelta(hours=4), capacity=5000)],
            created_by_id=admin.id,
        )
        db.session.flush()
        shift = db.session.scalar(db.select(Shift).where(Shift.event_id == event.id))
        # Members of the team: signing up by text for a members-only event needs it.
        phones = [f"+86139088{i:05d}" for i in range(members)]
        people = [Person(name=f"演练队员{i}", phone=phone) for i, phone in enumerate(phones)]
        db.session.add_all(people)
        db.session.flush()
        db.session.add_all(
            Membership(team_id=team.id, person_id=p.id, role=MemberRole.MEMBER) for p in people
        )
        db.session.commit()
        answer = {
            "token": token,
            "shift_id": shift.id,
            "code": shift.code,
            "admin_phone": ADMIN_PHONE,
            "password": STAFF_PASSWORD,
            "members": phones,
        }
        db.session.remove()
        db.engine.dispose()
    return answer


def tick() -> str:
    """One scheduler tick with the clock moved past STUCK_QUEUED_AFTER: what the
    per-minute ``flask scheduler`` does a couple of minutes after Redis is back (texts
    whose actor message was lost with Redis are sent again), without waiting for it."""
    from volunteer_hub import create_app, scheduler
    from volunteer_hub.db import utcnow
    from volunteer_hub.extensions import db
    from volunteer_hub.sms.services import STUCK_QUEUED_AFTER

    app = create_app()
    with app.app_context():
        result = scheduler.tick(utcnow() + STUCK_QUEUED_AFTER + timedelta(minutes=1))
        db.session.remove()
        db.engine.dispose()
    app.extensions["dramatiq"].broker.close()
    return f"requeued {result.requeued_texts}, flagged {result.flagged_texts}"


if __name__ == "__main__":
    if sys.argv[1] == "setup":
        print(json.dumps(setup(int(sys.argv[2]))))
    elif sys.argv[1] == "tick":
        print(tick())
    else:
        raise SystemExit(f"unknown command {sys.argv[1]!r}")
