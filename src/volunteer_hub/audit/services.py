"""Writing and reading the audit trail; callers add an entry in the same transaction as
the change it records, so a rolled-back change leaves no entry."""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select

from volunteer_hub.audit.models import AuditEntry
from volunteer_hub.db import utcnow
from volunteer_hub.extensions import db
from volunteer_hub.people.models import Person


def record(
    actor_id: int | None, action: str, subject_type: str, subject_id: int, **details: Any
) -> AuditEntry:
    entry = AuditEntry(
        actor_id=actor_id,
        action=action,
        subject_type=subject_type,
        subject_id=subject_id,
        details=details,
        created_at=utcnow(),
    )
    db.session.add(entry)
    return entry


def entries_about(subject_type: str, subject_id: int, limit: int = 50) -> list[AuditEntry]:
    """The latest changes to one unit, team or person, newest first."""
    return list(
        db.session.scalars(
            select(AuditEntry)
            .where(AuditEntry.subject_type == subject_type, AuditEntry.subject_id == subject_id)
            .order_by(AuditEntry.created_at.desc(), AuditEntry.id.desc())
            .limit(limit)
        )
    )


def actor_names(entries: list[AuditEntry]) -> dict[int, str]:
    """The names of the people who made ``entries``, by id (one query)."""
    ids = {entry.actor_id for entry in entries if entry.actor_id is not None}
    if not ids:
        return {}
    return dict(db.session.execute(select(Person.id, Person.name).where(Person.id.in_(ids))).all())


def label(entry: AuditEntry) -> str:
    """The entry as a line of the page's change list, in the reader's language."""
    details = entry.details or {}
    labels = {
        "unit.created": lambda: _("新建单位"),
        "unit.renamed": lambda: _(
            "改名：%(old)s → %(new)s", old=details.get("old", ""), new=details.get("new", "")
        ),
        "unit.moved": lambda: _("移动到其他上级单位"),
        "team.created": lambda: _("新建服务队"),
        "team.renamed": lambda: _(
            "改名：%(old)s → %(new)s", old=details.get("old", ""), new=details.get("new", "")
        ),
        "team.archived": lambda: _("归档"),
        "team.restored": lambda: _("恢复"),
        "team.leader_added": lambda: _("设为队长（编号 %(id)s）", id=details.get("person_id")),
        "team.leader_removed": lambda: _("取消队长（编号 %(id)s）", id=details.get("person_id")),
        "team.leader_invited": lambda: _(
            "邀请入队以便设为队长（编号 %(id)s）", id=details.get("person_id")
        ),
        "person.sessions_ended": lambda: _("退出所有登录"),
        "person.erased": lambda: _("删除个人信息"),
        "account.created": lambda: _("新建账号"),
        "account.role_granted": lambda: _("添加角色"),
        "account.deactivated": lambda: _("停用账号"),
        "account.reactivated": lambda: _("重新启用账号"),
        "account.password_reset": lambda: _("重置密码"),
        "account.password_chosen": lambda: _("本人设置了密码"),
        "account.password_reset_by_code": lambda: _("本人用短信验证码重设了密码"),
    }
    make = labels.get(entry.action)
    return make() if make else entry.action
