from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from volunteer_hub.db import Base, TimestampMixin, partial_index, utcnow
from volunteer_hub.people.models import Person
from volunteer_hub.units.models import Unit


class MemberRole(enum.StrEnum):
    MEMBER = "member"
    LEADER = "leader"  # 队长 / 副队长


class Team(TimestampMixin, Base):
    """A 志愿服务队, registered under one unit."""

    __tablename__ = "team"

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id", ondelete="RESTRICT"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="", server_default="")
    #: set when the team stops: no new events or sign-ups, gone from pickers; history stays
    archived_at: Mapped[datetime | None]

    unit: Mapped[Unit] = relationship(lazy="joined", innerjoin=True)

    def __repr__(self) -> str:
        return f"<Team {self.id} {self.name}>"

    @property
    def is_archived(self) -> bool:
        return self.archived_at is not None


class Membership(Base):
    __tablename__ = "membership"
    __table_args__ = (UniqueConstraint("team_id", "person_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("team.id", ondelete="CASCADE"))
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), index=True)
    role: Mapped[MemberRole] = mapped_column(String(20), default=MemberRole.MEMBER)
    joined_at: Mapped[datetime] = mapped_column(default=utcnow)

    team: Mapped[Team] = relationship(lazy="raise_on_sql")
    person: Mapped[Person] = relationship(lazy="raise_on_sql")


class InvitationStatus(enum.StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    #: the leader took it back, or the person joined the team some other way
    WITHDRAWN = "withdrawn"


class TeamInvitation(Base):
    """A leader's request that someone already registered join their team.

    People are never enrolled in a team without their consent: when the phone a leader
    adds belongs to an existing person, the person is texted and becomes a member only
    when they accept (by SMS or on their page).
    """

    __tablename__ = "team_invitation"
    __table_args__ = (
        # One open invitation per person and team; decided ones are history.
        partial_index(
            "uq_team_invitation_pending",
            "team_id",
            "person_id",
            unique=True,
            where="status = 'pending'",
        ),
        Index("ix_team_invitation_person_id_status", "person_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("team.id", ondelete="CASCADE"))
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"))
    invited_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="SET NULL"))
    #: the name the leader typed; the person's stored name is never shown to the inviter
    name_given: Mapped[str] = mapped_column(String(50), default="", server_default="")
    status: Mapped[InvitationStatus] = mapped_column(
        String(20), default=InvitationStatus.PENDING, server_default="pending"
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime | None]
    #: how the person answered: "sms" or "web"
    decided_via: Mapped[str | None] = mapped_column(String(10))

    team: Mapped[Team] = relationship(lazy="raise_on_sql")
    person: Mapped[Person] = relationship(lazy="raise_on_sql", foreign_keys=[person_id])
