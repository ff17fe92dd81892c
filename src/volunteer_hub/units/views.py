"""The coordinator overview: upcoming events and teams under the coordinator's unit."""

from __future__ import annotations

from flask import Blueprint, abort, render_template, request

from volunteer_hub import queries
from volunteer_hub.db import utcnow
from volunteer_hub.events.services import active_categories
from volunteer_hub.extensions import db
from volunteer_hub.teams.models import Team
from volunteer_hub.teams.services import member_counts
from volunteer_hub.units.forms import OverviewFilterForm
from volunteer_hub.units.models import Unit
from volunteer_hub.units.services import subtree_ids
from volunteer_hub.web import current_viewer, found, staff_required

bp = Blueprint("units", __name__)

PAGE_SIZE = 50


@bp.get("/overview")
@staff_required
def overview():
    viewer = current_viewer()
    if not (viewer.is_admin or viewer.is_coordinator):
        abort(404)  # leaders have their teams' pages; the overview is for 退役军人事务局 staff
    form = OverviewFilterForm(request.args)
    category_text = (form.category.data or "").strip()
    unit_text = (form.unit.data or "").strip()
    if (category_text and not category_text.isdigit()) or (unit_text and not unit_text.isdigit()):
        abort(404)
    unit = found(queries.visible_unit, viewer, int(unit_text)) if unit_text else None
    page = request.args.get("page", "1")
    page = int(page) if page.isdigit() and int(page) >= 1 else 1

    rows = queries.events(
        viewer,
        ends_after=utcnow(),
        unit_path=unit.path if unit else None,
        category_id=int(category_text) if category_text else None,
        statuses=queries.UPCOMING_STATUSES,
        limit=PAGE_SIZE + 1,
        offset=(page - 1) * PAGE_SIZE,
    )
    events, has_next = rows[:PAGE_SIZE], len(rows) > PAGE_SIZE
    waitlists = queries.waitlist_counts([e.id for e in events])
    fills = {e.id: _fill(e, waitlists.get(e.id, 0)) for e in events}

    team_query = queries.visible_teams(viewer)
    if unit is not None:
        team_query = team_query.where(Team.unit_id.in_(subtree_ids(unit.path)))
    teams = list(db.session.scalars(team_query))
    units = queries.visible_units(viewer)
    return render_template(
        "units/overview.html",
        form=form,
        events=events,
        fills=fills,
        teams=teams,
        member_counts=member_counts([t.id for t in teams]),
        categories=active_categories(),
        units=units,
        depth=_depths(units),
        selected_unit=unit,
        selected_category=category_text,
        page=page,
        has_next=has_next,
    )


def _fill(event, waitlisted: int) -> dict:
    running = [s for s in event.shifts if not s.is_cancelled]
    filled = sum(s.filled for s in running)
    capacity = sum(s.capacity for s in running)
    return {
        "filled": filled,
        "capacity": capacity,
        "percent": round(100 * filled / capacity) if capacity else 0,
        "waitlisted": waitlisted,
    }


def _depths(units: list[Unit]) -> dict[int, int]:
    """Indentation in the unit select, relative to the shallowest unit shown."""
    if not units:
        return {}
    levels = {u.id: u.path.strip("/").count("/") for u in units}
    top = min(levels.values())
    return {unit_id: level - top for unit_id, level in levels.items()}
