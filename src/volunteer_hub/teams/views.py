"""Team pages: the teams a viewer leads or oversees, one team's members and events."""

from __future__ import annotations

import functools

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from volunteer_hub import queries
from volunteer_hub.admin_web import check_posted
from volunteer_hub.auth.permissions import may_edit_identity
from volunteer_hub.db import utcnow
from volunteer_hub.errors import DomainError
from volunteer_hub.extensions import db
from volunteer_hub.hours import past_events
from volunteer_hub.people import phone_changes
from volunteer_hub.people.models import Person
from volunteer_hub.people.services import display_phone, mask_phone
from volunteer_hub.teams import services
from volunteer_hub.teams.forms import MemberForm, PhoneCodeForm
from volunteer_hub.teams.models import MemberRole, Team, TeamInvitation
from volunteer_hub.transactions import on_domain_error
from volunteer_hub.web import current_viewer, error_dict, form_errors, found, staff_required

bp = Blueprint("teams", __name__)

#: the team page lists this many upcoming events at most
EVENT_LIMIT = 100
#: past events on the team page (and per page of the list of them all)
PAST_LIMIT = 20


def visible_team(team_id: int):
    """The viewer and the team they may see (lead or oversee); else the 404 page."""
    viewer = current_viewer()
    return viewer, found(queries.visible_team, viewer, team_id)


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
    viewer, team = visible_team(team_id)
    form = MemberForm()
    check_posted(form, functools.partial(_team_page, team, form))
    added = services.add_member(
        team.id,
        form.name.data,
        form.phone.data,
        form.role.data or "",
        form.skills.data,
        invited_by_id=viewer.person_id,
    )
    if isinstance(added, TeamInvitation):
        # Only what the leader typed, and the number masked: never the stored name.
        typed = (form.name.data or "").strip()
        masked = mask_phone(db.session.get(Person, added.person_id).phone)
        if typed:
            message = _(
                "%(phone)s（%(name)s）已在系统中登记，已向其发送入队邀请，对方同意后才会加入本队。",
                phone=masked,
                name=typed,
            )
        else:
            message = _(
                "%(phone)s 已在系统中登记，已向其发送入队邀请，对方同意后才会加入本队。",
                phone=masked,
            )
        flash(message, "info")
        return redirect(url_for("teams.team", team_id=team.id, _anchor="invitations"))
    name = services.membership(team.id, added.person_id).person.name
    flash(_("已添加队员：%(name)s", name=name), "success")
    return redirect(url_for("teams.team", team_id=team.id, _anchor="members"))


@bp.post("/teams/<int:team_id>/invitations/<int:invitation_id>/withdraw")
@staff_required
def withdraw_invitation(team_id: int, invitation_id: int):
    team = found(queries.visible_team, current_viewer(), team_id)
    services.withdraw_invitation(team.id, invitation_id)  # NotFound: the 404 page
    flash(_("已撤回入队邀请。"), "success")
    return redirect(url_for("teams.team", team_id=team.id, _anchor="invitations"))


@bp.route("/teams/<int:team_id>/members/<int:person_id>/edit", methods=["GET", "POST"])
@staff_required
def edit_member(team_id: int, person_id: int):
    viewer, team, membership = _managed_member(team_id, person_id)
    person = membership.person
    identity_editable = may_edit_identity(viewer, person_id)
    if request.method != "POST":
        form = MemberForm.filled(membership, display_phone(person.phone))
        return _member_page(team, membership, form, {}, identity_editable=identity_editable)
    form = MemberForm()
    check_posted(
        form,
        functools.partial(
            _member_page, team, membership, form, identity_editable=identity_editable
        ),
    )

    def sent(name: str) -> str | None:
        # A field the page did not send (read-only identity) means "keep as it is".
        return getattr(form, name).data if name in request.form else None

    change = services.update_member(
        team.id,
        person_id,
        sent("name"),
        sent("phone"),
        form.role.data or "",
        sent("skills"),
        viewer=viewer,
    ).phone_change
    new_phone = change.new_phone if change is not None else None
    name = person.name
    if new_phone is not None:
        flash(
            _(
                "已保存队员信息：%(name)s。验证码已发到新手机号 %(phone)s，输入验证码后手机号才会更改。",
                name=name,
                phone=display_phone(new_phone),
            ),
            "info",
        )
        return redirect(url_for("teams.confirm_phone", team_id=team.id, person_id=person_id))
    flash(_("已保存队员信息：%(name)s", name=name), "success")
    if person_id == viewer.person_id and form.role.data != MemberRole.LEADER:
        return redirect(url_for("teams.my_teams"))  # they no longer lead this team
    return redirect(url_for("teams.team", team_id=team.id, _anchor="members"))


