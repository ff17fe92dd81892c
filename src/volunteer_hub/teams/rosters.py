"""A team's roster as a workbook, and a shift's sign-in sheet (签到表) for paper sites.

Phones follow rule 8: in full only for people whose number the viewer may read (members
of a team they lead or oversee, ``Viewer.people_with_full_phone``), masked otherwise.
The sign-in sheet always masks them: it lies on a table on site for anyone to read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import contains_eager

from volunteer_hub.auth.permissions import Viewer
from volunteer_hub.events.models import Event, Shift
from volunteer_hub.extensions import db
from volunteer_hub.hours.exports import to_xlsx
from volunteer_hub.i18n import to_local
from volunteer_hub.people.models import Person
from volunteer_hub.people.services import mask_phone
from volunteer_hub.signups.models import Signup, SignupStatus
from volunteer_hub.teams import services
from volunteer_hub.teams.models import MemberRole, Team
from volunteer_hub.web import phone_for

#: empty lines under the signed-up people, for those who come without signing up
WALK_IN_LINES = 5


def roster_workbook(team: Team, viewer: Viewer) -> bytes:
    """One sheet: name, phone, role, skills, veteran, joined; leaders first."""
    members = services.members(team.id)
    full = viewer.people_with_full_phone(m.person_id for m in members)
    headers = [_("姓名"), _("手机号码"), _("角色"), _("技能特长"), _("退役军人"), _("入队日期")]
    rows = [
        [
            m.person.name,
            phone_for(m.person, full),
            _("队长") if m.role == MemberRole.LEADER else _("队员"),
            m.person.skills,
            _("是") if m.person.is_veteran else _("否"),
            to_local(m.joined_at).date(),
        ]
        for m in members
    ]
    heading = [_("%(team)s 花名册", team=team.name), team.unit.name]
    return to_xlsx([(_("花名册"), headers, rows)], heading)


class SheetLine(NamedTuple):
    """One signed-up person on the sheet."""

    name: str
    masked_phone: str


@dataclass(frozen=True)
class SignInSheet:
    """What the 签到表 shows: the shift (its event loaded), whose team, who signed up."""

    shift: Shift
    team_name: str
    lines: list[SheetLine]
    blank_lines: int = WALK_IN_LINES

    @property
    def event(self) -> Event:
        return self.shift.event


def sign_in_sheet(shift: Shift) -> SignInSheet:
    """The confirmed people of the shift, by name, with masked phones (two queries)."""
    event = shift.event
    team_name = db.session.scalar(select(Team.name).where(Team.id == event.team_id))
    signups = db.session.scalars(
        select(Signup)
        .join(Person, Person.id == Signup.person_id)
        .where(Signup.shift_id == shift.id, Signup.status == SignupStatus.CONFIRMED)
        .order_by(Person.name, Person.id)
        .options(contains_eager(Signup.person))
    )
    lines = [SheetLine(s.person.name, mask_phone(s.person.phone)) for s in signups]
    return SignInSheet(shift=shift, team_name=team_name or "", lines=lines)
