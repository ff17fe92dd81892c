from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from volunteer_hub.db import Base, TimestampMixin, utcnow
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

    unit: Mapped[Unit] = relationship(lazy="joined", innerjoin=True)

    def __repr__(self) -> str:
        return f"<Team {self.id} {self.name}>"


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