@bp.route("/teams/<int:team_id>/members/<int:person_id>/phone", methods=["GET", "POST"])
@staff_required
def confirm_phone(team_id: int, person_id: int):
    """The code texted to the member's new phone: the number changes when it is entered."""
    viewer, team, membership = _managed_member(team_id, person_id, identity=True)
    change = phone_changes.pending(person_id)
    if change is None:
        flash(_("没有等待验证的手机号变更，请在编辑页重新修改手机号。"), "info")
        return redirect(url_for("teams.edit_member", team_id=team.id, person_id=person_id))
    form = PhoneCodeForm()
    if request.method != "POST":
        return _phone_page(team, membership, change, form, {})
    if not form.validate_on_submit():
        return _phone_page(team, membership, change, form, form_errors(form), 400)
    new_phone = change.new_phone

    def refused(exc: DomainError):
        change = phone_changes.pending(person_id)  # gone after too many wrong codes
        if change is None:
            flash(exc.message, "error")
            return redirect(url_for("teams.edit_member", team_id=team.id, person_id=person_id))
        return _phone_page(team, membership, change, form, error_dict(exc), 400)

    on_domain_error(refused)
    phone_changes.confirm(person_id, form.code.data)
    name = membership.person.name
    flash(
        _(
            "%(name)s 的手机号已改为 %(phone)s。",
            name=name,
            phone=display_phone(new_phone),
        ),
        "success",
    )
    if person_id == viewer.person_id:
        return redirect(url_for("auth.login"))  # their own sessions ended with the change
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
    on_domain_error(back=url_for("teams.team", team_id=team.id, _anchor="members"))
    services.remove_member(team.id, person_id)
    flash(_("已将 %(name)s 移出本队", name=name), "success")
    if person_id == viewer.person_id:
        return redirect(url_for("teams.my_teams"))
    return redirect(url_for("teams.team", team_id=team.id, _anchor="members"))


def _managed_member(team_id: int, person_id: int, *, identity: bool = False):
    """The viewer, the team and the membership they may edit: they see the team and the
    member's full phone, and for ``identity`` may change who the person is; else 404."""
    viewer = current_viewer()
    team = found(queries.visible_team, viewer, team_id)
    membership = services.membership(team.id, person_id)
    if membership is None or person_id not in viewer.people_with_full_phone([person_id]):
        abort(404)
    if identity and not may_edit_identity(viewer, person_id):
        abort(404)
    return viewer, team, membership


def _team_page(team: Team, form: MemberForm, errors: dict[str, str], status: int = 200):
    viewer = current_viewer()
    members = services.members(team.id)
    events = services.upcoming_events(viewer, team.id, EVENT_LIMIT)
    body = render_template(
        "teams/team.html",
        team=team,
        members=members,
        invitations=services.pending_invitations(team.id),
        mask_phone=mask_phone,
        full_phone_ids=viewer.people_with_full_phone(m.person_id for m in members),
        events=events,
        event_limit=EVENT_LIMIT,
        past=past_events.past_events(team.id, utcnow(), limit=PAST_LIMIT + 1),
        past_limit=PAST_LIMIT,
        form=form,
        errors=errors,
    )
    return body, status


@bp.get("/teams/<int:team_id>/events/past")
@staff_required
def past(team_id: int):
    """All the team's past events, PAST_LIMIT a page, latest first."""
    team = found(queries.visible_team, current_viewer(), team_id)
    page = request.args.get("page", "1")
    page = int(page) if page.isdigit() and 0 < int(page) < 10_000 else 1
    rows = past_events.past_events(
        team.id, utcnow(), limit=PAST_LIMIT + 1, offset=(page - 1) * PAST_LIMIT
    )
    return render_template(
        "teams/past.html", team=team, past=rows, past_limit=PAST_LIMIT, page=page
    )


def _member_page(team, membership, form, errors, status: int = 200, *, identity_editable=True):
    pending = phone_changes.pending(membership.person_id) if identity_editable else None
    return _person_page(
        "teams/member_edit.html",
        (team, membership, form, errors, status),
        identity_editable=identity_editable,
        phone_change=pending,
    )


def _phone_page(team, membership, change, form, errors, status: int = 200):
    return _person_page(
        "teams/phone_change.html",
        (team, membership, form, errors, status),
        new_phone=display_phone(change.new_phone),
    )


def _person_page(template: str, shown: tuple, **extra):
    """A page about one member of ``team``: its form with the errors, the phone in full."""
    team, membership, form, errors, status = shown
    context = {"team": team, "membership": membership, "person": membership.person}
    body = render_template(
        template, form=form, errors=errors, display_phone=display_phone, **context, **extra
    )
    return body, status
