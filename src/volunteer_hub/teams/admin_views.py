"""Running a team from the web: create, rename, archive, its leaders; the roster as a
workbook and a shift's printable sign-in sheet (签到表). Rules live in
teams.administration and teams.rosters; these handlers parse, call, answer."""

from __future__ import annotations

import functools
import io

from flask import Blueprint, flash, redirect, render_template, send_file, url_for
from flask_babel import gettext as _

from volunteer_hub import queries
from volunteer_hub.admin_web import check_posted
from volunteer_hub.audit import services as audit
from volunteer_hub.hours.exports import XLSX_MIMETYPE
from volunteer_hub.people.services import mask_phone
from volunteer_hub.teams import administration, rosters, services
from volunteer_hub.teams.forms import LeaderForm, RenameTeamForm, TeamForm
from volunteer_hub.teams.models import MemberRole, Team
from volunteer_hub.teams.views import visible_team
from volunteer_hub.transactions import on_domain_error
from volunteer_hub.web import current_viewer, found, staff_required

bp = Blueprint("team_admin", __name__)

#: the leader form shares the page with the rename form: its own field ids
LEADER_PREFIX = "leader"
#: upcoming events whose shifts get a sign-in sheet link on the management page
SHEET_EVENTS = 20


@bp.post("/teams")
@staff_required
def create():
    viewer = current_viewer()
    form = TeamForm()
    unit_text = (form.unit.data or "").strip()
    unit_id = int(unit_text) if unit_text.isdigit() and len(unit_text) < 10 else None
    back = url_for("units.unit", unit_id=unit_id, _anchor="new-team") if unit_id else None
    on_domain_error(back=back or url_for("units.tree"))
    team = administration.create_team(viewer, unit_id, form.name.data, form.description.data)
    flash(_("已新建服务队：%(name)s。请设置队长。", name=team.name), "success")
    return redirect(url_for("team_admin.manage", team_id=team.id, _anchor="leaders"))


@bp.get("/teams/<int:team_id>/manage")
@staff_required
def manage(team_id: int):
    _viewer, team = visible_team(team_id)
    return _manage_page(team, RenameTeamForm(formdata=None, data={"name": team.name}), {})


@bp.post("/teams/<int:team_id>/rename")
@staff_required
def rename(team_id: int):
    viewer, team = visible_team(team_id)
    form = RenameTeamForm()
    check_posted(form, functools.partial(_manage_page, team, form))
    administration.rename_team(viewer, team.id, form.name.data)
    flash(_("已保存服务队名称"), "success")
    return redirect(url_for("team_admin.manage", team_id=team.id))


@bp.post("/teams/<int:team_id>/<any(archive, restore):change>")
@staff_required
def archive(team_id: int, change: str):
    """Archive or restore: the two sides of one switch, for coordinators and admins."""
    viewer, team = visible_team(team_id)
    on_domain_error(back=url_for("team_admin.manage", team_id=team.id))
    if change == "archive":
        administration.archive_team(viewer, team.id)
        flash(_("已归档服务队：%(name)s。历史记录保留。", name=team.name), "success")
    else:
        administration.restore_team(viewer, team.id)
        flash(_("已恢复服务队：%(name)s", name=team.name), "success")
    return redirect(url_for("team_admin.manage", team_id=team.id))


@bp.post("/teams/<int:team_id>/leaders")
@staff_required
def appoint_leader(team_id: int):
    viewer, team = visible_team(team_id)
    form = LeaderForm(prefix=LEADER_PREFIX)
    rename_form = RenameTeamForm(formdata=None, data={"name": team.name})
    check_posted(form, functools.partial(_manage_page, team, rename_form, leader_form=form))
    outcome = administration.appoint_leader(viewer, team.id, form.phone.data, form.name.data)
    if outcome.promoted:
        name = services.membership(team.id, outcome.person_id).person.name
        flash(_("已设 %(name)s 为队长", name=name), "success")
    else:
        # Not in the team: never the stored name, only the masked number (issue 11).
        masked = mask_phone(outcome.invitation.person.phone)
        flash(
            _(
                "%(phone)s 已在系统中登记但不是本队队员，已向其发送入队邀请；对方同意加入后，再设为队长。",
                phone=masked,
            ),
            "info",
        )
    return redirect(url_for("team_admin.manage", team_id=team.id, _anchor="leaders"))


@bp.post("/teams/<int:team_id>/leaders/<int:person_id>/remove")
@staff_required
def remove_leader(team_id: int, person_id: int):
    viewer, team = visible_team(team_id)
    on_domain_error(back=url_for("team_admin.manage", team_id=team.id, _anchor="leaders"))
    administration.remove_leader(viewer, team.id, person_id)
    flash(_("已取消队长身份，此人仍是本队队员"), "success")
    if person_id == viewer.person_id and not viewer.is_admin and not viewer.is_coordinator:
        return redirect(url_for("teams.my_teams"))  # they no longer lead this team
    return redirect(url_for("team_admin.manage", team_id=team.id, _anchor="leaders"))


@bp.get("/teams/<int:team_id>/roster.xlsx")
@staff_required
def roster_xlsx(team_id: int):
    viewer, team = visible_team(team_id)
    body = rosters.roster_workbook(team, viewer)
    response = send_file(
        io.BytesIO(body),
        mimetype=XLSX_MIMETYPE,
        as_attachment=True,
        download_name=_("%(team)s 花名册", team=team.name) + ".xlsx",
    )
    response.headers["Cache-Control"] = "private, no-store"  # people's phones
    return response


@bp.get("/shifts/<int:shift_id>/sign-in-sheet")
@staff_required
def sign_in_sheet(shift_id: int):
    shift = found(queries.visible_shift, current_viewer(), shift_id)
    return render_template("teams/sign_in_sheet.html", sheet=rosters.sign_in_sheet(shift))


def _manage_page(
    team: Team, rename_form, errors: dict[str, str], status: int = 200, *, leader_form=None
):
    viewer = current_viewer()
    leaders = [m for m in services.members(team.id) if m.role == MemberRole.LEADER]
    events = services.upcoming_events(viewer, team.id, SHEET_EVENTS)
    body = render_template(
        "teams/manage.html",
        team=team,
        leaders=leaders,
        events=events,
        rename_form=rename_form,
        leader_form=leader_form or LeaderForm(prefix=LEADER_PREFIX, formdata=None),
        may_oversee=administration.may_oversee(viewer, team),
        changes=audit.entries_about("team", team.id),
        audit_label=audit.label,
        errors=errors,
    )
    return body, status
