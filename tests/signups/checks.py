"""Assertions shared by the capacity tests."""

from sqlalchemy import func, select

from volunteer_hub.events.models import Shift
from volunteer_hub.extensions import db
from volunteer_hub.signups import services
from volunteer_hub.signups.models import Signup


def assert_seats_consistent(shift_id: int, confirmed: int, waitlisted: int) -> None:
    """``filled`` equals the confirmed rows, and the waitlist is one order: 1..n, once each."""
    shift = db.session.get(Shift, shift_id)
    confirmed_rows = db.session.scalar(
        select(func.count()).where(Signup.shift_id == shift_id, Signup.status == "confirmed")
    )
    assert shift.filled == confirmed_rows == confirmed
    waiting = db.session.scalars(
        select(Signup).where(Signup.shift_id == shift_id, Signup.status == "waitlisted")
    ).all()
    assert sorted(services.waitlist_position(s) for s in waiting) == list(range(1, waitlisted + 1))
