"""What an import would do, row by row, decided before anything changes.

``plan`` turns the rows a file holds into each row's outcome — a new person, already a
member, a registered person to invite, already invited, or an error in Chinese — and
groups them by team (existing, or to be created under a unit in the importer's scope).
It reads the database in a fixed number of queries whatever the number of rows: one
for the units named, one for the teams, and per 5,000 phones one each for the people,
their memberships and their pending invitations. It writes nothing; the preview shows
it and the job applies it (``roster.services``).
"""

from __future__ import annotations

import enum
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from flask_babel import gettext as _
from sqlalchemy import or_, select

from volunteer_hub.auth.permissions import Viewer
from volunteer_hub.extensions import db
from volunteer_hub.people.models import Person
from volunteer_hub.people.services import InvalidPhone, normalize_phone
from volunteer_hub.roster.reader import RosterRow
from volunteer_hub.teams.models import InvitationStatus, Membership, Team, TeamInvitation
from volunteer_hub.units.models import Unit

#: phones (or people) per IN list: well under SQLite's and PostgreSQL's parameter limits
CHUNK = 5_000
#: the longest name and team name the models hold
NAME_MAX = 50
TEAM_NAME_MAX = 100


class Outcome(enum.StrEnum):
    NEW = "new"  #: a person nobody has registered: created and added to the team
    MEMBER = "member"  #: already in the team: nothing to do
    INVITE = "invite"  #: registered: gets an invitation and decides (issue 11)
    INVITED = "invited"  #: registered and invited already: nothing is sent again
    ERROR = "error"


@dataclass(frozen=True)
class Scope:
    """Who imports, and into what."""

    viewer: Viewer
    #: every row goes into this team (a leader's import, ``--team``); None: by column/sheet
    team: Team | None = None
    #: recorded on invitations; None for the command line
    invited_by_id: int | None = None


@dataclass(eq=False)
class TeamPlan:
    name: str
    unit_id: int
    unit_name: str
    #: None: the team does not exist yet and is created under ``unit_id``
    team_id: int | None
    rows: list[PlannedRow] = field(default_factory=list)

    @property
    def error_rows(self) -> int:
        return sum(1 for row in self.rows if row.outcome == Outcome.ERROR)


@dataclass(eq=False)
class PlannedRow:
    row: RosterRow
    team: TeamPlan | None = None
    #: the phone in E.164, once valid
    e164: str | None = None
    outcome: Outcome | None = None
    reason: str = ""
    #: the registered person with this phone, if any
    person_id: int | None = None

    def fail(self, reason: str) -> None:
        if self.outcome != Outcome.ERROR:  # the first error found is the one shown
            self.outcome, self.reason = Outcome.ERROR, reason


@dataclass
class Plan:
    rows: list[PlannedRow]
    teams: list[TeamPlan]

    def counts(self) -> dict[str, int]:
        """The CLI's counts for a preview: rows by outcome, teams that would be created."""
        by = defaultdict(int)
        held_back = 0
        for planned in self.rows:
            if planned.outcome != Outcome.ERROR and planned.team and planned.team.error_rows:
                held_back += 1
            else:
                by[planned.outcome] += 1
        return {
            "new": by[Outcome.NEW],
            "existing": by[Outcome.MEMBER] + by[Outcome.INVITED],
            "invited": by[Outcome.INVITE],
            "errors": by[Outcome.ERROR],
            "teams_created": sum(1 for t in self.teams if t.team_id is None and not t.error_rows),
            "held_back": held_back,
        }


