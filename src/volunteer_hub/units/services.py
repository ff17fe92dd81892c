"""The unit tree and subtree queries over its materialized path."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask_babel import gettext as _
from sqlalchemy import Select, func, literal, select, update

from volunteer_hub import after_commit
from volunteer_hub.audit import services as audit
from volunteer_hub.db import utcnow
from volunteer_hub.errors import DomainError, NotFound
from volunteer_hub.extensions import db
from volunteer_hub.units.models import Unit, UnitLevel

if TYPE_CHECKING:
    from volunteer_hub.auth.permissions import Viewer

CHILD_LEVEL = {
    UnitLevel.PROVINCE: UnitLevel.CITY,
    UnitLevel.CITY: UnitLevel.DISTRICT,
    UnitLevel.DISTRICT: UnitLevel.STREET,
    UnitLevel.STREET: UnitLevel.COMMUNITY,
}


def create_unit(name: str, parent_id: int | None, level: str | None = None) -> Unit:
    name = (name or "").strip()
    if not name:
        raise DomainError(_("请填写单位名称"), field="name")
    parent = None
    if parent_id is not None:
        parent = db.session.get(Unit, parent_id)
        if parent is None:
            raise NotFound(_("上级单位不存在"), field="parent_id")
    if level is None:
        level = (
            CHILD_LEVEL.get(UnitLevel(parent.level), UnitLevel.COMMUNITY)
            if parent
            else (UnitLevel.PROVINCE)
        )
    try:
        level = UnitLevel(level)
    except ValueError:
        raise DomainError(_("单位层级不正确"), field="level") from None
    unit = Unit(name=name[:100], parent_id=parent_id, level=level)
    db.session.add(unit)
    db.session.flush()  # the id is part of the path
    unit.path = f"{parent.path if parent else '/'}{unit.id}/"
    return unit


def subtree_condition(path: str):
    """SQL condition: a unit is ``path`` or below it."""
    return Unit.path.startswith(path, autoescape=True)


def subtree_ids(path: str) -> Select:
    return select(Unit.id).where(subtree_condition(path))


def is_within(path: str, ancestor_path: str) -> bool:
    return path.startswith(ancestor_path)


def ancestors(unit: Unit) -> list[Unit]:
    """Root first, ``unit`` last; one query."""
    ids = [int(part) for part in unit.path.strip("/").split("/") if part]
    by_id = {u.id: u for u in db.session.scalars(select(Unit).where(Unit.id.in_(ids)))}
    return [by_id[i] for i in ids if i in by_id]


# -- administration from the web: scoped to the viewer, every change audited -----------


class UnitCycle(DomainError, code="unit-cycle"):
    """A unit moved under itself or under one of its own descendants."""


def may_add_under(viewer: Viewer, parent: Unit | None) -> bool:
    """Admins add anywhere (a new root too); a coordinator under any unit of their subtree."""
    if viewer.is_admin:
        return True
    return parent is not None and viewer.can_see_unit(parent)


def may_change(viewer: Viewer, unit: Unit) -> bool:
    """Rename or move: admins any unit; a coordinator the units strictly below their own
    (their own unit is their scope, set by whoever appointed them)."""
    if viewer.is_admin:
        return True
    path = viewer.coordinator_path
    return bool(path) and unit.path != path and is_within(unit.path, path)


def add_unit(viewer: Viewer, name: str, parent_id: int | None) -> Unit:
    parent = _scoped(viewer, parent_id) if parent_id is not None else None
    if not may_add_under(viewer, parent):
        raise NotFound(_("上级单位不存在"), field="parent_id")
    unit = create_unit(name, parent_id)
    audit.record(
        viewer.person_id, "unit.created", "unit", unit.id, name=unit.name, parent_id=parent_id
    )
    return unit


def rename_unit(viewer: Viewer, unit_id: int, name: str) -> Unit:
    unit = _changeable(viewer, unit_id)
    name = (name or "").strip()
    if not name:
        raise DomainError(_("请填写单位名称"), field="name")
    if len(name) > 100:
        raise DomainError(_("单位名称不能超过 100 个字"), field="name")
    if name != unit.name:
        audit.record(viewer.person_id, "unit.renamed", "unit", unit.id, old=unit.name, new=name)
        unit.name = name
    return unit


def move_unit(viewer: Viewer, unit_id: int, new_parent_id: int | None) -> Unit:
    """Put the unit (and its whole subtree) under ``new_parent_id``; None makes it a root
    (admins only). The paths of the subtree are rewritten in one UPDATE, and the unit
    feeds that gain or lose its events are marked stale and rebuilt: coordinators' scope
    follows by itself, as it is read from the path on each request."""
    unit = _changeable(viewer, unit_id)
    if new_parent_id is None:
        if not viewer.is_admin:
            raise DomainError(_("请选择新的上级单位"), field="parent_id")
        parent = None
    else:
        parent = _scoped(viewer, new_parent_id)
    if parent is not None and is_within(parent.path, unit.path):
        raise UnitCycle(_("不能把单位移到它自己或它的下级单位之下"), field="parent_id")
    if unit.parent_id == new_parent_id:
        return unit
    old_path = unit.path
    new_path = f"{parent.path if parent else '/'}{unit.id}/"
    # Each path in the subtree: the new prefix, then what followed the old one.
    db.session.execute(
        update(Unit)
        .where(subtree_condition(old_path))
        .values(path=literal(new_path) + func.substr(Unit.path, len(old_path) + 1))
        .execution_options(synchronize_session=False)
    )
    db.session.execute(
        update(Unit)
        .where(Unit.id == unit.id)
        .values(parent_id=new_parent_id)
        .execution_options(synchronize_session=False)
    )
    _feeds_follow(old_path, new_path)
    audit.record(
        viewer.person_id,
        "unit.moved",
        "unit",
        unit.id,
        old_parent_id=unit.parent_id,
        new_parent_id=new_parent_id,
    )
    db.session.expire_all()  # paths were rewritten around the loaded objects
    return db.session.get(Unit, unit_id)


def _feeds_follow(old_path: str, new_path: str) -> None:
    """Unit feeds above the old place lose the subtree's events, those above the new one
    gain them: mark them stale and send their rebuilds after commit (the tick sends a
    lost one again, calendar.services.requeue_overdue_rebuilds)."""
    from volunteer_hub.calendar import tasks
    from volunteer_hub.calendar.models import Feed

    above = {int(part) for path in (old_path, new_path) for part in path.strip("/").split("/")[:-1]}
    if not above:
        return
    owed = db.session.scalars(
        update(Feed)
        .where(
            Feed.unit_id.in_(sorted(above)),
            Feed.revoked_at.is_(None),
            Feed.stale_since.is_(None),
        )
        .values(stale_since=utcnow())
        .returning(Feed.id)
        .execution_options(synchronize_session=False)
    ).all()
    for feed_id in owed:
        after_commit.enqueue(tasks.rebuild_feed.send, feed_id)


def _scoped(viewer: Viewer, unit_id: int) -> Unit:
    unit = db.session.get(Unit, unit_id)
    if unit is None or not viewer.can_see_unit(unit):
        raise NotFound(_("单位不存在"), field="parent_id")
    return unit


def _changeable(viewer: Viewer, unit_id: int) -> Unit:
    unit = db.session.get(Unit, unit_id)
    if unit is None or not may_change(viewer, unit):
        raise NotFound(_("单位不存在"))
    return unit


def unit_tree(viewer: Viewer) -> tuple[list[Unit], dict[int, list[Unit]]]:
    """The units the viewer may see as a tree: the topmost ones, and each unit's children
    by id, all by name (one query; a coordinator's own unit is a top one)."""
    units = list(
        db.session.scalars(select(Unit).where(viewer.unit_condition()).order_by(Unit.name, Unit.id))
    )
    ids = {u.id for u in units}
    roots: list[Unit] = []
    children_of: dict[int, list[Unit]] = {}
    for unit in units:
        if unit.parent_id in ids:
            children_of.setdefault(unit.parent_id, []).append(unit)
        else:
            roots.append(unit)
    return roots, children_of


def children(viewer: Viewer, unit_id: int) -> list[Unit]:
    """The units right below ``unit_id`` that the viewer may see, by name."""
    return list(
        db.session.scalars(
            select(Unit)
            .where(Unit.parent_id == unit_id, viewer.unit_condition())
            .order_by(Unit.name, Unit.id)
        )
    )
