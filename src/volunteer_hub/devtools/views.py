"""Development pages, registered only in debug mode or with DEV_PAGES: /dev/sms.

With the console backend nothing leaves the machine, so this page is where a developer
(or someone trying the product) reads the texts the system sent, and answers them: the
simulator hands a text to the same code the provider's webhook calls.
"""

from __future__ import annotations

import uuid

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from volunteer_hub.extensions import db
from volunteer_hub.people.models import Person
from volunteer_hub.people.services import InvalidPhone, normalize_phone
from volunteer_hub.sms.inbound import handle_inbound
from volunteer_hub.sms.models import InboundSms, OutgoingSms

bp = Blueprint("dev", __name__, url_prefix="/dev")


@bp.before_request
def only_in_development():
    # Anyone may send texts as anyone here: outside development it does not exist.
    if not (current_app.debug or current_app.config.get("DEV_PAGES")):
        abort(404)


#: rows shown per list; a dev database rarely needs more
RECENT = 50
#: people offered in the phone picker
PICKER_PEOPLE = 30


@bp.route("/sms", methods=["GET", "POST"])
def sms():
    from volunteer_hub.devtools.forms import InboundTextForm

    form = InboundTextForm()
    errors: dict[str, str] = {}
    if form.validate_on_submit():
        body = (form.body.data or "").strip()
        try:
            phone = normalize_phone(form.phone.data or "")
        except InvalidPhone as exc:
            errors["phone"] = exc.message
        if not body:
            errors["body"] = _("请输入短信内容")
        if not errors:
            result = handle_inbound(
                message_sid=f"DEV{uuid.uuid4().hex}",
                from_phone=phone,
                to_phone="console",
                body=body,
            )
            flash(_("回复：%(reply)s", reply=result.reply) if result.reply else _("（无回复）"))
            return redirect(url_for("dev.sms", phone=phone))
    elif form.errors:
        errors = {name: messages[0] for name, messages in form.errors.items()}
    elif not form.is_submitted():
        form.phone.data = request.args.get("phone", "")

    outgoing = db.session.scalars(
        select(OutgoingSms).order_by(OutgoingSms.id.desc()).limit(RECENT)
    ).all()
    inbound = db.session.scalars(select(InboundSms).order_by(InboundSms.id.desc()).limit(RECENT))
    people = db.session.execute(
        select(Person.name, Person.phone).order_by(Person.id).limit(PICKER_PEOPLE)
    ).all()
    return render_template(
        "dev/sms.html",
        form=form,
        errors=errors,
        outgoing=outgoing,
        inbound=inbound.all(),
        people=people,
    )
