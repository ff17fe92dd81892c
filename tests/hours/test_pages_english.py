"""The hours pages in English: no Chinese left on them, errors included."""

from __future__ import annotations

from tests.conftest import login
from tests.hours.page_support import page, past_shift, record_of
from tests.hours.support import viewer
from tests.web.test_english import CJK, english
from volunteer_hub.events.models import Event
from volunteer_hub.extensions import db
from volunteer_hub.hours import attendance, records


def test_the_hours_pages_are_english_with_lang_en(client, make):
    team = make.team(make.unit("Ezhou"), name="River Guards")
    leader = make.leader(team, name="Zhang")
    shift, (wang, li) = past_shift(team)
    shift.title = ""  # the record's content is then the event title alone
    db.session.get(Event, shift.event_id).title = "Levee patrol"
    attendance.mark_attendance(shift.id, wang.id, "late", viewer=viewer(leader))
    attendance.mark_attendance(shift.id, li.id, "absent", viewer=viewer(leader))
    wang.name, li.name = "Wang", "Li"
    db.session.commit()
    record = record_of(wang.id)
    records.edit_record(record.id, viewer=viewer(leader), reason="late", over_shift_length=True)
    records.request_correction(record.id, wang.id, "I stayed until the end")
    db.session.commit()
    record_id = record.id
    urls = [
        f"/shifts/{shift.id}/attendance",
        f"/teams/{team.id}/hours/records",
        f"/teams/{team.id}/hours/records?status=pending",
        f"/teams/{team.id}/hours/records/new",
        f"/hours/records/{record_id}",
    ]
    client.get("/login?lang=en")
    login(client, leader)
    for url in urls:
        html = english(page(client.get(url)))
        assert CJK.findall(html) == [], (url, sorted(set(CJK.findall(html))))
    html = english(page(client.post(f"/hours/records/{record_id}/reject", data={"reason": ""})))
    assert "Say why the record is rejected" in html and CJK.findall(html) == []
    html = english(page(client.post(f"/teams/{team.id}/hours/records/new", data={})))
    assert "Choose a team member" in html and CJK.findall(html) == []
