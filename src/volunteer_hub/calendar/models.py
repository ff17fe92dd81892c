from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, Column, ForeignKey, Index, LargeBinary, String, Table
from sqlalchemy.orm import Mapped, deferred, mapped_column, relationship

from volunteer_hub.db import Base, utcnow
from volunteer_hub.events.models import Category


class FeedScope(enum.StrEnum):
    PERSON = "person"  # the person's confirmed and waitlisted shifts
    TEAM = "team"  # the team's published events
    UNIT = "unit"  # every published event of every team under the unit


feed_category = Table(
    "feed_category",
    Base.metadata,
    Column("feed_id", ForeignKey("feed.id", ondelete="CASCADE"), primary_key=True),
    Column("category_id", ForeignKey("category.id", ondelete="CASCADE"), primary_key=True),
)


class Feed(Base):
    """A calendar subscription: what it shows, who made it, and its last built body.

    The secret in its URL is stored only as a SHA-256; a revoked feed answers 404.
    """

    __tablename__ = "feed"
    __table_args__ = (
        CheckConstraint(
            "(scope = 'person' AND person_id IS NOT NULL)"
            " OR (scope = 'team' AND team_id IS NOT NULL)"
            " OR (scope = 'unit' AND unit_id IS NOT NULL)",
            name="scope_target_set",
        ),
        Index("ix_feed_scope_team_id", "scope", "team_id"),
        Index("ix_feed_scope_unit_id", "scope", "unit_id"),
        Index("ix_feed_scope_person_id", "scope", "person_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[FeedScope] = mapped_column(String(10))
    #: exactly one of these three is set, the one the scope names
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("team.id", ondelete="CASCADE"))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id", ondelete="CASCADE"))
    #: hex SHA-256 of the URL token; the token itself is shown once and never stored
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]
    #: the stored iCalendar bytes, served as they are; NULL until first built (lz4 on
    #: PostgreSQL: migration a3c5e7f90b12)
    body: Mapped[bytes | None] = deferred(mapped_column(LargeBinary))
    #: strong validator of ``body`` (its SHA-256, quoted when sent)
    etag: Mapped[str | None] = mapped_column(String(64))
    #: when the body last changed (Last-Modified); a rebuild giving the same bytes keeps it
    body_changed_at: Mapped[datetime | None]
    built_at: Mapped[datetime | None]
    #: set when a change touched this feed and a rebuild is owed; cleared by the rebuild
    stale_since: Mapped[datetime | None]

    categories: Mapped[list[Category]] = relationship(
        secondary=feed_category, order_by=Category.id, lazy="selectin"
    )
