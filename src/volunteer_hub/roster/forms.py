"""Forms of the roster import page. What a file may hold is decided in roster.reader."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import SelectField


class UploadForm(FlaskForm):
    file = FileField(
        _l("花名册文件"),
        validators=[FileRequired(_l("请选择要导入的文件"))],
        render_kw={"accept": ".xlsx,.csv"},
    )
    # Choices are the viewer's teams, set by the view; "" means "by the 服务队 column".
    team_id = SelectField(_l("导入到"), choices=[], validate_choice=False)
