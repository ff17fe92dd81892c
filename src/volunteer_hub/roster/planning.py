"""What an import would do, row by row, decided before anything changes.

``plan`` turns the rows a file holds into each row's outcome — a new person, already a
member, a registered person to invite, already invited, or an error in Chinese — and
groups them by team (existing, or to be created under a unit in the importer's scope).
It reads the database in a fixed number of queries whatever the number of rows: one
for the units in scope, one for the teams in scope, and per 5,000 phones one each for
the people, their memberships and their invitations. It writes nothing; the preview
shows it and the job applies it (``roster.services``).

A row whose team cannot be used (unknown, ambiguous, archived) still belongs to the
team it names, so that team is held back whole like any team with an error row.
"""

from __future__ import annotations

import enum
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import phonenumbers
from flask_babel import gettext as _
from sqlalchemy import select

from volunteer_hub.auth.permissions import Viewer
from volunteer_hub.extensions import db
from volunteer_hub.people.models import Person
from volunteer_hub.people.services import InvalidPhone, normalize_phone
from volunteer_hub.roster.reader import RosterRow, clean_text
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
    #: registered, invited once and said no: settled, nothing is sent again
    DECLINED = "declined"
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
    #: False: no team could be found or made for this name; its rows are all errors,
    #: grouped here so the error sheet and the counts show them as one team
    resolved: bool = True
    #: an archived team: its rows are errors
    archived: bool = False

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
    #: the file's hidden sheets, not read
    hidden_sheets: list[str] = field(default_factory=list)

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
            "existing": by[Outcome.MEMBER] + by[Outcome.INVITED] + by[Outcome.DECLINED],
            "invited": by[Outcome.INVITE],
            "errors": by[Outcome.ERROR],
            "teams_created": sum(1 for t in self.teams if t.team_id is None and not t.error_rows),
            "held_back": held_back,
        }


#: quotes typed for the same thing ("五老", “五老”, ＂五老＂ — NFKC makes ＂ a ")
_QUOTES = str.maketrans({"“": '"', "”": '"', "‘": "'", "’": "'", "「": '"', "」": '"'})


def name_key(text: str) -> str:
    """A unit's or team's name as compared: NFKC, no spaces nor invisible characters,
    one kind of quote."""
    text = unicodedata.normalize("NFKC", clean_text(text or "")).translate(_QUOTES)
    return re.sub(r"\s+", "", text)


def plan(rows: Sequence[RosterRow], scope: Scope, created_here: dict[str, int] | None = None):
    """Each row's outcome. ``created_here``: phone → id of the people this import has
    created already (in an earlier team): they join further teams directly, as new people."""
    planned = [PlannedRow(row=row) for row in rows]
    for item in planned:
        _check_row(item)
    teams = _resolve_teams(planned, scope)
    _flag_duplicates(planned)
    _flag_shared_phones(planned)
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
        item.e164 = import_phone(row.phone)
    except InvalidPhone as exc:
        item.fail(exc.message)


#: an 18-digit (or old 15-digit) ID card number typed in the phone column
_ID_NUMBER = re.compile(r"\d{17}[\dXx]|\d{15}")
#: what Excel makes of a long number in a General column, saved as text: 1.38123E+10
_SCIENTIFIC = re.compile(r"\d(?:\.\d+)?[Ee]\+?\d+")
#: what separates two numbers typed in one cell
_SEPARATORS = re.compile(r"[/,，、;；|\\\n]|或")
#: a mainland mobile's national number
_MOBILE_DIGITS = re.compile(r"\+861\d{10}")


