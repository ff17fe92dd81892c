"""Service records (志愿服务记录) and the hour roll-ups kept from them.

Time is counted in whole minutes (integers add up exactly on every database); hours are
minutes / 60 at the edge. The roll-ups are derived data: workers recompute a row from
the rows beneath it, never add to it (hours.tasks).
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from volunteer_hub.db import Base, TimestampMixin, partial_index, utcnow
from volunteer_hub.events.models import Category, Shift
from volunteer_hub.people.models import Person
from volunteer_hub.teams.models import Team


class RecordStatus(enum.StrEnum):
    """The review of a record: it waits for the leader, who verifies it or not; only
    verified hours count."""

    PENDING = "pending"
    VERIFIED = "verified"
    REJECTED = "rejected"


class Attendance(enum.StrEnum):
    """How the person turned up: by the check-in time (``attendance.LATE_AFTER``) or as marked."""

    PRESENT = "present"
    LATE = "late"
    ABSENT = "absent"  # a no-show: kept, never counted


_OPEN_CHECK_IN = "checked_in_at IS NOT NULL AND checked_out_at IS NULL AND NOT auto_closed"


class ServiceRecord(TimestampMixin, Base):
    """One person's service on one shift, or service the leader entered without a shift.

    The organizing team records it and answers for it (谁组织谁记录、谁记录谁证明).
    """

    __tablename__ = "service_record"
    __table_args__ = (
        # One record per person and shift; unplanned service (no shift) may repeat.
        UniqueConstraint("person_id", "shift_id"),
        CheckConstraint("minutes >= 0", name="minutes_not_negative"),
        CheckConstraint("ended_at >= started_at", name="ends_after_start"),
        Index("ix_service_record_team_id_status", "team_id", "status"),
        Index("ix_service_record_rollup_key", "person_id", "team_id", "category_id", "month"),
        # The sweep that closes forgotten check-outs looks only at open check-ins.
        partial_index("ix_service_record_open_check_in", "ended_at", where=_OPEN_CHECK_IN),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"))
    #: the organizing team, which verifies the record
    team_id: Mapped[int] = mapped_column(ForeignKey("team.id", ondelete="RESTRICT"))
    #: NULL for service the leader entered that was not planned as a shift
    shift_id: Mapped[int | None] = mapped_column(
        ForeignKey("shift.id", ondelete="RESTRICT"), index=True
    )
    #: the event's category, kept in step when the event moves to another one
    category_id: Mapped[int] = mapped_column(ForeignKey("category.id", ondelete="RESTRICT"))
    #: first day of the local (Asia/Shanghai) month the service started in: the roll-up key
    month: Mapped[date]
    #: 服务内容: the event's title, or what the leader wrote for unplanned service
    content: Mapped[str] = mapped_column(String(300))
    attendance: Mapped[Attendance] = mapped_column(String(20), default=Attendance.PRESENT)
    #: the span counted: planned times, or the times on site, as adjusted by the leader
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime]
    #: as texted or marked on site; the raw facts the span was made from
    checked_in_at: Mapped[datetime | None]
    checked_out_at: Mapped[datetime | None]
    #: time counted: the span rounded to the half hour, capped at the shift's length
    minutes: Mapped[int] = mapped_column(Integer, default=0)
    #: the leader allowed more than the shift's length
    over_shift_length: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    #: checked in but never out: closed at the shift's end, for the leader to look at
    auto_closed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    status: Mapped[RecordStatus] = mapped_column(String(20), default=RecordStatus.PENDING)
    #: who verified or rejected it, and when
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None]
    #: an open correction request from the volunteer, until the leader resolves it
    correction_note: Mapped[str | None] = mapped_column(Text)
    correction_requested_at: Mapped[datetime | None]

    person: Mapped[Person] = relationship(foreign_keys=[person_id], lazy="raise_on_sql")
    team: Mapped[Team] = relationship(lazy="raise_on_sql")
    shift: Mapped[Shift | None] = relationship(lazy="raise_on_sql")
    category: Mapped[Category] = relationship(lazy="raise_on_sql")

    @property
    def is_unplanned(self) -> bool:
        return self.shift_id is None

    @property
    def hours(self) -> float:
        return self.minutes / 60

    @property
    def counts(self) -> bool:
        """Whether the record is in the roll-ups (see ``counted_condition``)."""
        return self.status == RecordStatus.VERIFIED and self.attendance != Attendance.ABSENT

    @classmethod
    def counted_condition(cls):
        """SQL for "in the roll-ups": verified service that took place."""
        return (cls.status == RecordStatus.VERIFIED) & (cls.attendance != Attendance.ABSENT)


class RecordChange(Base):
    """The audit trail: every change of a service record, who made it and why.

    Kept when a record is deleted (``record_id`` becomes NULL; ``person_id`` and the
    snapshot in ``changes`` still say whose and what it was).
    """

    __tablename__ = "record_change"

    id: Mapped[int] = mapped_column(primary_key=True)
    record_id: Mapped[int | None] = mapped_column(
        ForeignKey("service_record.id", ondelete="SET NULL"), index=True
    )
    #: the volunteer the record belongs to
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    #: who made the change; NULL for the system (the sweep closing a forgotten check-out)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="SET NULL"))
    #: created, checked_in, checked_out, auto_closed, edited, verified, rejected,
    #: correction_requested, correction_resolved, deleted
    action: Mapped[str] = mapped_column(String(30))
    reason: Mapped[str] = mapped_column(Text, default="", server_default="")
    #: {field: [old, new]} in JSON-friendly values; the full record when it was deleted
    changes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: how the change came: web, sms, api, system
    channel: Mapped[str] = mapped_column(String(10), default="web", server_default="web")


class _RollupColumns:
    """What both roll-ups are keyed by below the person (team, category, month) and the
    figures they keep; a mixin, so the two tables cannot drift apart."""

    team_id: Mapped[int] = mapped_column(
        ForeignKey("team.id", ondelete="CASCADE"), primary_key=True
    )
    category_id: Mapped[int] = mapped_column(
        ForeignKey("category.id", ondelete="CASCADE"), primary_key=True
    )
    month: Mapped[date] = mapped_column(primary_key=True)
    minutes: Mapped[int] = mapped_column(Integer)
    services: Mapped[int] = mapped_column(Integer)


class HoursRollup(_RollupColumns, Base):
    """Verified service by (person, team, category, month): minutes and number of services.

    Recomputed from ``service_record`` for exactly the keys a change touches.
    """

    __tablename__ = "hours_rollup"
    __table_args__ = (
        Index("ix_hours_rollup_team_id_month", "team_id", "month"),
        Index("ix_hours_rollup_person_id_month", "person_id", "month"),
    )

    # First in the primary key: the mixin's columns follow the class's own.
    person_id: Mapped[int] = mapped_column(
        ForeignKey("person.id", ondelete="CASCADE"), primary_key=True
    )


class TeamHoursRollup(_RollupColumns, Base):
    """The same by (team, category, month), for coordinators reading hundreds of teams;
    recomputed from ``hours_rollup`` after the person rows beneath it."""

    __tablename__ = "team_hours_rollup"
    __table_args__ = (
        # The coordinator's report sums a subtree's teams over a period: on PostgreSQL
        # an index-only scan, the figures carried in the index.
        Index(
            "ix_team_hours_rollup_team_id_month",
            "team_id",
            "month",
            postgresql_include=["category_id", "minutes", "services", "volunteers"],
        ),
    )

    #: distinct volunteers with verified service in the key
    volunteers: Mapped[int] = mapped_column(Integer, sort_order=1)  # after the mixin's
