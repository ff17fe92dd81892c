"""Data for bench/signup_race.py, made in a process of its own against DATABASE_URL.

Prints one line of JSON: the API token (a city coordinator's), the shifts the throughput runs spread over
(with their SMS codes), the small shift the burst fights for, shifts of one seat for the
waitlist runs, and the phones of registered volunteers who sign up by text (the events are
公开招募, so anyone registered may). Not meant to be run by hand.
"""

from __future__ import annotations

import json
import sys
from datetime import timedelta

from volunteer_hub import create_app
from volunteer_hub.auth.services import create_user, mint_token
from volunteer_hub.db import utcnow
from volunteer_hub.events.models import Shift
from volunteer_hub.events.services import (
    MAX_SHIFTS,
    EventInput,
    ShiftInput,
    create_event,
    find_category,
)
from volunteer_hub.extensions import db
from volunteer_hub.people.models import Person
from volunteer_hub.teams.services import create_team
from volunteer_hub.units.services import create_unit

LEADER_PHONE = "+8613900007001"
LEADER_PASSWORD = "bench-password-2026"
COORDINATOR_PHONE = "+8613900007002"


#: +86 139 03xx xxxx: registered volunteers who sign up by text, one per request
SMS_PHONE_BASE = 13903000000
WAITLIST_SHIFTS = 20


def main(shift_count: int, capacity: int, burst_seats: int, texters: int = 0) -> dict:
    app = create_app()
    with app.app_context():
        province = create_unit("湖北省", None)
        city = create_unit("鄂州市", province.id)
        team = create_team(city.id, "压测志愿服务队")
        leader = create_user(LEADER_PHONE, "压测队长", "leader", LEADER_PASSWORD, team_id=team.id)
        category = find_category("防汛抗旱")
        start = (utcnow() + timedelta(days=2)).replace(microsecond=0)

        shift_ids: list[int] = []
        made = 0
        while made < shift_count:
            n = min(MAX_SHIFTS, shift_count - made)
            event = create_event(
                team.id,
                EventInput(
                    title=f"压测活动{made // MAX_SHIFTS + 1}",
                    category_id=category.id,
                    open_to_all=True,
                ),
                [
                    ShiftInput(
                        starts_at=start + timedelta(hours=made + i),
                        ends_at=start + timedelta(hours=made + i + 1),
                        capacity=capacity,
                        title=f"第{made + i + 1}班",
                    )
                    for i in range(n)
                ],
                created_by_id=leader.id,
            )
            db.session.flush()
            shift_ids += db.session.scalars(
                db.select(Shift.id).where(Shift.event_id == event.id).order_by(Shift.id)
            ).all()
            made += n

        burst = create_event(
            team.id,
            EventInput(title="压测抢位", category_id=category.id),
            [
                ShiftInput(
                    starts_at=start,
                    ends_at=start + timedelta(hours=4),
                    capacity=burst_seats,
                    title="抢位班次",
                )
            ],
            created_by_id=leader.id,
        )
        db.session.flush()
        burst_shift_id = db.session.scalar(db.select(Shift.id).where(Shift.event_id == burst.id))
        waitlist = create_event(
            team.id,
            EventInput(title="压测候补", category_id=category.id),
            [
                ShiftInput(
                    starts_at=start + timedelta(hours=i),
                    ends_at=start + timedelta(hours=i + 1),
                    capacity=1,
                    title=f"候补班{i + 1}",
                )
                for i in range(WAITLIST_SHIFTS)
            ],
            created_by_id=leader.id,
        )
        db.session.flush()
        waitlist_shift_ids = db.session.scalars(
            db.select(Shift.id).where(Shift.event_id == waitlist.id).order_by(Shift.id)
        ).all()
        codes = dict(db.session.execute(db.select(Shift.id, Shift.code)).all())
        now = utcnow()
        texter_phones = [f"+86{SMS_PHONE_BASE + i}" for i in range(texters)]
        if texter_phones:
            db.session.execute(
                Person.__table__.insert(),
                [
                    {"name": f"短信志愿者{i:06d}", "phone": phone, "is_veteran": True,
                     "skills": "", "is_admin": False, "is_active": True,
                     "created_at": now, "updated_at": now}
                    for i, phone in enumerate(texter_phones)
                ],
            )  # fmt: skip
        # A leader may sign up only the team's members; the benchmark signs up a new phone
        # per request, as a coordinator above the team may.
        coordinator = create_user(COORDINATOR_PHONE, "压测协调员", "coordinator", unit_id=city.id)
        _token, plain = mint_token(coordinator, "bench")
        db.session.commit()
        return {
            "token": plain,
            "team_id": team.id,
            "shift_ids": shift_ids,
            "burst_shift_id": burst_shift_id,
            "shift_codes": [codes[shift_id] for shift_id in shift_ids],
            "waitlist_shift_ids": list(waitlist_shift_ids),
            "texter_phones": texter_phones,
        }


if __name__ == "__main__":
    shifts, capacity, seats, *more = (int(arg) for arg in sys.argv[1:5])
    print(json.dumps(main(shifts, capacity, seats, *more)))
