"""Team pages: the teams a viewer leads or oversees, one team's members and events."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from volunteer_hub import queries
from volunteer_hub.db import utcnow
from volunteer_hub.errors import DomainError
from volunteer_hub.extensions import db
from volunteer_hub.people.services import display_phone
from volunteer_hub.teams import services
from volunteer_hub.teams.forms import MemberForm
from volunteer_hub.teams.models import MemberRole, Team
from volunteer_hub.web import current_viewer, error_dict, form_errors, found, staff_required

bp = Blueprint("teams", __name__)

#: the team page lists this many upcoming events at most
EVENT_LIMIT = 100


@bp.get("/teams")
@staff_required
def my_teams():
    viewer = current_viewer()
    teams = list(db.session.scalars(queries.visible_teams(viewer)))
    team_ids = [team.id for team in teams]
    return render_template(
        "teams/my_teams.html",
        teams=teams,
        member_counts=services.member_counts(team_ids),
        event_counts=queries.upcoming_event_counts(team_ids, utcnow()),
    )


@bp.get("/teams/<int:team_id>")
@staff_required
def team(team_id: int):
    team = found(queries.visible_team, current_viewer(), team_id)
    return _team_page(team, MemberForm(formdata=None), {})


@bp.post("/teams/<int:team_id>/members")
@staff_required
def add_member(team_id: int):
    team = found(queries.visible_team, current_viewer(), team_id)
    form = MemberForm()
    if not form.validate_on_submit():
        return _team_page(team, form, form_errors(form), 400)
    try:
        membership = services.add_member(
            team.id, form.name.data, form.phone.data, form.role.data or "", form.skills.data
        )
        name = services.membership(team.id, membership.person_id).person.name
    except DomainError as exc:
        db.session.rollback()
        return _team_page(team, form, error_dict(exc), 400)
    db.session.commit()
    flash(_("已添加队员：%(name)s", name=name), "success")
    return redirect(url_for("teams.team", team_id=team.id, _anchor="members"))


@bp.route("/teams/<int:team_id>/members/<int:person_id>/edit", methods=["GET", "POST"])
@staff_required
def edit_member(team_id: int, person_id: int):
    viewer = current_viewer()
    team = found(queries.visible_team, viewer, team_id)
    membership = services.membership(team.id, person_id)
    if membership is None or person_id not in viewer.people_with_full_phone([person_id]):
        abort(404)
    person = membership.person
    if request.method != "POST":
        form = MemberForm(
            formdata=None,
            data={
                "name": person.name,
                "phone": display_phone(person.phone),
                "role": membership.role,
                "skills": person.skills,
            },
        )
        return _member_page(team, membership, form, {})
    form = MemberForm()
    if not form.validate_on_submit():
        return _member_page(team, membership, form, form_errors(form), 400)
    try:
        services.update_member(
            team.id,
            person_id,
            form.name.data,
            form.phone.data,
            form.role.data or "",
            form.skills.data,
        )
    except DomainError as exc:
        db.session.rollback()
        return _member_page(team, membership, form, error_dict(exc), 400)
    name = (form.name.data or "").strip()
    db.session.commit()
    flash(_("已保存队员信息：%(name)s", name=name), "success")
    if person_id == viewer.person_id and form.role.data != MemberRole.LEADER:
        return redirect(url_for("teams.my_teams"))  # they no longer lead this team
    return redirect(url_for("teams.team", team_id=team.id, _anchor="members"))


@bp.post("/teams/<int:team_id>/members/<int:person_id>/remove")
@staff_required
def remove_member(team_id: int, person_id: int):
    viewer = current_viewer()
    team = found(queries.visible_team, viewer, team_id)
    membership = services.membership(team.id, person_id)
    if membership is None:
        abort(404)
    name = membership.person.name
    try:
        services.remove_member(team.id, person_id)
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(url_for("teams.team", team_id=team.id, _anchor="members"))
    db.session.commit()
    flash(_("已将 %(name)s 移出本队", name=name), "success")
    if person_id == viewer.person_id:
        return redirect(url_for("teams.my_teams"))
    return redirect(url_for("teams.team", team_id=team.id, _anchor="members"))


def _team_page(team: Team, form: MemberForm, errors: dict[str, str], status: int = 200):
    viewer = current_viewer()
    members = services.members(team.id)
    events = queries.events(
        viewer,
        team_id=team.id,
        ends_after=utcnow(),
        statuses=queries.UPCOMING_STATUSES,
        limit=EVENT_LIMIT,
    )
    body = render_template(
        "teams/team.html",
        team=team,
        members=members,
        full_phone_ids=viewer.people_with_full_phone(m.person_id for m in members),
        events=events,
        event_limit=EVENT_LIMIT,
        form=form,
        errors=errors,
    )
    return body, status


def _member_page(team, membership, form, errors, status: int = 200):
    return (
        render_template(
            "teams/member_edit.html",
            team=team,
            membership=membership,
            person=membership.person,
            form=form,
            errors=errors,
        ),
        status,
    )
