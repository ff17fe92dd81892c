"""A person's page for admins and coordinators: teams, roles, consent history, sessions
("log out everywhere"), and the erasure of their personal data (admins only)."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from volunteer_hub.admin_web import overseer_required
from volunteer_hub.audit import services as audit
from volunteer_hub.errors import NotFound
from volunteer_hub.extensions import db
from volunteer_hub.people import admin, erasure
from volunteer_hub.people.forms import EraseForm, FindPersonForm
from volunteer_hub.people.models import Person
from volunteer_hub.people.services import InvalidPhone, find_by_phone
from volunteer_hub.transactions import on_domain_error
from volunteer_hub.web import current_viewer, found, phone_for, staff_required

bp = Blueprint("people_admin", __name__)


@bp.get("/people")
@overseer_required
def find():
    """Find a person by phone; someone out of the viewer's scope is "not found" too."""
    viewer = current_viewer()
    form = FindPersonForm(request.args)
    error = None
    if form.phone.data:
        try:
            person = find_by_phone(form.phone.data)
            if person is not None:
                person = admin.visible_person(viewer, person.id)
                return redirect(url_for("people_admin.person", person_id=person.id))
        except InvalidPhone as exc:
            error = exc.message
        except NotFound:
            pass
        error = error or _("没有找到该手机号对应的人员，或不在您的管辖范围内。")
    return render_template("people/find.html", form=form, error=error)


@bp.get("/people/<int:person_id>")
@overseer_required
def person(person_id: int):
    viewer = current_viewer()
    person = found(admin.visible_person, viewer, person_id)
    return render_template(
        "people/person.html",
        page=admin.person_page(person),
        phone=phone_for(person, viewer.people_with_full_phone([person.id])),
        erased=erasure.is_erased(person),
        audit_label=audit.label,
    )


@bp.post("/people/<int:person_id>/sessions/end")
@overseer_required
def end_sessions(person_id: int):
    viewer = current_viewer()
    found(admin.visible_person, viewer, person_id)
    admin.log_out_everywhere(viewer, person_id)
    flash(_("已让此人在所有设备上退出登录"), "success")
    if person_id == viewer.person_id:
        return redirect(url_for("auth.login"))
    return redirect(url_for("people_admin.person", person_id=person_id))


@bp.get("/people/<int:person_id>/erase")
@staff_required
def erase_form(person_id: int):
    person = _erasable(person_id)
    return _erase_page(person, EraseForm(formdata=None), None)


@bp.post("/people/<int:person_id>/erase")
@staff_required
def erase(person_id: int):
    person = _erasable(person_id)
    form = EraseForm()
    if not form.validate_on_submit() or not form.confirmed.data:
        return _erase_page(person, form, _("请先勾选确认，再删除个人信息"), 400)
    on_domain_error(lambda exc: _erase_page(person, form, exc.message, 400))
    erasure.erase_person(current_viewer(), person.id)
    flash(_("已删除此人的个人信息。服务时长仍计入统计，但不再显示其身份。"), "success")
    return redirect(url_for("people_admin.person", person_id=person.id))


def _erasable(person_id: int) -> Person:
    viewer = current_viewer()
    if not viewer.is_admin:
        abort(404)
    person = db.session.get(Person, person_id)
    if person is None:
        abort(404)
    return person


def _erase_page(person: Person, form: EraseForm, error: str | None, status: int = 200):
    body = render_template("people/erase.html", person=person, form=form, error=error)
    return body, status
