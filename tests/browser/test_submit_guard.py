"""A second tap on a slow phone must not send a form twice: once a POST form is sent, its
buttons are disabled (app.js), the pressed button's name and value still reach the
server, and a form the person chose not to send (a data-confirm dismissed) stays usable."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.browser.conftest import HOUR, PHONE, local_midnight, release_database, staff_login
from volunteer_hub.extensions import db
from volunteer_hub.hours.models import ServiceRecord
from volunteer_hub.signups import services as signups
from volunteer_hub.signups.models import SignupSource

pytestmark = pytest.mark.slow

try:
    from playwright.sync_api import expect
except ImportError:  # the fixtures skip with the reason
    expect = None

#: two taps on 到岗 in one go, as a shaky finger on a slow phone does; counts the forms
#: the browser sent (a submit event reaches the window only for a form that goes)
DOUBLE_TAP = """() => {
  let sent = 0;
  window.addEventListener('submit', () => { sent += 1; });
  const button = document.querySelector('button[name=attendance][value=present]');
  button.click();
  button.click();
  const copy = button.form.querySelector('input[type=hidden][name=attendance]');
  return {sent, disabled: button.disabled, copied: copy && copy.value};
}"""


def test_a_double_tap_sends_the_form_once_with_the_pressed_button(journey, make):
    team = make.team(name="莲花山社区戎马志愿服务队")
    leader = make.leader(team, name="张队长")
    volunteer = make.member(team, name="王建国")
    day = local_midnight(days_ahead=-1)
    event = make.event(
        team,
        title="江堤防汛值守",
        starts_at=day + 8 * HOUR,
        shifts=[{"starts_at": day + 8 * HOUR, "ends_at": day + 12 * HOUR, "capacity": 5}],
    )
    shift = make.shifts_of(event)[0]
    signups.sign_up(shift.id, volunteer.id, SignupSource.SMS, now=day - 48 * HOUR)
    db.session.commit()
    ids = {"shift": shift.id, "volunteer": volunteer.id}
    phone = leader.phone
    release_database()

    leader_phone = journey("leader", PHONE)
    page = leader_phone.page
    staff_login(page, phone, make.PASSWORD)

    # A confirm dialog dismissed: nothing is sent, and the buttons still work.
    page.goto(f"/shifts/{ids['shift']}/attendance")
    page.evaluate(
        "() => document.querySelector('button[name=attendance]').form"
        ".setAttribute('data-confirm', '确定吗？')"
    )
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.get_by_role("button", name="到岗").click()
    expect(page.get_by_role("button", name="到岗")).to_be_enabled()

    page.goto(f"/shifts/{ids['shift']}/attendance")
    with page.expect_navigation():
        tapped = page.evaluate(DOUBLE_TAP)
    assert tapped == {"sent": 1, "disabled": True, "copied": "present"}, tapped
    leader_phone.shot("after-double-tap")
    record = db.session.scalar(
        select(ServiceRecord).where(
            ServiceRecord.shift_id == ids["shift"], ServiceRecord.person_id == ids["volunteer"]
        )
    )
    assert record is not None and record.attendance == "present"
    db.session.commit()

    # Back to the page: its buttons work again.
    page.go_back()
    expect(page.get_by_role("button", name="到岗")).to_be_enabled()
