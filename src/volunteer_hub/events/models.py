from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, false, func, true
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.types import Boolean, Integer, String, Text

from volunteer_hub.db import Base, TimestampMixin, partial_index, utcnow
from volunteer_hub.teams.models import Team


class CategoryGroup(enum.StrEnum):
    EZHOU_FIELD = "ezhou_field"  # 鄂州志愿服务九大领域
    BAGEYI = "bageyi"  # 武汉“八个一”拥军优属活动
    OTHER = "other"


class Category(Base):
    """What kind of service an event is; data, so admins can add more."""

    __tablename__ = "category"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50), unique=True)
    group: Mapped[CategoryGroup] = mapped_column(String(20), default=CategoryGroup.OTHER)
    sort_order: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())


class EventStatus(enum.StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    CANCELLED = "cancelled"


class Event(TimestampMixin, Base):
    __tablename__ = "event"
    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        Index("ix_event_team_id_starts_at", "team_id", "starts_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("team.id", ondelete="RESTRICT"))
    category_id: Mapped[int] = mapped_column(ForeignKey("category.id", ondelete="RESTRICT"))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="", server_default="")
    #: place as people say it, with the address: 鄂州市鄂城区莲花山社区党群服务中心
    location: Mapped[str] = mapped_column(String(300), default="", server_default="")
    #: the span of the whole event; kept equal to the span of its shifts
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    status: Mapped[EventStatus] = mapped_column(String(20), default=EventStatus.PUBLISHED)
    #: bumped on every change; calendar feeds use it as SEQUENCE
    revision: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="SET NULL"))
    cancelled_at: Mapped[datetime | None]
    #: hours before each shift to text a reminder, e.g. "24,2"; empty means no reminders
    reminder_hours: Mapped[str] = mapped_column(String(30), default="24,2", server_default="24,2")
    #: a repeating event (weekly flood patrol in 汛期): the RFC 5545 rule its shifts were
    #: laid out by, e.g. "FREQ=WEEKLY;UNTIL=20260930T160000Z"; feeds publish it as RRULE
    recurrence_rule: Mapped[str | None] = mapped_column(String(200))
    #: 公开招募: anyone may sign up (flood duty); otherwise only the team's members
    open_to_all: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    team: Mapped[Team] = relationship(lazy="raise_on_sql")
    category: Mapped[Category] = relationship(lazy="raise_on_sql")
    shifts: Mapped[list[Shift]] = relationship(
        back_populates="event",
        order_by="(Shift.starts_at, Shift.id)",
        lazy="raise_on_sql",
        cascade="all, delete-orphan",
    )

    @property
    def is_cancelled(self) -> bool:
        return self.status == EventStatus.CANCELLED


class Shift(Base):
    """A slot of an event (班次) with its own time, role and seats."""

    __tablename__ = "shift"
    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        CheckConstraint("capacity >= 1", name="capacity_positive"),
        CheckConstraint("filled >= 0 AND filled <= capacity", name="filled_within_capacity"),
        # A code identifies one current shift; old codes are released and may come back.
        partial_index("uq_shift_code_current", "code", unique=True, where="code_is_current"),
        Index("ix_shift_event_id_starts_at", "event_id", "starts_at"),
        # The reminder sweep looks a few days ahead across all events, every minute.
        Index("ix_shift_starts_at", "starts_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("event.id", ondelete="CASCADE"))
    #: the role or name of the slot: 第一班, 讲解员, 巡堤 ...
    title: Mapped[str] = mapped_column(String(100), default="", server_default="")
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    capacity: Mapped[int] = mapped_column(Integer)
    #: confirmed seats; only ever changed by conditional UPDATEs in signups.services
    filled: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    #: the short number volunteers text (报名 1234)
    code: Mapped[str] = mapped_column(String(8))
    #: false once the shift is over or cancelled, which frees the code for reuse
    code_is_current: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    is_cancelled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    #: in a repeating event, the start the rule gave this occurrence; differs from
    #: ``starts_at`` once the week was moved (feeds: RECURRENCE-ID)
    series_starts_at: Mapped[datetime | None]
    #: bumped with ``changed_at`` (``touch_shown``) when what a volunteer's calendar shows
    #: of this shift changes: its times, title or cancellation, or its event's title,
    #: place, description, category or status. Person feeds take SEQUENCE and
    #: LAST-MODIFIED from here, so editing one shift leaves the event's others alone.
    revision: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    changed_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())

    event: Mapped[Event] = relationship(back_populates="shifts", lazy="raise_on_sql")

    def touch_shown(self) -> None:
        self.revision += 1
        self.changed_at = utcnow()

    @property
    def free_seats(self) -> int:
        return max(self.capacity - self.filled, 0)
