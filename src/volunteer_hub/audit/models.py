from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from volunteer_hub.db import Base, utcnow


class AuditEntry(Base):
    """One administrative change: units, teams, leaders, a person's sessions, an erasure.

    Details hold ids and the before/after of names the organisation owns (unit and team
    names); never a person's name or phone, so an erasure leaves nothing behind here.
    """

    __tablename__ = "audit_entry"
    __table_args__ = (Index("ix_audit_entry_subject", "subject_type", "subject_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: who did it; NULL once that account is gone, or for the command line
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="SET NULL"))
    #: "unit.moved", "team.archived", "person.erased" …
    action: Mapped[str] = mapped_column(String(40))
    #: "unit", "team" or "person"; with subject_id, what the change was made to
    subject_type: Mapped[str] = mapped_column(String(20))
    subject_id: Mapped[int] = mapped_column(Integer)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
