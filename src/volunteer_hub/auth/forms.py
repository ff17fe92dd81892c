from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, StringField
from wtforms.validators import DataRequired, Length


class LoginForm(FlaskForm):
    phone = StringField(_l("手机号码"), validators=[DataRequired(_l("请填写手机号码"))])
    password = PasswordField(
        _l("密码"), validators=[DataRequired(_l("请填写密码")), Length(max=200)]
    )
    remember = BooleanField(_l("在这台设备上保持登录"))


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField(
        _l("当前密码"),
        validators=[DataRequired(_l("请填写当前密码")), Length(max=200)],
        render_kw={"autocomplete": "current-password"},
    )
    # The minimum length is checked by the service, with the same message as everywhere.
    new_password = PasswordField(
        _l("新密码"),
        validators=[DataRequired(_l("请填写新密码")), Length(max=200)],
        render_kw={"autocomplete": "new-password"},
    )