def name_key(text: str) -> str:
    """A unit's or team's name as compared: NFKC, no spaces."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text or ""))


def plan(rows: Sequence[RosterRow], scope: Scope, created_here: dict[str, int] | None = None):
    """Each row's outcome. ``created_here``: phone → id of the people this import has
    created already (in an earlier team): they join further teams directly, as new people."""
    planned = [PlannedRow(row=row) for row in rows]
    for item in planned:
        _check_row(item)
    teams = _resolve_teams(planned, scope)
    _flag_duplicates(planned)
    _classify(planned, created_here or {})
    return Plan(rows=planned, teams=teams)


def _check_row(item: PlannedRow) -> None:
    row = item.row
    if row.error:
        item.fail(row.error)
    if not row.name:
        item.fail(_("缺少姓名"))
    elif len(row.name) > NAME_MAX:
        item.fail(_("姓名不能超过 %(n)d 个字", n=NAME_MAX))
    try:
        item.e164 = normalize_phone(row.phone)
    except InvalidPhone as exc:
        item.fail(exc.message)


# -- teams -------------------------------------------------------------------------------


def _resolve_teams(planned: list[PlannedRow], scope: Scope) -> list[TeamPlan]:
    if scope.team is not None:
        return _into_one_team(planned, scope.team)
    units = _units_by_name(scope.viewer, {p.row.unit for p in planned if p.row.unit})
    unit_ids = {unit.id for matches in units.values() for unit in matches}
    team_names = {p.row.team or p.row.sheet_team for p in planned}
    teams = _teams_by_name(scope.viewer, team_names - {""}, unit_ids)
    made: dict[tuple, TeamPlan] = {}
    for item in planned:
        team_plan = _team_of(item.row, units, teams, made)
        if isinstance(team_plan, str):
            item.fail(team_plan)
        else:
            item.team = team_plan
            team_plan.rows.append(item)
    return list(made.values())


def _into_one_team(planned: list[PlannedRow], team: Team) -> list[TeamPlan]:
    target = TeamPlan(
        name=team.name, unit_id=team.unit_id, unit_name=team.unit.name, team_id=team.id
    )
    for item in planned:
        if item.row.team and name_key(item.row.team) != name_key(team.name):
            item.fail(
                _(
                    "服务队“%(team)s”不在本次导入范围内：本次只导入“%(target)s”",
                    team=item.row.team,
                    target=team.name,
                )
            )
            continue
        item.team = target
        target.rows.append(item)
    return [target]


def _team_of(row: RosterRow, units, teams, made: dict[tuple, TeamPlan]) -> TeamPlan | str:
    """The row's team plan, or why it has none (a row error)."""
    name = row.team or row.sheet_team
    if not name:
        return _("缺少服务队名称")
    if len(name) > TEAM_NAME_MAX:
        return _("服务队名称不能超过 %(n)d 个字", n=TEAM_NAME_MAX)
    key = name_key(name)
    if row.unit:
        matches = units.get(name_key(row.unit), [])
        if not matches:
            return _("单位“%(unit)s”不存在或不在您的管辖范围内", unit=row.unit)
        if len(matches) > 1:
            return _("有多个名为“%(unit)s”的单位，请联系管理员区分", unit=row.unit)
        unit = matches[0]
        existing = [t for t in teams.get(key, []) if t.unit_id == unit.id]
        if existing:
            return _plan_for(made, existing[0], unit.name)
        return made.setdefault(
            ("new", unit.id, key),
            TeamPlan(name=name, unit_id=unit.id, unit_name=unit.name, team_id=None),
        )
    existing = teams.get(key, [])
    if not existing:
        return _("服务队“%(team)s”不存在或不在您的管辖范围内；新建服务队请填写所属单位", team=name)
    if len(existing) > 1:
        return _("有多支名为“%(team)s”的服务队，请填写所属单位以区分", team=name)
    return _plan_for(made, existing[0], existing[0].unit_name)


def _plan_for(made: dict[tuple, TeamPlan], team, unit_name: str) -> TeamPlan:
    return made.setdefault(
        ("id", team.id),
        TeamPlan(name=team.name, unit_id=team.unit_id, unit_name=unit_name, team_id=team.id),
    )


def _units_by_name(viewer: Viewer, names: set[str]) -> dict[str, list]:
    """Units the viewer may use, by ``name_key``; one query."""
    if not names or not (viewer.is_admin or viewer.is_coordinator):
        return {}
    wanted = names | {unicodedata.normalize("NFKC", n) for n in names}
    found = defaultdict(list)
    for unit in db.session.execute(
        select(Unit.id, Unit.name).where(Unit.name.in_(sorted(wanted)), viewer.unit_condition())
    ):
        found[name_key(unit.name)].append(unit)
    return found


