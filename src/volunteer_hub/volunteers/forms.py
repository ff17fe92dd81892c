"""Forms of the volunteer's mobile pages: big inputs a phone keyboard fits."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from volunteer_hub.forms import required_text_field, texted_code_field


class PhoneForm(FlaskForm):
    # The format itself is checked by people.services.normalize_phone, in Chinese.
    phone = StringField(
        _l("手机号码"),
        validators=[DataRequired(_l("请填写手机号码")), Length(max=40)],
        render_kw={"type": "tel", "inputmode": "tel", "autocomplete": "tel"},
    )


class CodeForm(FlaskForm):
    code = texted_code_field(DataRequired(_l("请填写短信验证码")), Length(max=20))


class CorrectionForm(FlaskForm):
    """申请更正: what is wrong with one of my service records, for the leader."""

    note = required_text_field(
        _l("需要更正的内容"),
        _l("请写明需要更正的内容"),
        _l("更正说明不能超过 500 字"),
        rows="4",
        maxlength="500",
    )
