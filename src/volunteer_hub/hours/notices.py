"""Texts about service records: the volunteer hears how their correction request ended.

A handler of ``CorrectionResolved`` (subscribed in ``volunteer_hub.handlers``): it runs
inside the resolving transaction and writes the outbox row, so the text exists exactly
when the resolution does, once per request (the dedupe key carries the request's time).
"""

from __future__ import annotations

from volunteer_hub.domain_events import CorrectionResolved
from volunteer_hub.extensions import db
from volunteer_hub.hours.models import ServiceRecord
from volunteer_hub.i18n import to_local
from volunteer_hub.people.models import Person
from volunteer_hub.sms.models import SmsKind
from volunteer_hub.sms.services import queue_text
from volunteer_hub.sms.templates import render


def correction_resolved(resolved: CorrectionResolved) -> None:
    record = db.session.get(ServiceRecord, resolved.record_id)
    person = db.session.get(Person, record.person_id)
    day = to_local(record.started_at)
    queue_text(
        to_phone=person.phone,
        text=render(
            "correction_resolved",
            title=record.content,
            day=f"{day.month}月{day.day}日",
            reason=resolved.note,
        ),
        kind=SmsKind.NOTICE,
        dedupe_key=f"notice:correction:{record.id}:{resolved.requested_at.isoformat()}",
        person_id=person.id,
    )
