"""Hour reports on the web: the coordinator's report of a unit (admins choose any unit),
a team's report per volunteer, their CSV and XLSX exports, and a volunteer's printable
志愿服务记录证明.

What the viewer may not see is a 404, as everywhere: a coordinator reads only their
subtree, a leader only their teams; a volunteer only their own certificate.
"""

from __future__ import annotations

from datetime import date

from flask import Blueprint, Response, abort, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from sqlalchemy import select

from volunteer_hub import queries
from volunteer_hub.db import utcnow
from volunteer_hub.errors import NotFound, ValidationFailed
from volunteer_hub.events.services import active_categories
from volunteer_hub.extensions import db
from volunteer_hub.hours import charts, exports, reports
from volunteer_hub.hours.models import ServiceRecord
from volunteer_hub.i18n import to_local
from volunteer_hub.teams.models import Membership, Team
from volunteer_hub.units.models import Unit
from volunteer_hub.units.services import ancestors
from volunteer_hub.web import current_viewer, found, staff_required

bp = Blueprint("hour_reports", __name__)


# -- filters ------------------------------------------------------------------------------


def _month_arg(name: str, default: date) -> date:
    """``2031-03`` (what <input type="month"> sends) or ``2031-03-17``; 404 otherwise."""
    text = (request.args.get(name) or "").strip()
    if not text:
        return default
    try:
        parts = [int(part) for part in text.split("-")]
        return date(parts[0], parts[1], 1) if len(parts) in (2, 3) else abort(404)
    except (ValueError, IndexError):
        abort(404)


def _filters() -> tuple[date, date, list[int]]:
    today = to_local(utcnow()).date()
    month_from = _month_arg("from", date(today.year, 1, 1))
    month_to = _month_arg("to", date(today.year, today.month, 1))
    if month_to < month_from:
        month_from, month_to = month_to, month_from
    category_ids = []
    for value in request.args.getlist("category"):
        if value == "":
            continue
        if not value.isdigit() or int(value) > 2**31 - 1:
            abort(404)
        category_ids.append(int(value))
    return month_from, month_to, category_ids


def _report(call, *args, **kwargs):
    try:
        return call(*args, **kwargs)
    except ValidationFailed:
        abort(404)


def _filter_args(month_from: date, month_to: date, category_ids: list[int]) -> dict:
    args = {"from": f"{month_from:%Y-%m}", "to": f"{month_to:%Y-%m}"}
    if category_ids:
        args["category"] = category_ids[0]
    return args


def _charts(report) -> dict:
    """What both report pages show of a report: its months as a chart, its period."""
    return {
        "month_chart": charts.month_trend(report.by_month),
        "hours_text": charts.hours_text,
        "month_label": charts.month_label,
        "period": exports.period_text(report.month_from, report.month_to),
    }


def _export(fmt: str, tables, report, title: str, name: str) -> Response:
    """A report's tables as a CSV or XLSX file, headed by its title and period."""
    period = exports.period_text(report.month_from, report.month_to)
    heading = [title, _("统计期间：%(period)s", period=period)]
    filename = _(
        "志愿服务时长_%(unit)s_%(start)s-%(end)s",
        unit=name,
        start=f"{report.month_from:%Y%m}",
        end=f"{report.month_to:%Y%m}",
    )
    if fmt == "csv":
        return _download(exports.to_csv(tables, heading), exports.CSV_MIMETYPE, filename + ".csv")
    return _download(exports.to_xlsx(tables, heading), exports.XLSX_MIMETYPE, filename + ".xlsx")


def _download(body: bytes, mimetype: str, filename: str) -> Response:
    from urllib.parse import quote

    response = Response(body, mimetype=mimetype)
    # Names are typed by people: no quote, backslash or control character may end the
    # quoted ASCII fallback (or the header) early; filename* carries the real name.
    ascii_name = "".join(ch for ch in filename if " " <= ch <= "~" and ch not in '"\\')
    ascii_name = ascii_name or "report"
    response.headers["Content-Disposition"] = (
        f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"
    )
    response.headers["Cache-Control"] = "private, no-store"
    return response


# -- the coordinator: a unit ----------------------------------------------------------------


def _unit_for(viewer) -> tuple[Unit | None, str]:
    """The unit asked for (``?unit=``), else the coordinator's own; admins without a
    unit see everything ("/"). Returns (unit or None, path)."""
    text = (request.args.get("unit") or "").strip()
    if text:
        if not text.isdigit():
            abort(404)
        unit = found(queries.visible_unit, viewer, int(text))
        return unit, unit.path
    if viewer.coordinator_path:
        unit = db.session.scalar(select(Unit).where(Unit.path == viewer.coordinator_path))
        return unit, viewer.coordinator_path
    return None, "/"


