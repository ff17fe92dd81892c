"""The roster import: preview a file, then apply it as a job, team by team.

``create_import`` reads the file, plans every row (``roster.planning``) and keeps the
preview and the bytes in a ``RosterImport`` row; nothing else changes. ``queue_apply``
hands it to the worker (``roster.tasks``), which calls ``apply_import``: it reads and
plans the file again against the database as it is then, and applies each team in its
own savepoint — a team with an error row is held back whole, the others go in. People
already registered are never enrolled: they get the invitation of teams.services
(issue 11), whose text goes through the outbox after the commit. Applying the same file
again finds everyone a member or invited and changes nothing.

Statements are per team, not per row: one INSERT for the team's new people, one for
their memberships, one UPDATE of the job's progress; invitations cost what the
invitation service costs, for the rows that need one.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Collection
from dataclasses import dataclass
from datetime import timedelta

from flask_babel import gettext as _
from sqlalchemy import insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import undefer

from volunteer_hub import after_commit
from volunteer_hub.auth.permissions import Viewer, viewer_for
from volunteer_hub.db import utcnow
from volunteer_hub.errors import Conflict, DomainError, NotFound
from volunteer_hub.extensions import db
from volunteer_hub.people.models import Person
from volunteer_hub.people.services import InvalidPhone, mask_phone, normalize_phone
from volunteer_hub.people.skills import give_skills
from volunteer_hub.roster.models import ImportStatus, RosterImport
from volunteer_hub.roster.planning import Outcome, Plan, PlannedRow, Scope, TeamPlan, plan
from volunteer_hub.roster.reader import read_file
from volunteer_hub.sms import number_opt_outs
from volunteer_hub.teams import services as teams
from volunteer_hub.teams.models import MemberRole, Membership, Team

log = logging.getLogger(__name__)

#: a job marked running this long ago died with its worker: it may be applied again
STALE_RUNNING = timedelta(minutes=15)
#: teams are applied in savepoints and committed together once this many rows are done,
#: so the progress bar moves without a commit (a WAL flush) for each of 417 small teams
COMMIT_EVERY_ROWS = 500
#: the job's counters, zeroed when it starts
COUNTERS = (
    "new_count",
    "existing_count",
    "invited_count",
    "error_count",
    "held_back_count",
    "teams_created",
    "done_rows",
)
#: the command line acts as an admin
CLI_VIEWER = Viewer(person_id=0, is_admin=True)


def scope_for(viewer: Viewer, team_id: int | None, invited_by_id: int | None) -> Scope:
    """The import's scope; a ``team_id`` the viewer may not manage is NotFound."""
    team = None
    if team_id is not None:
        team = db.session.scalar(select(Team).where(Team.id == team_id, viewer.team_condition()))
        if team is None:
            raise NotFound(_("服务队不存在"), field="team_id")
    return Scope(viewer=viewer, team=team, invited_by_id=invited_by_id)


def preview(content: bytes, file_name: str, scope: Scope) -> Plan:
    """Every row's outcome; changes nothing. Raises reader.UnreadableFile."""
    roster = read_file(content, file_name)
    planned = plan(roster.rows, scope)
    planned.hidden_sheets = roster.hidden_sheets
    return planned


def create_import(
    content: bytes, file_name: str, viewer: Viewer, team_id: int | None, *, via: str = "web"
) -> RosterImport:
    """Preview the file and keep it, with its preview, for applying."""
    created_by_id = viewer.person_id if via == "web" else None
    scope = scope_for(viewer, team_id, created_by_id)
    planned = preview(content, file_name, scope)
    record = RosterImport(
        created_by_id=created_by_id,
        via=via,
        team_id=team_id,
        file_name=(file_name or "")[-255:],
        file_sha256=hashlib.sha256(content).hexdigest(),
        file_size=len(content),
        content=content,
        status=ImportStatus.PREVIEWED,
        preview=preview_summary(planned),
        total_rows=len(planned.rows),
        done_rows=0,
        created_at=utcnow(),
    )
    db.session.add(record)
    db.session.flush()
    return record


def visible_import(viewer: Viewer, import_id: int) -> RosterImport:
    """The import if the viewer made it (admins see all); NotFound otherwise."""
    query = select(RosterImport).where(RosterImport.id == import_id)
    if not viewer.is_admin:
        query = query.where(RosterImport.created_by_id == viewer.person_id)
    record = db.session.scalar(query)
    if record is None:
        raise NotFound(_("导入记录不存在"))
    return record


