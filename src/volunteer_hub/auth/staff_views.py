"""员工账号: the staff accounts an admin or coordinator oversees; make a leader or a
coordinator, switch an account off, give it a new password. The rules are auth/staff.py's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from volunteer_hub.audit import services as audit
from volunteer_hub.auth import staff
from volunteer_hub.auth.forms import StaffAccountForm
from volunteer_hub.auth.permissions import Viewer
from volunteer_hub.errors import NotFound
from volunteer_hub.people.services import is_erased_phone
from volunteer_hub.transactions import on_domain_error
from volunteer_hub.web import (
    current_viewer,
    error_dict,
    form_errors,
    found,
    indented,
    staff_required,
)

bp = Blueprint("staff", __name__, url_prefix="/staff")

T = TypeVar("T")


def _manager():
    """The viewer, if they manage accounts (admins, coordinators); others get 404."""
    viewer = current_viewer()
    if not staff.may_manage_accounts(viewer):
        abort(404)
    return viewer


@bp.get("")
@staff_required
def accounts():
    viewer = _manager()
    return render_template(
        "auth/staff_list.html", accounts=staff.staff_accounts(viewer), may_manage=staff.may_manage
    )


@bp.route("/new", methods=["GET", "POST"])
@staff_required
def new_account():
    viewer = _manager()
    form = StaffAccountForm()
    # Rendered by the template, not by WTForms: the service checks the scope.
    choices = {
        "teams": [(team.id, team.name) for team in staff.assignable_teams(viewer)],
        "units": [(unit.id, label) for unit, label in indented(staff.assignable_units(viewer))],
    }
    if not form.validate_on_submit():
        return _new_page(form, form_errors(form) if request.method == "POST" else {}, choices)
    on_domain_error(lambda exc: _new_page(form, error_dict(exc), choices))
    created = staff.create_account(
        viewer,
        name=form.name.data,
        phone=form.phone.data,
        role=form.role.data,
        team_ids=form.team_ids.data,
        unit_id=form.unit_id.data or None,
    )
    if created.temporary_password is None:
        flash(_("该手机号已有账号，已为其添加角色；密码不变。"), "success")
        return redirect(url_for("staff.account", person_id=created.person_id))
    # Answered here, not after a redirect: the password must not travel in a cookie.
    return _password_shown(created.person_id, created.temporary_password, created=True)


@bp.get("/<int:person_id>")
@staff_required
def account(person_id: int):
    viewer = _manager()
    shown = found(staff.staff_account, viewer, person_id)
    history = audit.entries_about("person", shown.person.id)
    return render_template(
        "auth/staff_account.html",
        account=shown,
        may_manage=staff.may_manage(viewer, person_id),
        full_phone_ids=viewer.people_with_full_phone([person_id]),
        history=history,
        actor_names=audit.actor_names(history),
        audit_label=audit.label,
        erased=is_erased_phone(shown.person.phone),
    )


@bp.post("/<int:person_id>/password")
@staff_required
def reset_password(person_id: int):
    temporary = _change_account(person_id, staff.reset_account_password)
    return _password_shown(person_id, temporary, created=False)


@bp.post("/<int:person_id>/deactivate")
@staff_required
def deactivate(person_id: int):
    person = _change_account(person_id, staff.deactivate_account)
    flash(_("已停用 %(name)s 的账号，其所有登录已退出。", name=person.name), "success")
    return redirect(url_for("staff.account", person_id=person_id))


@bp.post("/<int:person_id>/reactivate")
@staff_required
def reactivate(person_id: int):
    temporary = _change_account(person_id, staff.reactivate_account)
    return _password_shown(person_id, temporary, created=False, reactivated=True)


def _change_account(person_id: int, change: Callable[[Viewer, int], T]) -> T:
    """``change(viewer, person_id)``; a refusal is flashed on the account's page, and an
    account the viewer may not manage is a 404."""
    viewer = _manager()
    on_domain_error(back=url_for("staff.account", person_id=person_id), unless=NotFound)
    return change(viewer, person_id)


def _new_page(form: StaffAccountForm, errors: dict[str, str], choices: dict[str, list]):
    body = render_template("auth/staff_new.html", form=form, errors=errors, **choices)
    return body, 400 if errors else 200


def _password_shown(person_id: int, temporary: str, created: bool, reactivated: bool = False):
    viewer = current_viewer()
    response = render_template(
        "auth/staff_password.html",
        account=found(staff.staff_account, viewer, person_id),
        full_phone_ids=viewer.people_with_full_phone([person_id]),
        temporary_password=temporary,
        created=created,
        reactivated=reactivated,
    )
    # Shown once: not kept by the browser's cache or history.
    return response, 200, {"Cache-Control": "no-store"}
