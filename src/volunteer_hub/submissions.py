"""A form sent twice does its work once.

A double tap, or a second tap after a slow answer on a weak signal, sends the same form
twice. Where that would do the work twice (start a call-out that texts hundreds of
people, create an event with its shift codes), the page carries a one-time token
(``token``, the ``submission_once`` macro) and the view claims it (``repeat_of``) in the
transaction that does the work, then notes where the work led (``led_to``). A later send
of the same token finds the first one's row and is sent where the first went; the data
changes once. Concurrent sends are serialised by the token's primary key: the second
INSERT waits for the first transaction, then finds its row. A send that fails is rolled
back with its claim, so correcting the form and sending it again works.

A form without the token (a page cached from before it had one) is served as before.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from flask import g, request
from sqlalchemy import ForeignKey, String, delete, select, update
from sqlalchemy.orm import Mapped, mapped_column

from volunteer_hub.db import Base, dialect_insert, utcnow
from volunteer_hub.extensions import db

FIELD = "once"
#: how long a token is remembered; a page left open longer is sent as a new form
KEPT = timedelta(days=1)
_TOKEN_LENGTH = 22  # secrets.token_urlsafe(16)


class FormSubmission(Base):
    """A one-time form token that has been sent, and where its send led."""

    __tablename__ = "form_submission"

    token: Mapped[str] = mapped_column(String(_TOKEN_LENGTH), primary_key=True)
    #: who sent it: a token is only claimed for the person it was sent by
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: the page of what the first send made; NULL only inside that send's transaction
    location: Mapped[str | None] = mapped_column(String(300))


def token() -> str:
    """A new token for a form about to be shown (a Jinja global)."""
    return secrets.token_urlsafe(16)


def repeat_of(person_id: int, now: datetime | None = None) -> str | None:
    """Claim the token this request's form carries. None when this send is its first
    (the caller does the work, then ``led_to``); otherwise where the first send led,
    for the caller to redirect to, doing nothing."""
    sent = request.form.get(FIELD, "")
    if len(sent) != _TOKEN_LENGTH:
        return None
    now = now or utcnow()
    table = FormSubmission.__table__
    # The person's tokens older than a day are forgotten as they send a new one.
    db.session.execute(
        delete(table).where(table.c.person_id == person_id, table.c.created_at < now - KEPT)
    )
    # RETURNING, not rowcount: psycopg reports -1 for an INSERT … ON CONFLICT DO NOTHING.
    claimed = db.session.execute(
        dialect_insert(db.session, table)
        .values(token=sent, person_id=person_id, created_at=now)
        .on_conflict_do_nothing(index_elements=[table.c.token])
        .returning(table.c.token)
    ).first()
    if claimed is not None:
        g.claimed_submission = sent
        return None
    first = db.session.execute(
        select(table.c.person_id, table.c.location).where(table.c.token == sent)
    ).first()
    if first is None or first.person_id != person_id:
        return None  # forgotten meanwhile, or not theirs: a new form
    return first.location or request.path


def led_to(location: str) -> None:
    """Where the claimed send led (the page of what it made): a repeat goes there."""
    claimed = g.pop("claimed_submission", None)
    if claimed is not None:
        db.session.execute(
            update(FormSubmission.__table__)
            .where(FormSubmission.__table__.c.token == claimed)
            .values(location=location)
        )
