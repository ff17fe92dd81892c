"""The roster import pages: upload, preview, apply (a job with a progress bar), and the
template and error workbooks. Staff only, and each import only for whoever made it
(admins see all); anything else is a 404."""

from __future__ import annotations

from flask import (
    Blueprint,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _

from volunteer_hub import queries
from volunteer_hub.errors import Conflict
from volunteer_hub.extensions import db
from volunteer_hub.roster import services, sheets
from volunteer_hub.roster.forms import UploadForm
from volunteer_hub.roster.models import ImportStatus
from volunteer_hub.teams.models import Team
from volunteer_hub.transactions import on_domain_error
from volunteer_hub.web import current_viewer, error_dict, form_errors, found, staff_required

bp = Blueprint("roster", __name__, url_prefix="/roster")

#: the largest file accepted (Ezhou's whole roster as XLSX is about 250 KB)
DEFAULT_MAX_BYTES = 5 * 2**20
#: seconds between refreshes of the page while the job runs
REFRESH_SECONDS = 2


@bp.get("/import")
@staff_required
def upload_form():
    return _upload_page(UploadForm(formdata=None), {})


@bp.post("/import")
@staff_required
def upload():
    viewer = current_viewer()
    limit = current_app.config.get("ROSTER_MAX_BYTES", DEFAULT_MAX_BYTES)
    too_big = {"file": _("文件过大：不能超过 %(mb)d MB。", mb=limit // 2**20)}
    # Refused before the body is parsed: a large upload is never spooled to disk.
    if (request.content_length or 0) > limit + 64 * 1024:
        return _upload_page(UploadForm(formdata=None), too_big, 413)
    form = UploadForm()
    form.team_id.choices = _team_choices()
    if not form.validate_on_submit():
        return _upload_page(form, form_errors(form), 400)
    content = form.file.data.stream.read(limit + 1)
    if len(content) > limit:
        return _upload_page(form, too_big, 413)
    team_id = int(form.team_id.data) if (form.team_id.data or "").isdigit() else None
    if team_id is None and not (viewer.is_admin or viewer.is_coordinator):
        return _upload_page(form, {"team_id": _("请选择要导入的服务队")}, 400)
    on_domain_error(lambda exc: _upload_page(form, error_dict(exc), 400))
    record = services.create_import(content, form.file.data.filename or "", viewer, team_id)
    return redirect(url_for("roster.show", import_id=record.id))


@bp.get("/imports/<int:import_id>")
@staff_required
def show(import_id: int):
    record = found(services.visible_import, current_viewer(), import_id)
    rows_by_team: dict[int, list] = {}
    for row in record.preview["rows"]:
        rows_by_team.setdefault(row[2], []).append(row)
    response = current_app.make_response(
        render_template(
            "roster/show.html",
            record=record,
            preview=record.preview,
            rows_by_team=rows_by_team,
            Status=ImportStatus,
        )
    )
    if record.status in (ImportStatus.QUEUED, ImportStatus.RUNNING):
        # The progress bar moves by reloading (the Refresh header: no script needed).
        response.headers["Refresh"] = str(REFRESH_SECONDS)
    return response


@bp.get("/imports/<int:import_id>/status")
@staff_required
def status(import_id: int):
    """The job's progress, for scripts (the page itself refreshes)."""
    record = found(services.visible_import, current_viewer(), import_id)
    return jsonify(
        status=record.status,
        done=record.done_rows,
        total=record.total_rows,
        counts=record.counts(),
    )


@bp.post("/imports/<int:import_id>/apply")
@staff_required
def apply(import_id: int):
    record = found(services.visible_import, current_viewer(), import_id)
    on_domain_error(back=url_for("roster.show", import_id=record.id), only=Conflict)
    services.queue_apply(record.id)
    flash(_("已开始导入，请稍候。"), "info")
    return redirect(url_for("roster.show", import_id=record.id))


@bp.get("/imports/<int:import_id>/errors.xlsx")
@staff_required
def errors_sheet(import_id: int):
    record = found(services.visible_import, current_viewer(), import_id)
    preview = record.preview
    body = sheets.error_workbook([*preview.get("errors", []), *preview.get("held_back", [])])
    return _download(body, f"roster-errors-{record.id}.xlsx")


@bp.get("/template.xlsx")
@staff_required
def template():
    return _download(sheets.template_workbook(), "roster-template.xlsx")


def _download(body: bytes, name: str):
    response = current_app.response_class(body, mimetype=sheets.XLSX_MIMETYPE)
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers["Cache-Control"] = "no-store"
    return response


def _team_choices() -> list[tuple[str, str]]:
    viewer = current_viewer()
    teams = db.session.scalars(queries.visible_teams(viewer).where(Team.archived_at.is_(None)))
    choices = [(str(team.id), team.name) for team in teams]
    if viewer.is_admin or viewer.is_coordinator:
        choices.insert(0, ("", _("按表格中的“服务队”列或工作表名称")))
    return choices


def _upload_page(form: UploadForm, errors: dict[str, str], status: int = 200):
    viewer = current_viewer()
    if not form.team_id.choices:
        form.team_id.choices = _team_choices()
    body = render_template(
        "roster/upload.html",
        form=form,
        errors=errors,
        imports=services.recent_imports(viewer),
        max_mb=current_app.config.get("ROSTER_MAX_BYTES", DEFAULT_MAX_BYTES) // 2**20,
        Status=ImportStatus,
    )
    return body, status
