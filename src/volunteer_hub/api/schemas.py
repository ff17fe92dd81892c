"""Pydantic models of the JSON API: what requests may carry and what answers contain.

The same classes validate input, shape output and generate the OpenAPI document, so the
document cannot drift from the code. Request models are strict (JSON types as JSON
Schema means them: "1" is not an integer) and refuse unknown fields, so a typo in a
field name is an error rather than silently ignored. Field titles are the Chinese
labels used in error messages.

Rules (a shift ends after it starts, a category exists...) live in the services; these
models only say what shape the input has, plus the bounds the database needs.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    ValidationError,
    WrapValidator,
)
from pydantic.json_schema import SkipJsonSchema
from pydantic_core import PydanticCustomError

from volunteer_hub.events.services import (
    MAX_CAPACITY,
    MAX_REPEAT_WEEKS,
    MAX_SHIFTS,
    MIN_REPEAT_WEEKS,
)
from volunteer_hub.i18n import to_local

#: ids are 32-bit on PostgreSQL; a larger number is refused before it reaches SQL
MAX_ID = 2**31 - 1
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
#: times outside this span are certainly typing mistakes (and some overflow on conversion)
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)

# Control characters (NUL among them) never reach a model: the request boundary removes
# them from every JSON string (volunteer_hub.boundary), so a text field needs no pattern
# for them. A required one must hold something visible once they are gone.
_NOT_BLANK = r"[^\s\x00-\x1f\x7f-\x9f]"
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_NUMERIC = re.compile(r"\s*[+-]?\d+(\.\d*)?\s*")


def _whole_number(value: Any) -> Any:
    # JSON Schema's "integer" includes 3.0; strict pydantic would refuse it.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _drop_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


def _iso_only(value: Any) -> Any:
    # The datetime itself is parsed in lax mode (strict refuses a str once it has passed
    # through a Python validator), which would take numbers as Unix times: our contract
    # is an ISO 8601 string, so anything else is refused here.
    if not isinstance(value, str):
        raise PydanticCustomError("datetime_type", "an ISO 8601 date-time string")
    if _NUMERIC.fullmatch(value):
        raise PydanticCustomError("datetime_format", "not an ISO 8601 date-time")
    return value


def _iso_date_only(value: Any) -> Any:
    if not isinstance(value, str) or not _ISO_DATE.fullmatch(value):
        raise PydanticCustomError("date_iso", "an ISO 8601 date, YYYY-MM-DD")
    return value


def _in_range(value: datetime) -> datetime:
    # Compared before converting: converting year 1 at +14:00 to UTC would overflow.
    if not EARLIEST <= value < LATEST:
        raise PydanticCustomError("datetime_range", "date-time out of range")
    return value.astimezone(UTC)


def _clamped(value: datetime) -> datetime:
    # As a filter bound, a far past or future time means "no bound" on that side.
    return min(max(value, EARLIEST), LATEST).astimezone(UTC)


#: an integer as JSON Schema means it: 3 and 3.0, not "3" nor true (the bounds come
#: before the validator, or pydantic cannot express them in the JSON schema)
Id = Annotated[int, Field(ge=1, le=MAX_ID), BeforeValidator(_whole_number)]
Capacity = Annotated[int, Field(ge=1, le=MAX_CAPACITY), BeforeValidator(_whole_number)]
Weeks = Annotated[
    int, Field(ge=MIN_REPEAT_WEEKS, le=MAX_REPEAT_WEEKS), BeforeValidator(_whole_number)
]
#: an id in a query string, parsed from text by pydantic itself
QueryId = Annotated[int, Field(ge=1, le=MAX_ID)]
EventTitle = Annotated[str, Field(max_length=200, pattern=_NOT_BLANK)]
Location = Annotated[str, Field(max_length=300)]
Description = Annotated[str, Field(max_length=5000)]
#: input time: ISO 8601 with an offset (naive times are refused), returned in UTC
Timestamp = Annotated[
    AwareDatetime, Strict(False), BeforeValidator(_iso_only), AfterValidator(_in_range)
]
#: a bound of a time filter: as Timestamp, but out-of-range times are clamped, not refused
FilterTime = Annotated[
    AwareDatetime, Strict(False), BeforeValidator(_iso_only), AfterValidator(_clamped)
]
#: a date in a query string: YYYY-MM-DD only (pydantic alone reads "0" as a Unix time)
QueryDate = Annotated[date, Strict(False), BeforeValidator(_iso_date_only)]
#: output time: in the display zone, with its offset (+08:00)
LocalTime = Annotated[datetime, AfterValidator(to_local)]


def Text(max_length: int, title: str, *, required: bool = False, **kwargs: Any) -> Any:
    """A string field of at most ``max_length`` characters; ``required`` ones must hold
    more than spaces."""
    if required:
        kwargs["pattern"] = _NOT_BLANK
    return Field(max_length=max_length, title=title, **kwargs)


def Omittable(title: str, **kwargs: Any) -> Any:
    """A field that may be left out (it is then None) but not sent as null.

    The None default is not validated, so the field's type stays plain (no union with
    null in the schema, and an explicit null is a clear type error).
    """
    return Field(default=None, title=title, json_schema_extra=_drop_default, **kwargs)


def _category_ref(value: Any, handler) -> str | int:
    try:
        return handler(value)
    except ValidationError:
        raise PydanticCustomError("category_ref", "a category name or id") from None


CategoryRef = Annotated[
    Annotated[str, Field(min_length=1, max_length=50)] | Id,
    WrapValidator(_category_ref),
    Field(
        title="服务类别",
        description="类别名称（如“防汛抗旱”）或编号。Category name or id.",
        examples=["防汛抗旱"],
    ),
]


class RequestModel(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class QueryModel(BaseModel):
    # Unknown query parameters are ignored, as proxies and caches like to add their own.
    model_config = ConfigDict(extra="ignore", strict=True, populate_by_name=True)


class ResponseModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


# Requests ---------------------------------------------------------------------------


class Page(QueryModel):
    limit: int = Field(
        DEFAULT_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE, title="每页条数", description="Page size."
    )
    offset: int = Field(0, ge=0, le=MAX_ID, title="偏移量", description="Rows to skip.")


class UnitCreate(RequestModel):
    name: str = Text(100, "单位名称", required=True)
    parent_id: Id | None = Field(
        title="上级单位",
        description="上级单位编号；只有管理员可以建立顶级单位（null）。",
    )
    level: Literal["province", "city", "district", "street", "community"] = Omittable(
        "单位层级", description="省/市/区/街道/社区；省略时按上级单位推定。"
    )


class TeamQuery(Page):
    unit_id: QueryId = Omittable("所属单位", description="只列出该单位及其下级单位的服务队。")


class TeamCreate(RequestModel):
    unit_id: Id = Field(title="所属单位")
    name: str = Text(100, "服务队名称", required=True)
    description: str = Text(2000, "简介", default="")


class MemberCreate(RequestModel):
    phone: str = Text(32, "手机号码", required=True, examples=["13800138000"])
    name: str = Text(
        50,
        "姓名",
        default="",
        description="新志愿者必填；已登记的手机号可省略（对方收到入队邀请，答复 202）。",
    )
    role: Literal["member", "leader"] = Field("member", title="角色")
    skills: str = Text(500, "技能", default="")


class ShiftCreate(RequestModel):
    title: str = Text(100, "班次名称", default="")
    starts_at: Timestamp = Field(title="开始时间", examples=["2025-07-01T08:00:00+08:00"])
    ends_at: Timestamp = Field(title="结束时间", examples=["2025-07-01T12:00:00+08:00"])
    capacity: Capacity = Field(title="人数")


class ShiftUpdate(ShiftCreate):
    id: Id = Omittable("班次编号", description="修改已有班次时填写；新班次省略。")


class RepeatCreate(RequestModel):
    """Weekly repetition: give ``weeks`` or ``until``, not both."""

    weeks: Weeks = Omittable(
        "重复周数", description="共几周（含第一周），2–52。Number of weeks, first included."
    )
    until: date = Omittable(
        "重复截止日期",
        description="最后一周不晚于此日期（当地日期，含当日），共 2–52 周。"
        "Last local date a week may fall on.",
        examples=["2026-09-30"],
    )


class EventCreate(RequestModel):
    team_id: Id = Field(title="服务队")
    category: CategoryRef
    title: EventTitle = Field(title="活动名称")
    location: Location = Field("", title="地点")
    description: Description = Field("", title="活动说明")
    status: Literal["draft", "published"] = Field("published", title="状态")
    open_to_all: bool = Field(
        False,
        title="公开招募",
        description="公开招募：为 true 时任何登记过的志愿者都可报名（如防汛值守）；为 false 时只有本队队员可以"
        "（短信、网页；协调员和管理员仍可为任何人报名）。Open to everyone, or to the team's members only.",
    )
    shifts: list[ShiftCreate] = Field(min_length=1, max_length=MAX_SHIFTS, title="班次")
    repeat: RepeatCreate = Omittable(
        "每周重复",
        description="给出时活动每周重复：shifts 只能有一个班次（第一周的），之后每周同一当地"
        "时间各生成一个班次。跳过某周：PATCH 时不列出该周的班次；调整某周：修改该班次的时间。"
        "Weekly repeating event: one shift (week 1) in shifts; each week becomes a shift.",
    )


class EventUpdate(RequestModel):
    """Any of the fields; ``shifts``, when given, replaces the list of shifts."""

    category: CategoryRef = Omittable("服务类别")
    title: EventTitle = Omittable("活动名称")
    location: Location = Omittable("地点")
    description: Description = Omittable("活动说明")
    status: Literal["draft", "published"] = Omittable("状态")
    open_to_all: bool = Omittable("公开招募", description="见新建活动的 open_to_all。")
    shifts: list[ShiftUpdate] = Omittable(
        "班次",
        min_length=1,
        max_length=MAX_SHIFTS,
        description="完整的新班次列表：带 id 的班次被修改，不带 id 的新建，未列出的删除"
        "（已有人报名的则取消）。",
    )


class EventCancel(RequestModel):
    reason: str = Text(500, "取消原因", default="")


class EventQuery(Page):
    team_id: QueryId = Omittable("服务队")
    from_: FilterTime = Omittable(
        "起始时间", alias="from", description="只列出在此时间之后结束的活动。"
    )
    to: FilterTime = Omittable("截止时间", description="只列出在此时间之前开始的活动。")
    status: Literal["draft", "published", "cancelled"] = Omittable("状态")


class SignupCreate(RequestModel):
    phone: str = Text(
        32,
        "手机号码",
        required=True,
        examples=["13800138000"],
        description="队长只能为本队队员报名；管理员和辖区协调员可为任何手机号报名。",
    )
    name: str = Text(
        50,
        "姓名",
        default="",
        description="管理员或协调员报名未登记的手机号时用来建立志愿者；已登记时忽略。",
    )


class FeedCreate(RequestModel):
    scope: Literal["person", "team", "unit"] = Field(
        title="订阅范围",
        description="person：本人报名的班次（id 须为本人）；team：服务队的活动；"
        "unit：单位及其下属全部服务队的活动。",
    )
    id: Id = Field(title="订阅对象编号", description="人员、服务队或单位的编号，随 scope 而定。")
    categories: list[CategoryRef] = Field(
        default_factory=list,
        max_length=50,
        title="服务类别",
        description="只收这些类别的活动：类别名称（如“防汛抗旱”）或编号，可混用；"
        "省略或空数组表示全部类别。Category names or ids; empty means all.",
        json_schema_extra=_drop_default,
    )


# Responses --------------------------------------------------------------------------


class Ref(ResponseModel):
    id: int
    name: str


class UnitOut(ResponseModel):
    id: int
    name: str
    level: str
    parent_id: int | None
    #: materialized path "/1/4/17/"
    path: str = Field(description="从根到本单位的编号路径，如 /1/4/17/")


class Listing(ResponseModel):
    """A page of a list: ``items`` (in each subclass), where it starts, how many in all."""

    limit: int = Field(description="每页条数")
    offset: int = Field(description="本页从第几条起（从 0 起）")
    total: int = Field(description="符合条件的总条数（不只本页）")
    next: str | None = Field(
        description="下一页的地址（路径和查询参数，其余参数不变）；没有更多则为 null",
        examples=["/api/v1/events?limit=50&offset=50"],
    )


class UnitList(Listing):
    items: list[UnitOut]


class TeamOut(ResponseModel):
    id: int
    unit: Ref
    name: str
    description: str
    created_at: LocalTime


class TeamList(Listing):
    items: list[TeamOut]


class PersonOut(ResponseModel):
    id: int
    name: str
    phone: str = Field(
        description="E.164 全号（本人、所在队的队长、上级协调员可见），否则打码：138****8000"
    )
    phone_masked: bool


class MemberOut(ResponseModel):
    person: PersonOut
    role: Literal["member", "leader"]
    skills: str
    joined_at: LocalTime


class MemberList(ResponseModel):
    """Every member of the team: one page, whatever its size."""

    items: list[MemberOut]
    total: int = Field(description="队员总数（即 items 的条数：不分页）")


class MemberInvited(ResponseModel):
    """The phone is already registered: the person was invited, not enrolled."""

    status: Literal["invited"] = Field(
        description="已向该手机号发出入队邀请，对方同意（短信回复“加入”或在志愿者页面）后才成为队员"
    )
    phone: str = Field(description="打码的手机号，如 138****8000")
    name: str = Field(description="请求中填写的姓名（不是系统中登记的姓名）")


class ShiftOut(ResponseModel):
    id: int
    code: str = Field(description="志愿者短信报名用的编号（报名 1234）")
    title: str
    starts_at: LocalTime
    ends_at: LocalTime
    capacity: int
    filled: int = Field(description="已确认人数")
    is_cancelled: bool
    series_starts_at: LocalTime | None = Field(
        description="每周重复的活动中，规则给这一周的开始时间（该周调整过时间则与 starts_at 不同）；"
        "非重复活动为 null"
    )


class EventOut(ResponseModel):
    id: int
    team: Ref
    category: Ref
    title: str
    description: str
    location: str
    starts_at: LocalTime
    ends_at: LocalTime
    status: Literal["draft", "published", "cancelled"]
    open_to_all: bool = Field(
        description="公开招募：任何登记过的志愿者都可报名；false 时仅限本队队员"
    )
    revision: int
    cancelled_at: LocalTime | None
    created_at: LocalTime
    updated_at: LocalTime
    recurrence_rule: str | None = Field(
        description="每周重复的活动的 RFC 5545 规则，如 FREQ=WEEKLY;COUNT=12；非重复活动为 null",
        examples=["FREQ=WEEKLY;COUNT=12"],
    )
    shifts: list[ShiftOut]


class EventList(Listing):
    items: list[EventOut]


class SignupOut(ResponseModel):
    id: int
    shift_id: int
    person: PersonOut
    status: Literal["confirmed", "waitlisted", "cancelled"]
    source: Literal["web", "sms", "leader", "api", "walk_in"] = Field(
        description="walk_in：班次开始后队长登记的现场人员"
    )
    waitlist_position: int | None = Field(description="候补名次，从 1 起；已确认或已取消时为 null")
    created_at: LocalTime
    confirmed_at: LocalTime | None
    cancelled_at: LocalTime | None


class Roster(ResponseModel):
    """Active signups of a shift: confirmed first, then the waitlist in order."""

    items: list[SignupOut]
    total: int = Field(description="已确认和候补的总人数（即 items 的条数：不分页）")


class SignupCancelled(ResponseModel):
    signup: SignupOut
    promoted_signup_ids: list[int] = Field(description="因此从候补转为确认的报名")
    promoted_person_ids: list[int]


class FeedOut(ResponseModel):
    id: int
    scope: Literal["person", "team", "unit"]
    target_id: int = Field(description="人员、服务队或单位的编号")
    categories: list[Ref] = Field(description="类别筛选；空表示全部类别")
    url: str = Field(
        description="订阅地址（https）。令牌只在此时返回一次，服务器只保存其哈希。"
        "The token is returned once and stored only as a hash."
    )
    webcal_url: str = Field(description="同一地址的 webcal:// 形式，供日历应用直接订阅")
    created_at: LocalTime


class FieldError(ResponseModel):
    field: str = Field(description="出错的字段路径，如 shifts.0.capacity", examples=["phone"])
    message: str


class Problem(BaseModel):
    """RFC 9457 problem details."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="about:blank")
    title: str
    status: int
    detail: str | SkipJsonSchema[None] = Field(None, json_schema_extra=_drop_default)
    code: str | SkipJsonSchema[None] = Field(
        None,
        json_schema_extra=_drop_default,
        description="机器可读的错误代码，如 already-signed-up、validation",
    )
    errors: list[FieldError] | SkipJsonSchema[None] = Field(None, json_schema_extra=_drop_default)
