"""Dirty marks of the hour roll-ups: a row per roll-up key whose figures are owed a
recompute, written in the transaction that changed a counted record.

The message sent after commit (``hours.tasks.recompute_rollup``) is only the fast path;
the mark is what makes the work durable. ``recompute_key`` clears it, and only if it
was not marked again meanwhile (``version`` unchanged): a change that commits while a
recompute runs keeps its mark and gets its own recompute. The scheduler's tick sends the
recompute again for marks older than ``OVERDUE_AFTER`` (a lost message, a dead worker).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import Integer, func, select
from sqlalchemy.orm import Mapped, mapped_column

from volunteer_hub.db import Base, dialect_insert, utcnow
from volunteer_hub.extensions import db

#: a mark this old has lost its message: the tick sends the recompute again
OVERDUE_AFTER = timedelta(minutes=1)
#: marks handed back to the queue per tick at most (the next tick takes the rest)
REQUEUE_BATCH = 1_000

RollupKey = tuple[int, int, int, date]  # person, team, category, month


class RollupMark(Base):
    """A roll-up key owed a recompute. No foreign keys: a mark outlives nothing it names
    for long, and a key whose rows are gone recomputes to no rows."""

    __tablename__ = "rollup_mark"

    person_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    team_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    category_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    month: Mapped[date] = mapped_column(primary_key=True)
    #: when the key was first marked since its last recompute (the tick's clock)
    marked_at: Mapped[datetime] = mapped_column(index=True)
    #: bumped by every mark: a recompute clears the mark only if it is unchanged
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")


def mark(key: RollupKey) -> None:
    """Mark the key owed a recompute (one upsert), in the caller's transaction."""
    person_id, team_id, category_id, month = key
    insert = dialect_insert(db.session, RollupMark).values(
        person_id=person_id,
        team_id=team_id,
        category_id=category_id,
        month=month,
        marked_at=utcnow(),
        version=1,
    )
    db.session.execute(
        insert.on_conflict_do_update(
            index_elements=["person_id", "team_id", "category_id", "month"],
            set_={"version": RollupMark.version + 1},
        )
    )


def version_of(key: RollupKey) -> int | None:
    """The mark's version, read before a recompute reads the records; None if unmarked."""
    return db.session.scalar(select(RollupMark.version).where(*_is(key)))


def clear(key: RollupKey, version: int | None) -> None:
    """Remove the mark a recompute has paid, unless the key was marked again since its
    version was read (that change may not be in the figures just written)."""
    if version is None:
        return
    db.session.execute(
        RollupMark.__table__.delete().where(*_is(key), RollupMark.version == version)
    )


def overdue(now: datetime, limit: int = REQUEUE_BATCH) -> list[RollupKey]:
    """Keys marked longer than OVERDUE_AFTER ago, oldest first."""
    rows = db.session.execute(
        select(RollupMark.person_id, RollupMark.team_id, RollupMark.category_id, RollupMark.month)
        .where(RollupMark.marked_at < now - OVERDUE_AFTER)
        .order_by(RollupMark.marked_at)
        .limit(limit)
    )
    return [tuple(row) for row in rows]


def waiting() -> tuple[int, datetime | None]:
    """How many keys are owed a recompute, and since when the oldest (for /ops)."""
    count, oldest = db.session.execute(select(func.count(), func.min(RollupMark.marked_at))).one()
    return count, oldest


def _is(key: RollupKey):
    person_id, team_id, category_id, month = key
    return (
        RollupMark.person_id == person_id,
        RollupMark.team_id == team_id,
        RollupMark.category_id == category_id,
        RollupMark.month == month,
    )
