"""The inbound simulator's form on /dev/sms."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField, TextAreaField


class InboundTextForm(FlaskForm):
    phone = StringField(
        _l("发信手机号"),
        render_kw={"type": "tel", "inputmode": "tel", "autocomplete": "off", "list": "phones"},
    )
    body = TextAreaField(_l("短信内容"), render_kw={"rows": 2, "maxlength": 320})
