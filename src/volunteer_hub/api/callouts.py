"""JSON API of call-outs (应急召集): start (or preview with ``dry_run``), read, stop.

Registered on the API blueprint by ``register(bp)`` (api/views.py), so the OpenAPI
document and the schemathesis run cover these routes like the others. Scope as
elsewhere: a leader calls out the teams they lead, a coordinator the teams of their
subtree; shifts, teams, units and call-outs outside the scope answer 404.
"""

from __future__ import annotations

from typing import Annotated, Literal

from flask import Blueprint, url_for
from pydantic import BeforeValidator, Field

from volunteer_hub.api.auth import current_viewer
from volunteer_hub.api.openapi import operation
from volunteer_hub.api.schemas import (
    Id,
    LocalTime,
    Omittable,
    Page,
    RequestModel,
    ResponseModel,
    Text,
    _whole_number,
)
from volunteer_hub.callouts import services as callouts
from volunteer_hub.callouts.models import Callout
from volunteer_hub.extensions import db
from volunteer_hub.people.skills import NAME_LENGTH

Minutes = Annotated[int, Field(ge=1, le=callouts.MAX_AFTER_MINUTES), BeforeValidator(_whole_number)]
SkillName = Annotated[str, Field(min_length=1, max_length=NAME_LENGTH)]
#: how many teams one audience may name (a whole district: give its unit_id)
MAX_TEAMS = 500


# Models -------------------------------------------------------------------------------


class RingCreate(RequestModel):
    """A later ring: these teams, or every team of a unit's subtree; give one of them."""

    team_ids: list[Id] = Omittable("服务队", max_length=MAX_TEAMS)
    unit_id: Id = Omittable("单位", description="该单位及其下级单位的全部服务队。")
    after_minutes: Minutes = Field(
        title="开始后多少分钟",
        description="召集开始后多少分钟仍有空位则发出这一圈。Minutes after the start.",
    )


class CalloutCreate(RequestModel):
    shift_ids: list[Id] = Field(min_length=1, max_length=50, title="班次")
    team_ids: list[Id] = Omittable("服务队", max_length=MAX_TEAMS)
    unit_id: Id = Omittable("单位", description="该单位及其下级单位的全部服务队。")
    skills: list[SkillName] = Field(
        default_factory=list, max_length=20, title="技能", description="有其中之一即可。"
    )
    rings: list[RingCreate] = Field(
        default_factory=list, max_length=callouts.MAX_RINGS, title="后续各圈"
    )
    message: str = Text(callouts.MESSAGE_LENGTH, "附言", default="")
    urgent: bool = Field(False, title="紧急", description="紧急召集不受夜间免打扰和每日条数限制。")
    dry_run: bool = Field(False, title="只预览", description="只计算人数，不发送、不保存。")


class LeftOut(ResponseModel):
    opted_out: int = Field(description="已退订短信")
    no_skill: int = Field(description="不具备所需技能")
    busy: int = Field(description="已在时间重叠的班次上")
    resting: int = Field(description="上一班结束不足休息时间（CALLOUT_REST_HOURS）")
    capped: int = Field(description="非紧急：今天已收到规定条数的召集")


class CalloutPreview(ResponseModel):
    dry_run: Literal[True]
    recipients: int = Field(description="第一圈将发送的人数")
    left_out: LeftOut


class CalloutStarted(ResponseModel):
    id: int
    code: str = Field(description="回复编号：“1 编号”")
    status: str
    recipients: int = Field(description="第一圈已发送的人数")
    left_out: LeftOut


class AnswerOut(ResponseModel):
    person_id: int
    answer: Literal["accepted", "declined"]
    answered_at: LocalTime


