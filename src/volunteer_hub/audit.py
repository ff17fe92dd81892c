"""Who changed what, when: one row per administrative change (staff accounts first).

Service records keep their own, richer trail (hours/models.py ``RecordChange``) and a
roster import is its own record (roster/models.py); this table is for the rest of the
organisation's administration, where "who did it" is the whole question: an account
created, deactivated, its password reset.

``record`` adds the row to the caller's transaction, so an entry exists exactly when
the change it describes was committed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, select
from sqlalchemy.orm import Mapped, mapped_column

from volunteer_hub.db import Base, utcnow
from volunteer_hub.extensions import db
from volunteer_hub.people.models import Person


class AuditEntry(Base):
    __tablename__ = "audit_entry"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: what was done, a stable word: "account.created", "account.deactivated" ...
    action: Mapped[str] = mapped_column(String(50))
    #: what it was done to, as "<table>:<id>" (e.g. "person:12"), for finding its history
    subject: Mapped[str] = mapped_column(String(100), index=True)
    #: the particulars, in JSON-friendly values (never a password or a code)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: who made the change; NULL for the command line, or once that account is gone
    actor_id: Mapped[int | None] = mapped_column(
        ForeignKey("person.id", ondelete="SET NULL"), index=True
    )


def subject_of(thing: Base | str) -> str:
    """``"person:12"`` for a row, or the string as given."""
    if isinstance(thing, str):
        return thing
    return f"{thing.__tablename__}:{thing.id}"


def record(actor_id: int | None, action: str, subject: Base | str, **details: Any) -> AuditEntry:
    """Add an entry to the current transaction; the caller's commit keeps it."""
    entry = AuditEntry(
        actor_id=actor_id, action=action, subject=subject_of(subject), details=details
    )
    db.session.add(entry)
    return entry


def history(subject: Base | str) -> list[AuditEntry]:
    """The entries about ``subject``, oldest first."""
    return list(
        db.session.scalars(
            select(AuditEntry)
            .where(AuditEntry.subject == subject_of(subject))
            .order_by(AuditEntry.id)
        )
    )


def actor_names(entries: list[AuditEntry]) -> dict[int, str]:
    """The names of the people who made ``entries``, by id (one query)."""
    ids = {entry.actor_id for entry in entries if entry.actor_id is not None}
    if not ids:
        return {}
    return dict(db.session.execute(select(Person.id, Person.name).where(Person.id.in_(ids))).all())
