"""Forms of the person's admin page."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, StringField


class FindPersonForm(FlaskForm):
    class Meta:
        csrf = False  # a lookup in the query string

    phone = StringField(
        _l("手机号码"), render_kw={"type": "tel", "inputmode": "tel", "autocomplete": "off"}
    )


class EraseForm(FlaskForm):
    """The confirmation step: the admin says they checked the request."""

    confirmed = BooleanField(_l("我已核实本人提出的删除申请，了解此操作无法撤销"))