def recent_imports(viewer: Viewer, limit: int = 20) -> list[RosterImport]:
    query = select(RosterImport).order_by(RosterImport.id.desc()).limit(limit)
    if not viewer.is_admin:
        query = query.where(RosterImport.created_by_id == viewer.person_id)
    return list(db.session.scalars(query))


def queue_apply(import_id: int) -> None:
    """Hand the import to the worker (after commit). Conflict when it is applied already
    or being applied."""
    from volunteer_hub.roster.tasks import apply_roster_import

    mark_queued(import_id)
    after_commit.enqueue(apply_roster_import.send, import_id)


def mark_queued(import_id: int) -> None:
    """Make the import due for ``apply_import`` (the command line then runs it itself).
    Conflict when it is applied already or being applied."""
    done = db.session.execute(
        update(RosterImport)
        .where(
            RosterImport.id == import_id,
            RosterImport.content.is_not(None),
            or_(
                RosterImport.status.in_([ImportStatus.PREVIEWED, ImportStatus.FAILED]),
                (RosterImport.status == ImportStatus.RUNNING)
                & (RosterImport.started_at < utcnow() - STALE_RUNNING),
            ),
        )
        .values(status=ImportStatus.QUEUED, failure=None)
        .execution_options(synchronize_session=False)
    ).rowcount
    if done != 1:
        raise Conflict(_("该导入已在进行或已完成"))


