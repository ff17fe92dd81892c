"""JSON API v1: units, teams, members, events with shifts, signups.

Each view parses (``@operation`` does it from the declared models), checks what the
viewer may see (``queries``: what they cannot see answers 404, never 403), calls a
service and serialises; the request's end commits (transactions.py). The rules are in
the services.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from flask import Blueprint, current_app, request
from flask_babel import gettext as _
from sqlalchemy import Select, select

from volunteer_hub import queries
from volunteer_hub.api import auth, callouts, hours, problems, schemas, serializers
from volunteer_hub.api.auth import current_viewer
from volunteer_hub.api.openapi import as_json, creates, document, operation
from volunteer_hub.api.paging import page_fields
from volunteer_hub.api.parsing import unit_of_field
from volunteer_hub.auth.permissions import Viewer
from volunteer_hub.errors import NotFound, ValidationFailed
from volunteer_hub.events import services as events
from volunteer_hub.extensions import db
from volunteer_hub.people.models import Person
from volunteer_hub.people.services import mask_phone
from volunteer_hub.signups import one_read
from volunteer_hub.signups import services as signups
from volunteer_hub.signups.models import Signup, SignupSource, SignupStatus
from volunteer_hub.teams import services as teams
from volunteer_hub.teams.models import Team, TeamInvitation
from volunteer_hub.transactions import read_back
from volunteer_hub.units.models import Unit
from volunteer_hub.units.services import create_unit, subtree_ids

bp = Blueprint("api", __name__, url_prefix="/api/v1")
auth.register(bp)
problems.register(bp)
hours.register(bp)  # service records and hour totals
callouts.register(bp)  # flood-duty call-outs


# Units ------------------------------------------------------------------------------


@bp.get("/units")
@operation(tag="units", query=schemas.Page, response=schemas.UnitList)
def list_units(query: schemas.Page):
    """单位列表（本人可见的单位树）"""
    viewer = current_viewer()
    statement = select(Unit).where(viewer.unit_condition()).order_by(Unit.path, Unit.id)
    return schemas.UnitList(**_listed(statement, query, serializers.unit))


@bp.post("/units")
@creates(tag="units", body=schemas.UnitCreate, response=schemas.UnitOut, problems=(404,))
def create_unit_view(body: schemas.UnitCreate):
    """新建单位（协调员只能建在自己管辖的单位下）"""
    viewer = current_viewer()
    if body.parent_id is None:
        if not viewer.is_admin:
            raise ValidationFailed({"parent_id": _("请选择上级单位")})
    else:
        unit_of_field(viewer, body.parent_id, field="parent_id", message=_("上级单位不存在"))
    return serializers.unit(create_unit(body.name, body.parent_id, body.level))


# Teams ------------------------------------------------------------------------------


@bp.get("/teams")
@operation(tag="teams", query=schemas.TeamQuery, response=schemas.TeamList, problems=(404,))
def list_teams(query: schemas.TeamQuery):
    """服务队列表"""
    viewer = current_viewer()
    statement = queries.visible_teams(viewer)
    if query.unit_id is not None:
        unit = unit_of_field(viewer, query.unit_id, field="unit_id", message=_("单位不存在"))
        statement = statement.where(Team.unit_id.in_(subtree_ids(unit.path)))
    return schemas.TeamList(**_listed(statement, query, serializers.team))


@bp.post("/teams")
@creates(tag="teams", body=schemas.TeamCreate, response=schemas.TeamOut, problems=(404,))
def create_team(body: schemas.TeamCreate):
    """新建服务队（在本人管辖的单位下）"""
    viewer = current_viewer()
    unit_of_field(viewer, body.unit_id, field="unit_id", message=_("所属单位不存在"))
    team_id = teams.create_team(body.unit_id, body.name, body.description).id
    return serializers.team(queries.visible_team(viewer, team_id))


@bp.get("/teams/<int:team_id>")
@operation(tag="teams", response=schemas.TeamOut)
def get_team(team_id: int):
    """服务队详情"""
    return serializers.team(queries.visible_team(current_viewer(), team_id))


@bp.get("/teams/<int:team_id>/members")
@operation(tag="teams", response=schemas.MemberList)
def list_members(team_id: int):
    """队员列表"""
    viewer = current_viewer()
    team = queries.visible_team(viewer, team_id)
    rows = teams.members(team.id)
    full_phone = serializers.full_phone_ids(viewer, (row.person for row in rows))
    items = [serializers.member(row, row.person, full_phone) for row in rows]
    return schemas.MemberList(items=items, total=len(items))


@bp.post("/teams/<int:team_id>/members")
@creates(
    tag="teams",
    body=schemas.MemberCreate,
    response=schemas.MemberOut,
    other_responses=(
        (
            202,
            schemas.MemberInvited,
            "该手机号已登记：已发出入队邀请，对方同意后才加入。"
            "Already registered: invited, joins once they accept.",
        ),
    ),
    problems=(409,),
)
def add_member(team_id: int, body: schemas.MemberCreate):
    """添加队员（新手机号新建志愿者；已登记的手机号发出入队邀请）

    A phone that is already registered is never enrolled directly and its stored name is
    not returned: the person is texted an invitation (202)."""
    viewer = current_viewer()
    team = queries.visible_team(viewer, team_id)
    added = teams.add_member(
        team.id, body.name, body.phone, body.role, body.skills, invited_by_id=viewer.person_id
    )
    person = db.session.get(Person, added.person_id)
    if isinstance(added, TeamInvitation):
        return schemas.MemberInvited(
            status="invited",
            phone=mask_phone(person.phone),
            name=(body.name or "").strip(),  # what was typed now, never a stored name
        )
    full_phone = serializers.full_phone_ids(viewer, [person])
    return serializers.member(added, person, full_phone)


# Events -----------------------------------------------------------------------------


@bp.get("/events")
@operation(tag="events", query=schemas.EventQuery, response=schemas.EventList, problems=(404,))
def list_events(query: schemas.EventQuery):
    """活动列表（按开始时间），含班次

    from/to 选出与该时段相交的活动。A team_id the viewer cannot see answers 404."""
    viewer = current_viewer()
    if query.team_id is not None:
        queries.visible_team(viewer, query.team_id)
    statement = queries.events(
        viewer,
        team_id=query.team_id,
        ends_after=query.from_,
        starts_before=query.to,
        statuses=(query.status,) if query.status is not None else None,
        run=False,
    )
    return schemas.EventList(**_listed(statement, query, serializers.event))


@bp.post("/events")
@creates(tag="events", body=schemas.EventCreate, response=schemas.EventOut, problems=(404,))
def create_event(body: schemas.EventCreate):
    """新建活动及其班次

    每个班次在回答中带有 id 和短信报名编号 code。给出 repeat 时为每周重复的活动：shifts
    只含第一周的一个班次，每周各生成一个班次，recurrence_rule 为其规则。"""
    viewer = current_viewer()
    team = queries.visible_team(viewer, body.team_id)
    data = events.EventInput(
        title=body.title,
        category_id=_category_id(body.category),
        location=body.location,
        description=body.description,
        status=body.status,
        open_to_all=body.open_to_all,
    )
    shifts = _shift_inputs(body.shifts)
    if body.repeat is not None:
        if len(shifts) != 1:
            raise ValidationFailed(
                {"shifts": _("每周重复的活动请只填写一个班次（第一周的），其余各周自动生成")}
            )
        repeat = events.RepeatInput(weeks=body.repeat.weeks, until=body.repeat.until)
        event = events.create_repeating_event(
            team.id, data, shifts[0], repeat, created_by_id=viewer.person_id
        )
    else:
        event = events.create_event(team.id, data, shifts, created_by_id=viewer.person_id)
    return _event_read_back(viewer, event.id)


@bp.get("/events/<int:event_id>")
@operation(tag="events", response=schemas.EventOut)
def get_event(event_id: int):
    """活动详情，含班次"""
    return serializers.event(queries.visible_event(current_viewer(), event_id))


@bp.patch("/events/<int:event_id>")
@operation(tag="events", body=schemas.EventUpdate, response=schemas.EventOut, problems=(409,))
def update_event(event_id: int, body: schemas.EventUpdate):
    """修改活动（只改给出的字段）

    给出 shifts 时替换整个班次列表：带 id 的班次被修改，不带 id 的新建，
    未列出的取消（报名随之取消）。已取消的活动不能修改（409）。每周重复的活动：
    未列出的一周即跳过，修改某周时间即调整该周，不能新增班次（422）。"""
    viewer = current_viewer()
    event = queries.visible_event(viewer, event_id)
    given = body.model_fields_set
    data = events.EventInput(
        title=body.title if "title" in given else event.title,
        category_id=_category_id(body.category) if "category" in given else event.category_id,
        location=body.location if "location" in given else event.location,
        description=body.description if "description" in given else event.description,
        status=body.status if "status" in given else event.status,
        open_to_all=body.open_to_all if "open_to_all" in given else None,
    )
    if "shifts" in given:
        shifts = _shift_inputs(body.shifts)
    else:
        shifts = _shift_inputs(s for s in event.shifts if not s.is_cancelled)
    events.update_event(event.id, data, shifts)
    return _event_read_back(viewer, event_id)


@bp.post("/events/<int:event_id>/cancel")
@operation(
    tag="events",
    body=schemas.EventCancel,
    body_required=False,
    response=schemas.EventOut,
    problems=(409,),
)
def cancel_event(event_id: int, body: schemas.EventCancel):
    """取消活动（所有班次和报名随之取消）"""
    viewer = current_viewer()
    event = queries.visible_event(viewer, event_id)
    events.cancel_event(event.id, body.reason)
    return _event_read_back(viewer, event_id)


# Signups ----------------------------------------------------------------------------


@bp.get("/shifts/<int:shift_id>/signups")
@operation(tag="signups", response=schemas.Roster)
def list_signups(shift_id: int):
    """班次名单：先已确认，后候补（按顺序）"""
    viewer = current_viewer()
    shift = queries.visible_shift(viewer, shift_id)
    rows = signups.roster([shift.id])[shift.id]
    full_phone = serializers.full_phone_ids(viewer, (row.person for row in rows))
    items, waiting = [], 0
    for row in rows:
        position = None
        if row.status == SignupStatus.WAITLISTED:
            waiting += 1
            position = waiting
        items.append(serializers.signup(row, row.person, full_phone, position))
    return schemas.Roster(items=items, total=len(items))


@bp.post("/shifts/<int:shift_id>/signups")
@creates(
    "为志愿者报名（按手机号）",
    tag="signups",
    body=schemas.SignupCreate,
    response=schemas.SignupOut,
    problems=(403, 409),
    description=(
        "有空位则 confirmed，否则 waitlisted 并给出候补名次（提交时的真实名次）。"
        "同一人重复报名：409。队长只能为本队队员报名，其他手机号（无论是否已登记）一律 403 "
        "members-only，不新建志愿者；管理员和辖区协调员可为任何手机号报名，未登记的以 name 新建。"
    ),
)
def create_signup(shift_id: int, body: schemas.SignupCreate):
    viewer = current_viewer()
    # One read for the shift, its visibility and the person (see sign_up_by_phone); the
    # answer is made of the values written, not of loaded rows.
    result, person, created = one_read.sign_up_by_phone(
        viewer, shift_id, body.phone, body.name, SignupSource.API
    )
    if created:  # belongs to no team yet: masked, no query needed
        full_phone = set()
    elif person.member_here:  # of a team the viewer sees: people_with_full_phone's rule
        full_phone = {person.id}
    else:
        full_phone = viewer.people_with_full_phone([person.id])
    return serializers.signup(result.placed, person, full_phone, result.waitlist_position)


@bp.delete("/signups/<int:signup_id>")
@operation(tag="signups", response=schemas.SignupCancelled, problems=(409,))
def delete_signup(signup_id: int):
    """取消报名（空出的名额给候补第一位）"""
    viewer = current_viewer()
    signup = db.session.get(Signup, signup_id)
    try:
        if signup is None:
            raise NotFound(_("报名记录不存在"))
        queries.visible_shift(viewer, signup.shift_id)
    except NotFound:
        # The same answer whether it does not exist or is not the viewer's to see.
        raise NotFound(_("报名记录不存在")) from None
    result = signups.cancel(signup.id, acted_by_id=viewer.person_id)
    person = db.session.get(Person, signup.person_id)
    full_phone = serializers.full_phone_ids(viewer, [person])
    return schemas.SignupCancelled(
        signup=serializers.signup(result.signup, person, full_phone),
        promoted_signup_ids=[s.id for s in result.promoted],
        promoted_person_ids=[s.person_id for s in result.promoted],
    )


# Calendar feeds ---------------------------------------------------------------------


@bp.post("/feeds")
@creates(tag="feeds", body=schemas.FeedCreate, response=schemas.FeedOut, problems=(404,))
def create_feed(body: schemas.FeedCreate):
    """新建日历订阅（返回订阅地址，只此一次）

    person 只能订阅本人；team 须能查看该服务队；unit 须为该单位或其上级的协调员，或管理员。
    看不到的对象一律 404。categories 为类别名称或编号。url 中的令牌只在此返回一次，
    服务器只保存其 SHA-256。"""
    from volunteer_hub.calendar import services as feeds

    viewer = current_viewer()
    category_ids = feeds.find_categories(body.categories)
    issued = feeds.create_feed(body.scope, body.id, category_ids, viewer)
    url, webcal_url = feeds.subscribe_urls(issued.token, request.host_url)
    return serializers.feed(issued.feed, url, webcal_url)


@bp.delete("/feeds/<int:feed_id>")
@operation(tag="feeds", status=204)
def delete_feed(feed_id: int):
    """停用日历订阅（其地址此后答 404）

    只能停用本人创建的订阅；他人的、已停用的或不存在的：404。"""
    from volunteer_hub.calendar import services as feeds

    feeds.revoke_feed(feed_id, current_viewer())
    response = current_app.response_class(status=204)
    response.headers.remove("Content-Type")
    return response


# The document -----------------------------------------------------------------------


@bp.get("/openapi.json")
@operation(
    "本 API 的 OpenAPI 3.1 文档",
    tag="meta",
    public=True,
    response_schema={"type": "object", "required": ["openapi", "info", "paths"]},
)
def openapi_document():
    return current_app.response_class(as_json(document(current_app)), mimetype="application/json")


# Helpers ----------------------------------------------------------------------------


def _shift_inputs(shifts: Iterable) -> list[events.ShiftInput]:
    """Shifts as the events service takes them, from the body or from the event itself:
    the same fields, and the id of a shift that exists (a new one has none)."""
    return [
        events.ShiftInput(
            id=getattr(s, "id", None),
            starts_at=s.starts_at,
            ends_at=s.ends_at,
            capacity=s.capacity,
            title=s.title,
        )
        for s in shifts
    ]


def _event_read_back(viewer: Viewer, event_id: int) -> schemas.EventOut:
    """The event a view just changed, as it stands once committed."""
    read_back()
    return serializers.event(queries.visible_event(viewer, event_id))


def _listed(statement: Select, query: schemas.Page, serialize: Callable) -> dict[str, Any]:
    """One page of what ``statement`` selects, serialised, with the page's fields."""
    rows = db.session.scalars(statement.limit(query.limit).offset(query.offset)).all()
    return {"items": [serialize(row) for row in rows], **page_fields(len(rows), query, statement)}


def _category_id(ref: str | int) -> int:
    """The id of an active category given by name or id; an unknown one is refused
    with the names that would do."""
    category = None
    # Digits beyond MAX_ID (or not ASCII) would be read as an id that cannot exist.
    if not (isinstance(ref, str) and ref.isdigit()) or (
        ref.isascii() and int(ref) <= schemas.MAX_ID
    ):
        category = events.find_category(ref)
    if category is None:
        names = "、".join(category.name for category in events.active_categories())
        raise ValidationFailed({"category": _("没有这个服务类别。可选：%(names)s", names=names)})
    return category.id
