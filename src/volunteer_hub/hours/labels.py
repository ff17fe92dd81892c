"""Words and numbers of the hours pages: record statuses, the trail's actions, channels
and changed fields, and hours as people write them (2, 1.5)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask_babel import gettext as _

from volunteer_hub.hours.forms import attendance_labels
from volunteer_hub.hours.models import RecordChange, RecordStatus
from volunteer_hub.web import format_local


def status_labels() -> dict[str, str]:
    return {
        RecordStatus.PENDING.value: _("待审核"),
        RecordStatus.VERIFIED.value: _("已认定"),
        RecordStatus.REJECTED.value: _("不予认定"),
    }


def action_labels() -> dict[str, str]:
    return {
        "created": _("登记"),
        "checked_in": _("签到"),
        "checked_out": _("签退"),
        "auto_closed": _("未签退，自动结束"),
        "marked": _("登记出勤"),
        "edited": _("修改"),
        "verified": _("审核通过"),
        "rejected": _("不予认定"),
        "correction_requested": _("申请更正"),
        "correction_resolved": _("更正已处理"),
        "deleted": _("删除"),
    }


def channel_labels() -> dict[str, str]:
    return {"web": _("网页"), "sms": _("短信"), "api": _("接口"), "system": _("系统")}


def field_labels() -> dict[str, str]:
    return {
        "attendance": _("出勤"),
        "started_at": _("开始时间"),
        "ended_at": _("结束时间"),
        "checked_in_at": _("签到时间"),
        "checked_out_at": _("签退时间"),
        "minutes": _("计入时长"),
        "content": _("服务内容"),
        "over_shift_length": _("超出班次时长也计入"),
        "auto_closed": _("未签退"),
        "status": _("状态"),
        "category_id": _("服务类别"),
        "correction_note": _("更正申请"),
    }


def describe(change: RecordChange) -> list[tuple[str, str, str]]:
    """A change's fields as (what, before, after) in words; a snapshot (a new or deleted
    record) is not a list of changes and says nothing here."""
    labels = field_labels()
    out = []
    for name, values in (change.changes or {}).items():
        if name not in labels or not isinstance(values, list) or len(values) != 2:
            continue
        if name in ("month", "decided_by_id", "decided_at", "correction_requested_at"):
            continue
        out.append((labels[name], _value(name, values[0]), _value(name, values[1])))
    return out


def _value(name: str, value: Any) -> str:
    if value is None or value == "":
        return "—"
    if name.endswith("_at"):
        try:
            return format_local(datetime.fromisoformat(value))
        except (TypeError, ValueError):
            return str(value)
    if name == "minutes":
        return _("%(hours)s 小时", hours=format_hours(int(value) / 60))
    if name == "attendance":
        return attendance_labels().get(value, str(value))
    if name == "status":
        return status_labels().get(value, str(value))
    if isinstance(value, bool):
        return _("是") if value else _("否")
    return str(value)


def format_hours(hours: float) -> str:
    """2 → "2", 1.5 → "1.5"."""
    return f"{hours:.2f}".rstrip("0").rstrip(".")
