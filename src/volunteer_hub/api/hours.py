"""JSON API of service hours: service records (list, verify) and hour totals from the
roll-ups. Registered on the API blueprint by ``register(bp)`` (api/views.py), so the
OpenAPI document and the schemathesis run cover these routes like the others.

Scope: what the token's viewer may manage (leaders: their teams; coordinators: their
subtree; admins: everything); a volunteer reads their own records. Ids outside the
scope answer 404, never 403.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any, Literal

from flask import Blueprint
from flask_babel import gettext as _
from pydantic import Field
from sqlalchemy import ColumnElement, Select, func, or_, select

from volunteer_hub import queries
from volunteer_hub.api import serializers
from volunteer_hub.api.auth import current_viewer
from volunteer_hub.api.openapi import operation
from volunteer_hub.api.paging import page_fields
from volunteer_hub.api.parsing import unit_of_field
from volunteer_hub.api.schemas import (
    Listing,
    LocalTime,
    Omittable,
    Page,
    PersonOut,
    QueryDate,
    QueryId,
    Ref,
    ResponseModel,
)
from volunteer_hub.auth.permissions import Viewer
from volunteer_hub.errors import ValidationFailed
from volunteer_hub.events.models import Category
from volunteer_hub.extensions import db
from volunteer_hub.hours import records, verification
from volunteer_hub.hours.models import HoursRollup, ServiceRecord, TeamHoursRollup
from volunteer_hub.i18n import local_zone
from volunteer_hub.people.models import Person
from volunteer_hub.teams.models import Team
from volunteer_hub.units.services import subtree_ids

#: dates outside this span are typing mistakes (and year 1 or 9999 overflow as times)
EARLIEST = date(2000, 1, 1)
LATEST = date(2099, 12, 31)


# Models -------------------------------------------------------------------------------

#: what the from/to dates of a query bound: the days themselves, or their months
DAYS = "当地日期（含），按服务开始时间。Local date, inclusive."
MONTHS = "当地日期，取其所在月份（含）。The month of this local date, inclusive."


def _first(title: str, bounds: str) -> Any:
    """``?from=``: the first day (or month) a query covers."""
    return Omittable(title, alias="from", description=bounds, examples=["2026-01-01"])


def _last(title: str, bounds: str) -> Any:
    """``?to=``: the last day (or month) a query covers."""
    return Omittable(title, description=bounds, examples=["2026-12-31"])


class ServiceRecordQuery(Page):
    team_id: QueryId = Omittable("服务队")
    person_id: QueryId = Omittable("志愿者")
    status: Literal["pending", "verified", "rejected"] = Omittable("审核状态")
    from_: QueryDate = _first("起始日期", DAYS)
    to: QueryDate = _last("截止日期", DAYS)


class ServiceRecordOut(ResponseModel):
    id: int
    person: PersonOut
    team: Ref
    category: Ref
    shift_id: int | None = Field(description="班次；队长补录的计划外服务为 null")
    content: str = Field(description="服务内容")
    attendance: Literal["present", "late", "absent"]
    status: Literal["pending", "verified", "rejected"]
    started_at: LocalTime
    ended_at: LocalTime
    minutes: int = Field(description="计入的服务时长（分钟）")
    hours: float = Field(description="计入的服务时长（小时），minutes / 60")
    month: date = Field(description="所属月份（当地），该月第一天")
    decided_at: LocalTime | None = Field(description="审核（认定或不予认定）时间")
    decided_by_id: int | None


class ServiceRecordList(Listing):
    items: list[ServiceRecordOut]


class HoursQuery(Page):
    group_by: Literal["person", "team", "category", "month"] = Field(
        title="分组", description="按志愿者、服务队、服务类别或月份汇总。"
    )
    unit_id: QueryId = Omittable("单位", description="只计该单位及其下级单位的服务队。")
    team_id: QueryId = Omittable("服务队")
    from_: QueryDate = _first("起始月份", MONTHS)
    to: QueryDate = _last("截止月份", MONTHS)


class HoursRow(ResponseModel):
    """One group: exactly one of person, team, category, month is set (the group_by)."""

    person: Ref | None
    team: Ref | None
    category: Ref | None
    month: str | None = Field(description="YYYY-MM", examples=["2026-07"])
    minutes: int = Field(description="已审核的服务时长（分钟）")
    hours: float = Field(description="已审核的服务时长（小时），minutes / 60")
    services: int = Field(description="已审核的服务次数")


class HoursList(Listing):
    group_by: Literal["person", "team", "category", "month"]
    items: list[HoursRow]


# Views --------------------------------------------------------------------------------


@operation(tag="hours", query=ServiceRecordQuery, response=ServiceRecordList, problems=(404,))
def list_service_records(query: ServiceRecordQuery):
    """服务记录列表（本人可管理的服务队的，及本人的）

    按服务开始时间倒序。team_id 为看不到的服务队时 404。队长、
    上级协调员和管理员看到完整手机号，其他情况打码。"""
    viewer = current_viewer()
    if query.team_id is not None:
        queries.visible_team(viewer, query.team_id)
    statement = (
        _records_with_names()
        .where(_record_scope(viewer))
        .order_by(ServiceRecord.started_at.desc(), ServiceRecord.id.desc())
    )
    if query.team_id is not None:
        statement = statement.where(ServiceRecord.team_id == query.team_id)
    if query.person_id is not None:
        statement = statement.where(ServiceRecord.person_id == query.person_id)
    if query.status is not None:
        statement = statement.where(ServiceRecord.status == query.status)
    if query.from_ is not None:
        statement = statement.where(ServiceRecord.started_at >= _local_midnight(query.from_))
    if query.to is not None:
        statement = statement.where(
            ServiceRecord.started_at < _local_midnight(query.to + timedelta(days=1))
        )
    rows = db.session.execute(statement.limit(query.limit).offset(query.offset)).all()
    full_phone = serializers.full_phone_ids(viewer, (person for _r, person, _t, _c in rows))
    return ServiceRecordList(
        items=[_record_out(*row, full_phone) for row in rows],
        **page_fields(len(rows), query, statement),
    )


@operation(tag="hours", response=ServiceRecordOut, problems=(409,))
def verify_service_record(record_id: int):
    """审核认定服务记录

    只有该服务队的队长、上级协调员和管理员可以审核；其他情况 404。已认定的记录再次认定不变。
    尚未签退、或班次（计划外服务：服务本身）尚未结束的记录：409，只认定已经发生的服务。"""
    viewer = current_viewer()
    record = records.record_for(record_id, viewer)
    verification.verify([record.id], viewer=viewer)
    row = db.session.execute(_records_with_names().where(ServiceRecord.id == record_id)).one()
    full_phone = serializers.full_phone_ids(viewer, [row[1]])
    return _record_out(*row, full_phone)


@operation(tag="hours", query=HoursQuery, response=HoursList, problems=(404,))
def hours_totals(query: HoursQuery):
    """服务时长汇总（来自汇总表）

    只计已审核的服务，按 group_by 分组，时长多者在前（month 按月份先后）。范围：
    本人可管理的服务队，可再用 unit_id（含下级单位）或 team_id 缩小；看不到的单位或服务队：
    404。"""
    viewer = current_viewer()
    start = _first_of_month(query.from_) if query.from_ is not None else None
    end = _first_of_month(query.to) if query.to is not None else None
    if start is not None and end is not None and end < start:
        raise ValidationFailed({"to": _("截止月份不能早于起始月份")})

    table = HoursRollup if query.group_by == "person" else TeamHoursRollup
    scope = [viewer.team_condition()]
    if query.unit_id is not None:
        unit = unit_of_field(viewer, query.unit_id, field="unit_id", message=_("单位不存在"))
        scope.append(Team.unit_id.in_(subtree_ids(unit.path)))
    if query.team_id is not None:
        queries.visible_team(viewer, query.team_id)
        scope.append(table.team_id == query.team_id)
    if start is not None:
        scope.append(table.month >= start)
    if end is not None:
        scope.append(table.month <= end)

    minutes = func.sum(table.minutes).label("minutes")
    services = func.sum(table.services).label("services")
    base = select(minutes, services).join(Team, Team.id == table.team_id).where(*scope)
    if query.group_by == "month":
        statement = base.add_columns(table.month).group_by(table.month).order_by(table.month)
    else:
        named, key = {
            "person": (Person, "person_id"),  # only the per-person table has it
            "team": (Team, None),  # joined already, for the scope
            "category": (Category, "category_id"),
        }[query.group_by]
        statement = base.add_columns(named.id, named.name)
        if key is not None:
            statement = statement.join(named, named.id == getattr(table, key))
        statement = statement.group_by(named.id, named.name).order_by(minutes.desc(), named.id)
    rows = db.session.execute(statement.limit(query.limit).offset(query.offset)).all()
    items = []
    for row in rows:
        total, count, *key = row
        fields: dict = {"person": None, "team": None, "category": None, "month": None}
        if query.group_by == "month":
            month = key[0] if isinstance(key[0], date) else date.fromisoformat(str(key[0])[:10])
            fields["month"] = f"{month:%Y-%m}"
        else:
            fields[query.group_by] = Ref(id=key[0], name=key[1])
        items.append(
            HoursRow(**fields, minutes=int(total), hours=int(total) / 60, services=int(count))
        )
    return HoursList(
        group_by=query.group_by, items=items, **page_fields(len(rows), query, statement)
    )


def register(bp: Blueprint) -> None:
    bp.add_url_rule("/service-records", view_func=list_service_records, methods=["GET"])
    bp.add_url_rule(
        "/service-records/<int:record_id>/verify",
        view_func=verify_service_record,
        methods=["POST"],
    )
    bp.add_url_rule("/hours", view_func=hours_totals, methods=["GET"])


# Helpers ------------------------------------------------------------------------------


def _records_with_names() -> Select:
    """Records with their person and the names of their team and category, as
    ``_record_out`` takes them."""
    return (
        select(ServiceRecord, Person, Team.name, Category.name)
        .join(Person, Person.id == ServiceRecord.person_id)
        .join(Team, Team.id == ServiceRecord.team_id)
        .join(Category, Category.id == ServiceRecord.category_id)
    )


def _record_scope(viewer: Viewer) -> ColumnElement[bool]:
    """Records of the teams the viewer manages, and the viewer's own."""
    return or_(viewer.team_condition(), ServiceRecord.person_id == viewer.person_id)


def _local_midnight(day: date) -> datetime:
    day = min(max(day, EARLIEST), LATEST)
    return datetime.combine(day, time(0), tzinfo=local_zone())


def _first_of_month(day: date) -> date:
    day = min(max(day, EARLIEST), LATEST)
    return date(day.year, day.month, 1)


def _record_out(
    record: ServiceRecord,
    person: Person,
    team_name: str,
    category_name: str,
    full_phone: set[int],
) -> ServiceRecordOut:
    return ServiceRecordOut(
        id=record.id,
        person=serializers.person(person, full_phone),
        team=Ref(id=record.team_id, name=team_name),
        category=Ref(id=record.category_id, name=category_name),
        shift_id=record.shift_id,
        content=record.content,
        attendance=record.attendance,
        status=record.status,
        started_at=record.started_at,
        ended_at=record.ended_at,
        minutes=record.minutes,
        hours=record.minutes / 60,
        month=record.month,
        decided_at=record.decided_at,
        decided_by_id=record.decided_by_id,
    )
