"""Filters of the coordinator overview: a GET form, so links can be shared and bookmarked."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField


class OverviewFilterForm(FlaskForm):
    class Meta:
        csrf = False  # read-only filters in the query string

    category = SelectField(_l("服务类别"), validate_choice=False)
    unit = SelectField(_l("下级单位"), validate_choice=False)


class UnitNameForm(FlaskForm):
    """A new unit's name and parent, or a unit's new name (the service checks both)."""

    name = StringField(_l("单位名称"), render_kw={"maxlength": "100"})
    parent = SelectField(_l("上级单位"), validate_choice=False)


class MoveUnitForm(FlaskForm):
    parent = SelectField(_l("新的上级单位"), validate_choice=False)