def apply_import(import_id: int) -> RosterImport | None:
    """Apply a queued import (what the job runs); None when there is nothing to do (a
    duplicate delivery, or applied already). Commits team by team."""
    claimed = db.session.execute(
        update(RosterImport)
        .where(RosterImport.id == import_id, RosterImport.status == ImportStatus.QUEUED)
        .values(status=ImportStatus.RUNNING, started_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    if claimed != 1:
        return None
    record = db.session.get(RosterImport, import_id)
    try:
        _apply(record)
    except Exception:
        db.session.rollback()
        log.exception("roster import %s failed", import_id)
        db.session.execute(
            update(RosterImport)
            .where(RosterImport.id == import_id)
            .values(
                status=ImportStatus.FAILED, failure=_("导入中断，请稍后重试"), finished_at=utcnow()
            )
        )
        db.session.commit()
        raise
    return record


@dataclass
class Tally:
    """What applying one team did, added to the job's counters by one UPDATE."""

    new: int = 0
    existing: int = 0
    invited: int = 0
    errors: int = 0
    held_back: int = 0
    teams_created: int = 0
    done: int = 0

    def add_to(self, import_id: int) -> None:
        # A plain UPDATE: loading the row would load its preview (thousands of rows of
        # JSON) again after every team's commit.
        columns = {
            "new_count": self.new,
            "existing_count": self.existing,
            "invited_count": self.invited,
            "error_count": self.errors,
            "held_back_count": self.held_back,
            "teams_created": self.teams_created,
            "done_rows": self.done,
        }
        db.session.execute(
            update(RosterImport)
            .where(RosterImport.id == import_id)
            .values({name: getattr(RosterImport, name) + n for name, n in columns.items()})
            .execution_options(synchronize_session=False)
        )


def _apply(record: RosterImport) -> None:
    import_id = record.id
    scope = scope_for(_viewer_of(record), record.team_id, record.created_by_id)
    planned = preview(record.content, record.file_name, scope)
    db.session.execute(
        update(RosterImport)
        .where(RosterImport.id == import_id)
        .values(total_rows=len(planned.rows), **dict.fromkeys(COUNTERS, 0))
        .execution_options(synchronize_session=False)
    )
    orphans = sum(1 for p in planned.rows if p.team is None)  # rows with no team: errors
    Tally(errors=orphans, done=orphans).add_to(import_id)
    db.session.commit()
    created_here: dict[str, int] = {}
    uncommitted = 0
    for team_plan in planned.teams:
        _apply_team(import_id, team_plan, scope, created_here)
        uncommitted += len(team_plan.rows)
        if uncommitted >= COMMIT_EVERY_ROWS:
            db.session.commit()  # the progress bar moves
            uncommitted = 0
    db.session.execute(
        update(RosterImport)
        .where(RosterImport.id == import_id)
        # the file is a list of phones: not kept longer than needed
        .values(status=ImportStatus.DONE, finished_at=utcnow(), content=None)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    record = db.session.get(RosterImport, import_id)
    log.info(
        "roster import %s by %s (%s, %s bytes): %s",
        import_id,
        record.created_by_id or "cli",
        record.file_sha256[:12],
        record.file_size,
        record.counts(),
    )


def _viewer_of(record: RosterImport) -> Viewer:
    if record.via == "cli":
        return CLI_VIEWER
    person = db.session.get(Person, record.created_by_id) if record.created_by_id else None
    viewer = viewer_for(person) if person is not None and person.is_active else None
    if viewer is None or not viewer.is_staff:
        raise NotFound(_("导入人已无权导入"))
    return viewer


def _apply_team(
    import_id: int, team_plan: TeamPlan, scope: Scope, created_here: dict[str, int]
) -> None:
    """One team, all or nothing (a savepoint), with the job's progress and counts."""
    rows = team_plan.rows
    tally = Tally(done=len(rows))
    made: dict[str, int] = {}
    if team_plan.error_rows:
        tally.errors = team_plan.error_rows
        tally.held_back = len(rows) - team_plan.error_rows
    else:
        try:
            try:
                with db.session.begin_nested():
                    made = _write_team(team_plan, scope, tally)
            except IntegrityError:
                # Someone registered a phone or joined a member meanwhile: look again, once.
                tally = Tally(done=len(rows))
                retry = plan([p.row for p in rows], scope, created_here).teams
                with db.session.begin_nested():
                    made = _write_team(retry[0], scope, tally) if retry else {}
        except (IntegrityError, DomainError):
            # Changed under us twice, or its unit went meanwhile: this team is not
            # applied (its savepoint is rolled back), the others are. Never the whole job.
            log.warning("roster import %s: team %r not applied", import_id, team_plan.name)
            tally, made = Tally(done=len(rows), errors=len(rows)), {}
    tally.add_to(import_id)
    created_here.update(made)


def _write_team(team_plan: TeamPlan, scope: Scope, tally: Tally) -> dict[str, int]:
    """Create the team if needed, insert its new people and memberships (one statement
    each), invite the registered; returns phone → id of the people created."""
    team_id = team_plan.team_id
    if team_id is None:
        team_id = teams.create_team(team_plan.unit_id, team_plan.name).id
        tally.teams_created += 1
    by_outcome: dict[Outcome, list[PlannedRow]] = {outcome: [] for outcome in Outcome}
    for planned in team_plan.rows:
        by_outcome[planned.outcome].append(planned)
    created = _insert_people([p for p in by_outcome[Outcome.NEW] if p.person_id is None])
    joining = [p.person_id or created[p.e164] for p in by_outcome[Outcome.NEW]]
    if joining:
        now = utcnow()
        db.session.execute(
            insert(Membership),
            [
                {"team_id": team_id, "person_id": pid, "role": MemberRole.MEMBER, "joined_at": now}
                for pid in joining
            ],
        )
    for planned in by_outcome[Outcome.INVITE]:
        # The one consent rule: a registered phone is invited, never enrolled (issue 11).
        try:
            with db.session.begin_nested():
                teams.add_member(
                    team_id,
                    planned.row.name,
                    planned.e164,
                    skills=planned.row.skills,
                    invited_by_id=scope.invited_by_id,
                )
            tally.invited += 1
        except teams.AlreadyMember:
            tally.existing += 1  # joined since the plan was made
        except DomainError:
            # The team was archived since the plan, or the like: this row's outcome,
            # not the job's (the rows already applied stay).
            tally.errors += 1
    tally.new += len(joining)
    tally.existing += sum(
        len(by_outcome[o]) for o in (Outcome.MEMBER, Outcome.INVITED, Outcome.DECLINED)
    )
    return created


def _insert_people(rows: list[PlannedRow]) -> dict[str, int]:
    if not rows:
        return {}
    now = utcnow()
    values = [
        {
            "name": p.row.name,
            "phone": p.e164,
            "is_veteran": True if p.row.veteran is None else p.row.veteran,
            "skills": p.row.skills[:500],
            "created_at": now,
            "updated_at": now,
        }
        for p in rows
    ]
    result = db.session.execute(insert(Person).returning(Person.phone, Person.id), values)
    created = {phone: person_id for phone, person_id in result}
    # Numbers that opted out before anyone had them: so are their people, from now on.
    number_opt_outs.adopt(created.values())
    give_skills({created[p.e164]: p.row.skills for p in rows if p.row.skills})
    return created


# -- the preview as stored and shown ----------------------------------------------------


def preview_summary(planned: Plan) -> dict:
    """What the preview page and the error sheet need: counts, teams, every row's outcome
    (phones masked; error rows keep what was typed, for the error sheet)."""
    team_index = {id(team): i for i, team in enumerate(planned.teams)}
    teams_out = []
    for team in planned.teams:
        outcomes = [p.outcome for p in team.rows]
        teams_out.append(
            {
                "name": team.name,
                "unit": team.unit_name,
                "create": team.team_id is None and team.resolved,
                "rows": len(team.rows),
                "errors": team.error_rows,
                **{o.value: outcomes.count(o) for o in Outcome if o != Outcome.ERROR},
            }
        )
    rows_out, errors_out, held_back_out = [], [], []
    for p in planned.rows:
        team = team_index.get(id(p.team), -1)
        if p.outcome == Outcome.ERROR:
            errors_out.append(_as_typed(p, p.reason))
            phone = p.row.phone
        else:
            phone = mask_phone(p.e164)
            if p.team is not None and p.team.error_rows:
                held_back_out.append(_as_typed(p, _("本队有错误行，此行未导入（无需修改）")))
        rows_out.append(
            [p.row.sheet, p.row.number, team, p.row.name, phone, p.outcome.value, p.reason]
        )
    return {
        "counts": planned.counts(),
        "teams": teams_out,
        "rows": rows_out,
        "errors": errors_out,
        # good rows of a team with errors: the error sheet carries them too, so the fixed
        # sheet uploaded again brings the whole team in
        "held_back": held_back_out,
        # sheets nobody sees in Excel: not imported, and the page says so
        "hidden_sheets": planned.hidden_sheets,
    }


def _as_typed(planned: PlannedRow, reason: str) -> dict:
    row = planned.row
    team = row.team or row.sheet_team
    return {
        "sheet": row.sheet,
        "row": row.number,
        "reason": reason,
        "team": team,
        "cells": row.cells,
    }


# -- erasure ------------------------------------------------------------------------------

#: what a preview shows in place of an erased person's name and number
ERASED_CELL = "已删除"
#: the typed cells an erased person's entry on the error sheet loses
_PERSONAL_CELLS = ("name", "phone", "skills")


def forget_person(phones: Collection[str], name: str) -> int:
    """An erased person (``people.erasure``) leaves the previews kept with each import:
    their row shows neither name nor number, and their entry on the error sheet loses
    what was typed for them. ``phones``: every number they are known to have had, since
    an import lists them under the one they had when it was uploaded. An import not
    applied yet whose file lists them loses the file, which would bring them back: it
    must be uploaded again. Returns the imports changed. Rare, so every import's preview
    is read, once."""
    listed = {*phones, *(mask_phone(phone) for phone in phones)}
    changed = 0
    for record in db.session.scalars(select(RosterImport).options(undefer(RosterImport.preview))):
        preview = record.preview or {}
        rows = [
            [*row[:3], ERASED_CELL, ERASED_CELL, *row[5:]]
            if row[3] == name and row[4] in listed
            else row
            for row in preview.get("rows", [])
        ]
        typed = {
            key: [_forgotten(entry, phones) for entry in preview.get(key, [])]
            for key in ("errors", "held_back")
        }
        if rows == preview.get("rows", []) and all(
            typed[key] == preview.get(key, []) for key in typed
        ):
            continue
        # A new dict, so the JSON column sees the change.
        record.preview = {**preview, "rows": rows, **typed}
        if record.status in (ImportStatus.PREVIEWED, ImportStatus.FAILED):
            record.content = None
            record.status = ImportStatus.FAILED
            record.failure = _("文件中有一位志愿者的个人信息已被删除，请删去此人后重新上传")
        changed += 1
    return changed


def _forgotten(entry: dict, phones: Collection[str]) -> dict:
    """An error-sheet entry without the person's typed cells if its phone is one of
    ``phones``."""
    try:
        typed_phone = normalize_phone(entry.get("cells", {}).get("phone", ""))
    except InvalidPhone:
        return entry
    if typed_phone not in phones:
        return entry
    cells = {
        key: ERASED_CELL if key in _PERSONAL_CELLS and value else value
        for key, value in entry["cells"].items()
    }
    return {**entry, "cells": cells}
