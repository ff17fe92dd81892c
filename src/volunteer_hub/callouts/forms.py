"""The forms of the call-out pages: start (with its preview) and the board's buttons."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    FieldList,
    Form,
    FormField,
    HiddenField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    TextAreaField,
)
from wtforms.validators import NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from volunteer_hub.callouts.services import MAX_AFTER_MINUTES

#: later rings the page offers (the service takes up to MAX_RINGS)
RING_ROWS = 3


def _ticks(label) -> SelectMultipleField:
    return SelectMultipleField(
        label,
        validate_choice=False,
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
    )


class RingForm(Form):
    """A later ring: one team or one unit's subtree (a target, as "team:5" / "unit:3"),
    texted this many minutes after the start if seats are still free."""

    target = SelectField(_l("范围"), validate_choice=False)
    after_minutes = IntegerField(
        _l("开始后几分钟"),
        validators=[
            Optional(),
            NumberRange(1, MAX_AFTER_MINUTES, _l("等待时间应为 1 分钟到 7 天")),
        ],
        render_kw={"inputmode": "numeric", "min": 1},
    )


class CalloutForm(FlaskForm):
    shifts = _ticks(_l("召集哪些班次"))
    #: "team:5" or "unit:3" ticks: teams, or one unit with every team below it
    audience = _ticks(_l("第一圈：立即发给"))
    skills = _ticks(_l("须具备其中一项技能（不选则不限）"))
    rings = FieldList(FormField(RingForm), min_entries=RING_ROWS, max_entries=RING_ROWS)
    message = TextAreaField(_l("附言（会写进短信，可不填）"), render_kw={"rows": 2})
    urgent = BooleanField(_l("紧急（夜间也发送，不受每日条数限制）"))
    #: the fingerprint of the inputs the caller saw previewed: a confirm of other inputs
    #: is previewed again instead of sent
    previewed = HiddenField()


class NoteForm(FlaskForm):
    message = TextAreaField(_l("发给已留位的队员（如集合地点）"), render_kw={"rows": 2})
