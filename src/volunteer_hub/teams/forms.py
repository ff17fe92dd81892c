"""Forms of the team pages. Rules (phone format, one leader at least) live in teams.services."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField, TextAreaField

from volunteer_hub.forms import texted_code_field
from volunteer_hub.teams.models import MemberRole


def role_choices():
    return [(MemberRole.MEMBER.value, _l("队员")), (MemberRole.LEADER.value, _l("队长"))]


class MemberForm(FlaskForm):
    name = StringField(_l("姓名"))
    phone = StringField(
        _l("手机号码"), render_kw={"type": "tel", "inputmode": "tel", "autocomplete": "off"}
    )
    # The service says which roles exist, in Chinese, with the other field errors.
    role = SelectField(_l("角色"), choices=role_choices, validate_choice=False)
    skills = StringField(_l("技能特长"))

    @classmethod
    def filled(cls, membership, phone_shown: str) -> MemberForm:
        """The form of a member's edit page, as the member is now."""
        person = membership.person
        values = {"name": person.name, "phone": phone_shown, "skills": person.skills}
        return cls(formdata=None, data={**values, "role": membership.role})


class PhoneCodeForm(FlaskForm):
    """The code texted to a member's new phone, which the new number's holder reads out."""

    code = texted_code_field()


class TeamForm(FlaskForm):
    """A new team: its name and the unit it is registered under."""

    name = StringField(_l("服务队名称"), render_kw={"maxlength": "100"})
    unit = SelectField(_l("所属单位"), validate_choice=False)
    description = TextAreaField(_l("简介"), render_kw={"rows": "3"})


class RenameTeamForm(FlaskForm):
    name = StringField(_l("服务队名称"), render_kw={"maxlength": "100"})


class LeaderForm(FlaskForm):
    """A leader to appoint: a registered person, found by phone."""

    phone = StringField(
        _l("手机号码"), render_kw={"type": "tel", "inputmode": "tel", "autocomplete": "off"}
    )
    name = StringField(_l("姓名（可不填）"))