def import_phone(text: str) -> str:
    """A roster cell's phone in E.164, stricter than ``normalize_phone``: a mainland
    number must be a mobile (the import's members are reached by text), and what goes
    wrong is said plainly. Raises InvalidPhone."""
    text = unicodedata.normalize("NFKC", clean_text(text or ""))
    text = re.sub(r"(?<=\d)\.0+$", "", text)  # a number cell saved as text
    if _ID_NUMBER.fullmatch(text):
        # never echoed: the reason is kept with the import's preview
        raise InvalidPhone(_("手机号一栏填的像是身份证号，请填写手机号码"), field="phone")
    if _SCIENTIFIC.fullmatch(text):
        raise InvalidPhone(
            _("手机号被 Excel 显示成了科学计数法：请把手机号列设为文本格式后重新导出"),
            field="phone",
        )
    parts = [part for part in _SEPARATORS.split(text) if sum(c.isdigit() for c in part) >= 7]
    words = text.split()
    if len(parts) > 1 or (len(words) > 1 and all(len(w) == 11 and w.isdigit() for w in words)):
        raise InvalidPhone(_("一个单元格只填一个手机号"), field="phone")
    e164 = normalize_phone(text)
    if e164.startswith("+86") and not _MOBILE_DIGITS.fullmatch(e164):
        kind = phonenumbers.number_type(phonenumbers.parse(e164))
        if kind not in (
            phonenumbers.PhoneNumberType.MOBILE,
            phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
        ):
            raise InvalidPhone(_("座机号码无法接收短信，请填写手机号码"), field="phone")
    return e164


# -- teams -------------------------------------------------------------------------------


def _resolve_teams(planned: list[PlannedRow], scope: Scope) -> list[TeamPlan]:
    if scope.team is not None:
        return _into_one_team(planned, scope.team)
    units = _units_in_scope(scope.viewer)
    teams = _teams_in_scope(scope.viewer)
    made: dict[tuple, TeamPlan] = {}
    unresolved: list[tuple[PlannedRow, str]] = []
    for item in planned:
        team_plan = _team_of(item.row, units, teams, made)
        if isinstance(team_plan, str):
            item.fail(team_plan)
            unresolved.append((item, team_plan))
        else:
            item.team = team_plan
            team_plan.rows.append(item)
            if team_plan.team_id is not None and team_plan.archived:
                item.fail(_("该服务队已归档"))
    _attach_unresolved(unresolved, made)
    return list(made.values())


def _attach_unresolved(unresolved: list[tuple[PlannedRow, str]], made: dict) -> None:
    """A row that names a team but finds none belongs to the team of that name all the
    same (the one in its unit, else the first), so that team is held back whole; with
    none, to a team of errors of its own. A row naming no team belongs to none."""
    by_name: dict[str, list[TeamPlan]] = defaultdict(list)
    for team_plan in made.values():
        by_name[name_key(team_plan.name)].append(team_plan)
    for item, _reason in unresolved:
        name = item.row.team or item.row.sheet_team
        if not name:
            continue
        key = name_key(name)
        candidates = by_name[key]
        in_unit = [
            t
            for t in candidates
            if item.row.unit and name_key(t.unit_name) == name_key(item.row.unit)
        ]
        if in_unit or candidates:
            team_plan = (in_unit or candidates)[0]
        else:
            team_plan = made.setdefault(
                ("unresolved", key),
                TeamPlan(
                    name=name, unit_id=0, unit_name=item.row.unit, team_id=None, resolved=False
                ),
            )
            by_name[key].append(team_plan)
        item.team = team_plan
        team_plan.rows.append(item)


def _into_one_team(planned: list[PlannedRow], team: Team) -> list[TeamPlan]:
    target = TeamPlan(
        name=team.name, unit_id=team.unit_id, unit_name=team.unit.name, team_id=team.id
    )
    for item in planned:
        if team.is_archived:
            item.fail(_("该服务队已归档"))
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
        existing = _open_first([t for t in teams.get(key, []) if t.unit_id == unit.id])
        if existing:
            # an archived team of that name too: its rows are errors, never a second team
            return _plan_for(made, existing[0], unit.name)
        return made.setdefault(
            ("new", unit.id, key),
            TeamPlan(name=name, unit_id=unit.id, unit_name=unit.name, team_id=None),
        )
    existing = _open_first(teams.get(key, []))
    if not existing:
        return _("服务队“%(team)s”不存在或不在您的管辖范围内；新建服务队请填写所属单位", team=name)
    if len(existing) > 1 and not existing[1].archived_at:
        return _("有多支名为“%(team)s”的服务队，请填写所属单位以区分", team=name)
    return _plan_for(made, existing[0], existing[0].unit_name)


def _open_first(teams: list) -> list:
    """Open teams before archived ones (an archived team is matched only when no open
    team has the name)."""
    return sorted(teams, key=lambda team: team.archived_at is not None)


