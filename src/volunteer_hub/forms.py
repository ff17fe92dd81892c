"""Form fields that the forms of several domains ask for alike."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import StringField, TextAreaField
from wtforms.validators import DataRequired, Length

from volunteer_hub.texted_codes import CODE_LENGTH


def texted_code_field(*validators) -> StringField:
    """The digits of a code texted to a phone (texted_codes.py): a phone shows its number
    pad and offers the code from the text it just got."""
    return StringField(
        _l("短信验证码"),
        validators=list(validators),
        render_kw={
            "inputmode": "numeric",
            "autocomplete": "one-time-code",
            "pattern": "[0-9]*",
            "maxlength": str(CODE_LENGTH),
            "class": "code-input",
        },
    )


def required_text_field(label, required: str, too_long: str, max_length: int = 500, **render_kw):
    """A text people must write, up to ``max_length`` characters (a reason, a note): the
    two messages say what is missing or too long, in Chinese first."""
    rules = [DataRequired(required), Length(max=max_length, message=too_long)]
    return TextAreaField(label, validators=rules, render_kw=render_kw or None)