class CalloutOut(ResponseModel):
    id: int
    code: str
    status: Literal["active", "full", "started", "stopped"]
    event_id: int
    shift_ids: list[int]
    message: str
    urgent: bool
    skills: list[str]
    seats: int = Field(description="各班次名额之和")
    filled: int = Field(description="已确认的人数")
    ring: int = Field(description="已发出的最后一圈（0 为第一圈）")
    next_ring_at: LocalTime | None = Field(description="下一圈的时间；没有则为 null")
    recipients: int = Field(description="已收到召集短信的人数")
    created_at: LocalTime
    ended_at: LocalTime | None
    answers: list[AnswerOut] = Field(description="答复，按答复时间")
    total: int = Field(description="答复总数")
    next: str | None = Field(description="下一页答复的地址；没有更多则为 null")


# Views --------------------------------------------------------------------------------


@operation(
    "发起应急召集（dry_run 只预览人数）",
    tag="callouts",
    body=CalloutCreate,
    response=CalloutStarted,
    status=201,
    other_responses=((200, CalloutPreview, "预览：将发送的人数及未发送的原因。Preview."),),
    problems=(404, 409),
    description="受众为 team_ids 或 unit_id（二选一），减去已退订、不具备所需技能、"
    "已在重叠班次上、休息不足的人。看不到的班次、服务队、单位：404。",
)
def create_callout(body: CalloutCreate):
    viewer = current_viewer()
    data = callouts.CalloutInput(
        shift_ids=body.shift_ids,
        audience=callouts.RingInput(team_ids=body.team_ids, unit_id=body.unit_id),
        skills=body.skills,
        rings=[
            callouts.RingInput(
                team_ids=r.team_ids, unit_id=r.unit_id, after_minutes=r.after_minutes
            )
            for r in body.rings
        ],
        message=body.message,
        urgent=body.urgent,
    )
    if body.dry_run:
        found = callouts.preview(viewer, data)
        db.session.rollback()
        return CalloutPreview(
            dry_run=True, recipients=found.recipients, left_out=LeftOut(**found.left_out)
        )
    callout, found = callouts.start(viewer, data)
    answer = CalloutStarted(
        id=callout.id,
        code=callout.code,
        status=callout.status,
        recipients=found.recipients,
        left_out=LeftOut(**found.left_out),
    )
    db.session.commit()
    return answer


@operation(
    "召集进展：名额、已确认、当前一圈、答复", tag="callouts", query=Page, response=CalloutOut
)
def get_callout(callout_id: int, query: Page):
    callout = callouts.visible_callout(current_viewer(), callout_id)
    return _callout_out(callout, query)


@operation(
    "停止召集（不再发出后续各圈，向已报名和候补的人发一条结束短信）",
    tag="callouts",
    response=CalloutOut,
    problems=(409,),
)
def stop_callout(callout_id: int):
    callout = callouts.stop(current_viewer(), callout_id)
    db.session.commit()
    return _callout_out(callout, Page())


def register(bp: Blueprint) -> None:
    bp.add_url_rule("/callouts", view_func=create_callout, methods=["POST"])
    bp.add_url_rule("/callouts/<int:callout_id>", view_func=get_callout, methods=["GET"])
    bp.add_url_rule("/callouts/<int:callout_id>/stop", view_func=stop_callout, methods=["POST"])


def _callout_out(callout: Callout, page: Page) -> CalloutOut:
    progress = callouts.progress(callout)
    total, rows = callouts.answers(callout.id, limit=page.limit, offset=page.offset)
    more = page.offset + len(rows) < total
    return CalloutOut(
        id=callout.id,
        code=callout.code,
        status=callout.status,
        event_id=callout.event_id,
        shift_ids=progress.shift_ids,
        message=callout.message,
        urgent=callout.is_urgent,
        skills=callout.skills,
        seats=progress.seats,
        filled=progress.filled,
        ring=progress.ring,
        next_ring_at=progress.next_ring_at,
        recipients=progress.recipients,
        created_at=callout.created_at,
        ended_at=callout.ended_at,
        answers=[
            AnswerOut(person_id=r.person_id, answer=r.answer, answered_at=r.answered_at)
            for r in rows
        ],
        total=total,
        next=url_for(
            "api.get_callout",
            callout_id=callout.id,
            limit=page.limit,
            offset=page.offset + page.limit,
            _external=False,
        )
        if more
        else None,
    )