def _plan_for(made: dict[tuple, TeamPlan], team, unit_name: str) -> TeamPlan:
    team_plan = made.setdefault(
        ("id", team.id),
        TeamPlan(name=team.name, unit_id=team.unit_id, unit_name=unit_name, team_id=team.id),
    )
    team_plan.archived = team.archived_at is not None
    return team_plan


def _units_in_scope(viewer: Viewer) -> dict[str, list]:
    """Every unit the viewer may use, by ``name_key``; one query. All of them, not those
    whose stored name a row spells exactly: a row's outcome must not depend on others."""
    if not (viewer.is_admin or viewer.is_coordinator):
        return {}
    found = defaultdict(list)
    for unit in db.session.execute(select(Unit.id, Unit.name).where(viewer.unit_condition())):
        found[name_key(unit.name)].append(unit)
    return found


def _teams_in_scope(viewer: Viewer) -> dict[str, list]:
    """Every team the viewer may manage, archived ones too (their rows are errors, not a
    new team of the same name), by ``name_key``; one query."""
    found = defaultdict(list)
    query = (
        select(Team.id, Team.name, Team.unit_id, Team.archived_at, Unit.name.label("unit_name"))
        .join(Unit, Unit.id == Team.unit_id)
        .where(viewer.team_condition())
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


def _flag_shared_phones(planned: list[PlannedRow]) -> None:
    """One phone under two names (relatives sharing a phone, in one team or two): the
    later rows are errors. Merged, one would become a person nobody typed for a team."""
    first: dict[str, PlannedRow] = {}
    for item in planned:
        if item.e164 is None:
            continue
        seen = first.setdefault(item.e164, item)
        if seen is item or seen.row.name == item.row.name or item.outcome == Outcome.ERROR:
            continue
        if seen.row.sheet != item.row.sheet:
            item.fail(
                _(
                    "与工作表“%(sheet)s”第 %(row)d 行手机号相同但姓名不同",
                    sheet=seen.row.sheet,
                    row=seen.row.number,
                )
            )
        else:
            item.fail(_("与第 %(row)d 行手机号相同但姓名不同", row=seen.row.number))


def _classify(planned: list[PlannedRow], created_here: dict[str, int]) -> None:
    valid = [p for p in planned if p.outcome != Outcome.ERROR]
    people = _people_by_phone({p.e164 for p in valid} - created_here.keys())
    people.update(created_here)
    person_ids = set(people.values())
    team_ids = {p.team.team_id for p in valid if p.team.team_id is not None}
    members = _pairs(
        select(Membership.team_id, Membership.person_id), Membership, person_ids, team_ids
    ).keys()
    invitations = _pairs(
        select(TeamInvitation.team_id, TeamInvitation.person_id, TeamInvitation.status).where(
            TeamInvitation.status.in_([InvitationStatus.PENDING, InvitationStatus.DECLINED])
        ),
        TeamInvitation,
        person_ids,
        team_ids,
    )
    invited = {pair for pair, status in invitations.items() if InvitationStatus.PENDING in status}
    # A "no" is an answer: an import, even of the same file again, does not ask again.
    declined = invitations.keys() - invited
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
        elif pair in declined:
            item.outcome, item.reason = Outcome.DECLINED, _("已拒绝邀请")
        else:
            item.outcome = Outcome.INVITE


def _people_by_phone(phones: set[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for chunk in _chunks(sorted(phones)):
        rows = db.session.execute(select(Person.phone, Person.id).where(Person.phone.in_(chunk)))
        found.update((phone, person_id) for phone, person_id in rows)
    return found


def _pairs(query, model, person_ids: set[int], team_ids: set[int]) -> dict[tuple, set]:
    """(team id, person id) of ``query``'s rows for these people and teams, by chunks,
    → the set of the rows' further columns (empty when it selects only the pair)."""
    pairs: dict[tuple, set] = defaultdict(set)
    if not team_ids:
        return pairs
    for chunk in _chunks(sorted(person_ids)):
        rows = db.session.execute(
            query.where(model.person_id.in_(chunk), model.team_id.in_(sorted(team_ids)))
        )
        for team_id, person_id, *rest in rows:
            pairs[team_id, person_id].update(rest)
    return pairs


def _chunks(values: list, size: int = CHUNK) -> Iterable[list]:
    for start in range(0, len(values), size):
        yield values[start : start + size]
