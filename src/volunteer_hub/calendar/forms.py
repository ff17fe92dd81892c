"""The form that creates a calendar feed."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, SelectMultipleField
from wtforms.widgets import CheckboxInput, ListWidget


class FeedForm(FlaskForm):
    #: "person:12", "team:5", "unit:3": the scope and its target in one choice, so a
    #: phone shows one list instead of two that depend on each other
    target = SelectField(_l("订阅内容"), validate_choice=False)
    #: none ticked: every category
    categories = SelectMultipleField(
        _l("只看这些服务类别（不选则全部）"),
        coerce=int,
        validate_choice=False,
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
    )
