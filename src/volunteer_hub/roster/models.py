"""A roster import: one uploaded file, its preview, the job that applies it, and its audit.

The row is the audit record (who imported which file, when, with what result) and the
job's state (the page's progress bar reads ``done_rows`` / ``total_rows``). The uploaded
bytes are kept only until the import is applied: they are a list of people's phones.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from volunteer_hub.db import Base, utcnow


class ImportStatus(enum.StrEnum):
    PREVIEWED = "previewed"
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class RosterImport(Base):
    __tablename__ = "roster_import"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: who uploaded it; NULL for the command line (which acts as an admin)
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("person.id", ondelete="SET NULL"), index=True
    )
    #: "web" or "cli"
    via: Mapped[str] = mapped_column(String(10))
    #: the one team every row goes into (a leader's import, or ``--team``); NULL: by column
    team_id: Mapped[int | None] = mapped_column(ForeignKey("team.id", ondelete="SET NULL"))
    file_name: Mapped[str] = mapped_column(String(255))
    file_sha256: Mapped[str] = mapped_column(String(64))
    file_size: Mapped[int] = mapped_column(Integer)
    #: the uploaded bytes, until applied (the job parses them again); deferred, as is
    #: the preview: loaded only where used
    content: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    status: Mapped[ImportStatus] = mapped_column(String(20), default=ImportStatus.PREVIEWED)
    #: every row's outcome as the preview saw it (phones masked but in error rows)
    preview: Mapped[dict] = mapped_column(JSON, deferred=True)
    total_rows: Mapped[int] = mapped_column(Integer, default=0)
    done_rows: Mapped[int] = mapped_column(Integer, default=0)
    #: what applying did, by row
    new_count: Mapped[int] = mapped_column(Integer, default=0)
    existing_count: Mapped[int] = mapped_column(Integer, default=0)
    invited_count: Mapped[int] = mapped_column(Integer, default=0)
    error_count: Mapped[int] = mapped_column(Integer, default=0)
    #: rows not applied because another row of their team has an error
    held_back_count: Mapped[int] = mapped_column(Integer, default=0)
    teams_created: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    #: why the job failed, for the page (no personal data)
    failure: Mapped[str | None] = mapped_column(String(255))

    def counts(self) -> dict[str, int]:
        """What the CLI prints and the page shows (CONTRACTS.md, Commands)."""
        return {
            "new": self.new_count,
            "existing": self.existing_count,
            "invited": self.invited_count,
            "errors": self.error_count,
            "teams_created": self.teams_created,
            "held_back": self.held_back_count,
        }