@bp.get("/hours/reports")
@staff_required
def unit_report():
    viewer = current_viewer()
    if not (viewer.is_admin or viewer.is_coordinator):
        # Leaders read their team's report.
        led = sorted(viewer.led_team_ids)
        if len(led) == 1:
            return redirect(url_for("hour_reports.team_report", team_id=led[0]))
        return redirect(url_for("teams.my_teams"))
    unit, report, (month_from, month_to, category_ids) = _unit_report(viewer)
    team_args = _filter_args(month_from, month_to, category_ids)
    units = queries.visible_units(viewer)
    levels = {u.id: u.path.strip("/").count("/") for u in units}
    top = min(levels.values(), default=0)
    return render_template(
        "hours/reports/unit.html",
        report=report,
        unit=unit,
        units=units,
        depth={unit_id: level - top for unit_id, level in levels.items()},
        categories=active_categories(),
        selected_category=category_ids[0] if category_ids else None,
        filter_args={**team_args, "unit": unit.id} if unit else team_args,
        team_args=team_args,
        team_chart=charts.top_teams(report.by_team),
        **_charts(report),
    )


@bp.get("/hours/reports.<any(csv, xlsx):fmt>")
@staff_required
def unit_export(fmt: str):
    viewer = current_viewer()
    if not (viewer.is_admin or viewer.is_coordinator):
        abort(404)
    unit, report, _filters_used = _unit_report(viewer)
    unit_name = unit.name if unit else _("全部单位")
    title = _("%(unit)s 志愿服务时长统计", unit=unit_name)
    return _export(fmt, exports.unit_tables(report, unit_name), report, title, unit_name)


def _unit_report(viewer):
    """The unit asked for (or the viewer's), its report for the request's filters, those."""
    unit, path = _unit_for(viewer)
    month_from, month_to, category_ids = _filters()
    report = _report(
        reports.unit_report,
        path,
        month_from=month_from,
        month_to=month_to,
        category_ids=category_ids,
    )
    return unit, report, (month_from, month_to, category_ids)


# -- the leader: a team -----------------------------------------------------------------------


def _team_report(team_id: int):
    """The team the viewer may see, its report for the request's filters, and those."""
    viewer = current_viewer()
    team = found(queries.visible_team, viewer, team_id)
    month_from, month_to, category_ids = _filters()
    report = _report(
        reports.team_report,
        team.id,
        month_from=month_from,
        month_to=month_to,
        category_ids=category_ids,
        viewer=viewer,
    )
    return team, report, (month_from, month_to, category_ids)


@bp.get("/teams/<int:team_id>/hours/report")
@staff_required
def team_report(team_id: int):
    team, report, (month_from, month_to, category_ids) = _team_report(team_id)
    return render_template(
        "hours/reports/team.html",
        team=team,
        report=report,
        categories=active_categories(),
        selected_category=category_ids[0] if category_ids else None,
        filter_args=_filter_args(month_from, month_to, category_ids),
        **_charts(report),
    )


@bp.get("/teams/<int:team_id>/hours/report.<any(csv, xlsx):fmt>")
@staff_required
def team_export(team_id: int, fmt: str):
    team, report, _filters_used = _team_report(team_id)
    title = _("%(team)s 志愿服务时长统计", team=team.name)
    return _export(fmt, exports.team_tables(report), report, title, team.name)


# -- a volunteer's certificate ------------------------------------------------------------------


def _certificate(team_id: int, person_id: int) -> exports.Certificate:
    """The certificate of ``person_id``'s verified service for ``team_id``, if the viewer
    may have it: leaders of the team, coordinators above it, admins, and the volunteer
    themself. The person must belong to the team or have service recorded by it."""
    viewer = current_viewer()
    if viewer is None:
        abort(404)
    team = db.session.scalar(select(Team).where(Team.id == team_id))
    if team is None:
        abort(404)
    is_self = viewer.person_id == person_id
    if not is_self and not (viewer.is_staff and viewer.can_see_team(team)):
        abort(404)
    belongs = db.session.scalar(
        select(
            select(Membership.id)
            .where(Membership.team_id == team_id, Membership.person_id == person_id)
            .exists()
            | select(ServiceRecord.id)
            .where(ServiceRecord.team_id == team_id, ServiceRecord.person_id == person_id)
            .exists()
        )
    )
    if not belongs:
        abort(404)
    try:
        history = reports.person_history(person_id, team_id=team_id, verified_only=True)
    except NotFound:
        abort(404)
    return exports.Certificate(
        name=history.name,
        phone_masked=history.phone_masked,
        team_name=team.name,
        organization=[unit.name for unit in ancestors(team.unit)],
        history=history,
        issued_on=to_local(utcnow()).date(),
    )


@bp.get("/teams/<int:team_id>/hours/people/<int:person_id>/certificate")
@login_required
def certificate(team_id: int, person_id: int):
    cert = _certificate(team_id, person_id)
    return render_template(
        "hours/reports/certificate.html",
        cert=cert,
        team_id=team_id,
        person_id=person_id,
        service_date=exports.service_date,
        hours_text=charts.hours_text,
    )


@bp.get("/teams/<int:team_id>/hours/people/<int:person_id>/certificate.xlsx")
@login_required
def certificate_xlsx(team_id: int, person_id: int):
    cert = _certificate(team_id, person_id)
    filename = _("志愿服务记录证明_%(name)s", name=cert.name) + ".xlsx"
    return _download(exports.certificate_xlsx(cert), exports.XLSX_MIMETYPE, filename)
