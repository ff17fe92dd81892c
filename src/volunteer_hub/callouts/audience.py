"""Who a call-out's ring texts, and why the others are left out: the one rule that the
preview, the start and every later ring apply.

The audience is every active member of the named teams (or of every team in a unit's
subtree), the caller excepted. A person is left out for the first of these that holds:

* ``opted_out``: they texted TD / 退订 (rule 4: nothing, ever);
* ``no_skill``: the call-out asks for skills and they have none of them;
* ``busy``: they are on (confirmed or waitlisted) a shift that overlaps one of the
  call-out's shifts (the call-out's own shifts included: they are signed up already);
* ``resting``: a shift they were confirmed on ended less than ``CALLOUT_REST_HOURS``
  before the call-out's first shift starts (fatigue);
* ``capped``: not urgent, and they already have ``BROADCAST_DAILY_CAP`` call-outs and
  broadcasts going out that local day.

One query reads everyone's flags (plus one for the cap), however large the audience:
5,246 people in a district cost the same two statements as a team of ten.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import and_, exists, or_, select, true

from volunteer_hub.events.models import Shift
from volunteer_hub.extensions import db
from volunteer_hub.i18n import local_zone
from volunteer_hub.people.models import Person
from volunteer_hub.people.skills import PersonSkill, Skill
from volunteer_hub.signups.models import ACTIVE_STATUSES, Signup, SignupStatus
from volunteer_hub.sms.broadcast import at_daily_cap
from volunteer_hub.teams.models import Membership, Team
from volunteer_hub.units.services import subtree_ids

#: in the order they are tried: a person is counted under the first that holds
REASONS = ("opted_out", "no_skill", "busy", "resting", "capped")


@dataclass(frozen=True)
class Ring:
    """An audience: these teams, or the teams of this unit's subtree (its path)."""

    team_ids: tuple[int, ...] | None = None
    unit_path: str | None = None


@dataclass
class Audience:
    person_ids: list[int]
    left_out: dict[str, int] = field(default_factory=lambda: dict.fromkeys(REASONS, 0))


def audience(
    ring: Ring,
    shifts: Sequence[Shift],
    *,
    skills: Sequence[str],
    urgent: bool,
    goes_out: datetime,
    exclude_person_id: int | None = None,
) -> Audience:
    """Who ``ring`` texts for these shifts now, and how many are left out for each reason."""
    rest = timedelta(hours=current_app.config["CALLOUT_REST_HOURS"])
    first_start = min(s.starts_at for s in shifts)
    if ring.team_ids is not None:
        team_condition = Membership.team_id.in_(ring.team_ids)
    else:
        team_condition = Membership.team_id.in_(
            select(Team.id).where(Team.unit_id.in_(subtree_ids(ring.unit_path)))
        )
    has_skill = (
        exists()
        .where(PersonSkill.person_id == Person.id, Skill.id == PersonSkill.skill_id)
        .where(Skill.name.in_(skills))
    )
    on_shift = (
        select(Signup.id)
        .join(Shift, Shift.id == Signup.shift_id)
        .where(Signup.person_id == Person.id, Shift.is_cancelled.is_(False))
    )
    busy = exists(
        on_shift.where(
            Signup.status.in_(ACTIVE_STATUSES),
            or_(*(and_(Shift.starts_at < s.ends_at, Shift.ends_at > s.starts_at) for s in shifts)),
        )
    )
    resting = exists(
        on_shift.where(
            Signup.status == SignupStatus.CONFIRMED,
            Shift.ends_at > first_start - rest,
            Shift.ends_at <= first_start,
        )
    )
    query = select(
        Person.id,
        Person.sms_opted_out_at.is_not(None),
        has_skill if skills else true(),
        busy,
        resting,
    ).where(
        Person.is_active.is_(True),
        Person.id.in_(select(Membership.person_id).where(team_condition)),
    )
    if exclude_person_id is not None:
        query = query.where(Person.id != exclude_person_id)
    found = Audience(person_ids=[])
    candidates = []
    for person_id, opted_out, skilled, is_busy, is_resting in db.session.execute(
        query.order_by(Person.id)
    ):
        flags = (opted_out, not skilled, is_busy, is_resting)
        reason = next((r for r, hit in zip(REASONS, flags, strict=False) if hit), None)
        if reason:
            found.left_out[reason] += 1
        else:
            candidates.append(person_id)
    capped = set() if urgent or not candidates else _at_daily_cap(candidates, goes_out)
    found.left_out["capped"] = len(capped)
    found.person_ids = [p for p in candidates if p not in capped]
    return found


def _at_daily_cap(person_ids: list[int], goes_out: datetime) -> set[int]:
    """The broadcasts' daily cap over a set of people, a few hundred ids per query."""
    zone = local_zone()
    capped: set[int] = set()
    for start in range(0, len(person_ids), 500):
        capped |= at_daily_cap(person_ids[start : start + 500], goes_out, zone)
    return capped