def _teams_by_name(viewer: Viewer, names: set[str], unit_ids: set[int]) -> dict[str, list]:
    """Teams the viewer may manage that are named in the file or sit in a unit it names
    (stored names may differ in spacing), by ``name_key``; one query."""
    if not names:
        return {}
    wanted = names | {unicodedata.normalize("NFKC", n) for n in names}
    found = defaultdict(list)
    query = (
        select(Team.id, Team.name, Team.unit_id, Unit.name.label("unit_name"))
        .join(Unit, Unit.id == Team.unit_id)
        .where(
            or_(Team.name.in_(sorted(wanted)), Team.unit_id.in_(sorted(unit_ids))),
            viewer.team_condition(),
        )
        .order_by(Team.id)
    )
    for team in db.session.execute(query):
        found[name_key(team.name)].append(team)
    return found


# -- people ------------------------------------------------------------------------------


def _flag_duplicates(planned: list[PlannedRow]) -> None:
    """A phone twice in one team: the later rows are errors (one person, one membership)."""
    first: dict[tuple[int, str], PlannedRow] = {}
    for item in planned:
        if item.outcome == Outcome.ERROR or item.team is None:
            continue
        key = (id(item.team), item.e164)
        seen = first.setdefault(key, item)
        if seen is not item:
            if seen.row.sheet != item.row.sheet:
                item.fail(
                    _(
                        "手机号与工作表“%(sheet)s”第 %(row)d 行重复",
                        sheet=seen.row.sheet,
                        row=seen.row.number,
                    )
                )
            else:
                item.fail(_("手机号与第 %(row)d 行重复", row=seen.row.number))


def _classify(planned: list[PlannedRow], created_here: dict[str, int]) -> None:
    valid = [p for p in planned if p.outcome != Outcome.ERROR]
    people = _people_by_phone({p.e164 for p in valid} - created_here.keys())
    people.update(created_here)
    person_ids = set(people.values())
    team_ids = {p.team.team_id for p in valid if p.team.team_id is not None}
    members = _pairs(
        select(Membership.team_id, Membership.person_id), Membership, person_ids, team_ids
    )
    invited = _pairs(
        select(TeamInvitation.team_id, TeamInvitation.person_id).where(
            TeamInvitation.status == InvitationStatus.PENDING
        ),
        TeamInvitation,
        person_ids,
        team_ids,
    )
    for item in valid:
        item.person_id = people.get(item.e164)
        pair = (item.team.team_id, item.person_id)
        if item.person_id is None:
            item.outcome = Outcome.NEW
        elif pair in members:
            item.outcome = Outcome.MEMBER
        elif item.e164 in created_here:
            item.outcome = Outcome.NEW  # made by this very import: no one else's data
        elif pair in invited:
            item.outcome = Outcome.INVITED
        else:
            item.outcome = Outcome.INVITE


def _people_by_phone(phones: set[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for chunk in _chunks(sorted(phones)):
        rows = db.session.execute(select(Person.phone, Person.id).where(Person.phone.in_(chunk)))
        found.update((phone, person_id) for phone, person_id in rows)
    return found


def _pairs(query, model, person_ids: set[int], team_ids: set[int]) -> set[tuple[int, int]]:
    """(team id, person id) of ``query``'s rows for these people and teams, by chunks."""
    if not team_ids:
        return set()
    pairs: set[tuple[int, int]] = set()
    for chunk in _chunks(sorted(person_ids)):
        rows = db.session.execute(
            query.where(model.person_id.in_(chunk), model.team_id.in_(sorted(team_ids)))
        )
        pairs.update((team_id, person_id) for team_id, person_id in rows)
    return pairs


def _chunks(values: list, size: int = CHUNK) -> Iterable[list]:
    for start in range(0, len(values), size):
        yield values[start : start + size]
