"""The unit tree and subtree queries over its materialized path."""

from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import Select, select

from volunteer_hub.errors import DomainError, NotFound
from volunteer_hub.extensions import db
from volunteer_hub.units.models import Unit, UnitLevel

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
