from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    IntegerField,
    PasswordField,
    SelectMultipleField,
    StringField,
)
from wtforms.validators import DataRequired, Length, Optional

from volunteer_hub.forms import texted_code_field


class LoginForm(FlaskForm):
    phone = StringField(_l("手机号码"), validators=[DataRequired(_l("请填写手机号码"))])
    password = PasswordField(
        _l("密码"), validators=[DataRequired(_l("请填写密码")), Length(max=200)]
    )
    remember = BooleanField(_l("在这台设备上保持登录"))


def _new_password_field() -> PasswordField:
    # The minimum length is checked by the service, with the same message as everywhere.
    return PasswordField(
        _l("新密码"),
        validators=[DataRequired(_l("请填写新密码")), Length(max=200)],
        render_kw={"autocomplete": "new-password"},
    )


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField(
        _l("当前密码"),
        validators=[DataRequired(_l("请填写当前密码")), Length(max=200)],
        render_kw={"autocomplete": "current-password"},
    )
    new_password = _new_password_field()


class ChoosePasswordForm(FlaskForm):
    """The first login of an account whose password someone else set."""

    new_password = _new_password_field()


class ResetPasswordForm(FlaskForm):
    """A forgotten password: the texted code, then the new password."""

    code = texted_code_field(DataRequired(_l("请填写短信验证码")), Length(max=20))
    new_password = _new_password_field()


class StaffAccountForm(FlaskForm):
    """A new team leader or coordinator; the choices are what the viewer may give."""

    name = StringField(_l("姓名"), validators=[DataRequired(_l("请填写姓名")), Length(max=50)])
    # The format itself is checked by people.services.normalize_phone, in Chinese.
    phone = StringField(
        _l("手机号码"),
        validators=[DataRequired(_l("请填写手机号码")), Length(max=40)],
        render_kw={"type": "tel", "inputmode": "tel", "autocomplete": "off"},
    )
    # Radio buttons and the choices of the two scopes are drawn by the template; the
    # service says which roles exist and checks the scope (out of reach = unknown).
    role = StringField(_l("角色"), default="leader")
    team_ids = SelectMultipleField(_l("服务队（可多选）"), coerce=int, validate_choice=False)
    unit_id = IntegerField(_l("所属单位"), default=0, validators=[Optional()])
