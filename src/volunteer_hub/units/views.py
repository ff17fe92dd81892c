"""The coordinator overview: upcoming events and teams under the coordinator's unit."""

from __future__ import annotations

import functools

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import func, select

from volunteer_hub import queries
from volunteer_hub.admin_web import check_posted, overseer_required
from volunteer_hub.audit import services as audit
from volunteer_hub.db import utcnow
from volunteer_hub.events.services import active_categories
from volunteer_hub.extensions import db
from volunteer_hub.teams.forms import TeamForm
from volunteer_hub.teams.models import Team
from volunteer_hub.teams.services import member_counts
from volunteer_hub.units import services
from volunteer_hub.units.forms import MoveUnitForm, OverviewFilterForm, UnitNameForm
from volunteer_hub.units.models import Unit
from volunteer_hub.units.services import subtree_ids
from volunteer_hub.web import (
    current_viewer,
    found,
    indented,
)

bp = Blueprint("units", __name__)

PAGE_SIZE = 50
#: the rename form shares the unit page with the new team's form: its own field ids
RENAME_PREFIX = "unit"


@bp.get("/overview")
@overseer_required
def overview():
    viewer = current_viewer()
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


# -- the unit tree and its administration ---------------------------------------------


@bp.route("/units", methods=["GET", "POST"])
@overseer_required
def tree():
    """The tree, and below it the form that adds a unit."""
    form = UnitNameForm()
    if request.method != "POST":
        return _tree_page(form, {})
    check_posted(form, functools.partial(_tree_page, form))
    unit = services.add_unit(current_viewer(), form.name.data, _unit_id(form.parent.data))
    flash(_("已添加单位：%(name)s", name=unit.name), "success")
    return redirect(url_for("units.unit", unit_id=unit.id))


@bp.get("/units/<int:unit_id>")
@overseer_required
def unit(unit_id: int):
    return _unit_page(found(queries.visible_unit, current_viewer(), unit_id), {})


@bp.post("/units/<int:unit_id>/<any(rename, move):change>")
@overseer_required
def change(unit_id: int, change: str):
    """Rename the unit, or move it (with its subtree) under another parent."""
    viewer = current_viewer()
    unit = found(queries.visible_unit, viewer, unit_id)
    page = functools.partial(_unit_page, unit)
    if change == "rename":
        form = UnitNameForm(prefix=RENAME_PREFIX)
        check_posted(form, page)
        services.rename_unit(viewer, unit.id, form.name.data)
        flash(_("已保存单位名称"), "success")
    else:
        form = MoveUnitForm()
        check_posted(form, page)
        services.move_unit(viewer, unit.id, _unit_id(form.parent.data))
        flash(_("已移动单位：%(name)s", name=unit.name), "success")
    return redirect(url_for("units.unit", unit_id=unit.id))


def _unit_id(text: str | None) -> int | None:
    """A unit id from a select; anything else is "none chosen" (the service then says
    what is wrong, in Chinese)."""
    text = (text or "").strip()
    return int(text) if text.isdigit() and len(text) < 10 else None


def _tree_page(form: UnitNameForm, errors: dict[str, str], status: int = 200):
    viewer = current_viewer()
    roots, children_of = services.unit_tree(viewer)
    unit_ids = [u.id for u in roots] + [u.id for kids in children_of.values() for u in kids]
    body = render_template(
        "units/tree.html",
        roots=roots,
        children_of=children_of,
        unit_count=len(unit_ids),
        team_counts=_team_counts(unit_ids),
        parents=indented(queries.visible_units(viewer)),
        form=form,
        errors=errors,
    )
    return body, status


def _unit_page(unit: Unit, errors: dict[str, str], status: int = 200):
    viewer = current_viewer()
    teams = list(db.session.scalars(queries.visible_teams(viewer).where(Team.unit_id == unit.id)))
    changeable = services.may_change(viewer, unit)
    # Where it may go: in scope, and not into its own subtree.
    targets = [
        (u, label)
        for u, label in indented(queries.visible_units(viewer))
        if not u.path.startswith(unit.path)
    ]
    body = render_template(
        "units/unit.html",
        unit=unit,
        trail=services.ancestors(unit),
        children=services.children(viewer, unit.id),
        teams=teams,
        member_counts=member_counts([t.id for t in teams]),
        changeable=changeable,
        targets=targets,
        rename_form=UnitNameForm(prefix=RENAME_PREFIX, formdata=None, data={"name": unit.name}),
        move_form=MoveUnitForm(formdata=None, data={"parent": str(unit.parent_id or "")}),
        team_form=TeamForm(formdata=None, data={"unit": str(unit.id)}),
        changes=audit.entries_about("unit", unit.id),
        audit_label=audit.label,
        errors=errors,
    )
    return body, status


def _team_counts(unit_ids: list[int]) -> dict[int, int]:
    """Teams registered directly under each unit; one query."""
    if not unit_ids:
        return {}
    rows = db.session.execute(
        select(Team.unit_id, func.count(Team.id))
        .where(Team.unit_id.in_(unit_ids), Team.archived_at.is_(None))
        .group_by(Team.unit_id)
    )
    return {unit_id: count for unit_id, count in rows}
