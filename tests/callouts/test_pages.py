"""The call-out pages: start with a preview then confirm, the live board and its JSON
(ETag), and the board's buttons: stop (with the stand-down), the next ring now, a word
to the seated people."""

import re

import pytest
from sqlalchemy import select

from tests.callouts.helpers import texts_to
from tests.conftest import login
from volunteer_hub.callouts import answers
from volunteer_hub.callouts.models import Callout, CalloutRing, CalloutStatus
from volunteer_hub.extensions import db
from volunteer_hub.people.skills import set_skills
from volunteer_hub.signups import services as signups


def _form(scene, **overrides):
    form = {
        "shifts": [str(scene["shift"].id)],
        "audience": [f"team:{scene['team'].id}"],
        "rings-0-target": "",
        "rings-0-after_minutes": "",
        "message": "江堤出现管涌，请速来",
        "urgent": "y",
        "action": "preview",
    }
    form.update(overrides)
    return form


def _preview_then_confirm(client, scene, **overrides):
    url = f"/events/{scene['event'].id}/callouts"
    page = client.post(url, data=_form(scene, **overrides))
    assert page.status_code == 200, page.get_data(as_text=True)[:2000]
    previewed = re.search(r'name="previewed" type="hidden" value="([^"]+)"', page.get_data(True))
    previewed = previewed or re.search(
        r'id="previewed" name="previewed" type="hidden" value="([^"]+)"', page.get_data(True)
    )
    assert previewed, "the preview carries the fingerprint of what was previewed"
    return page, client.post(
        url, data=_form(scene, action="confirm", previewed=previewed.group(1), **overrides)
    )


def test_preview_counts_and_reasons_then_confirm_sends(client, scene):
    opted_out = scene["members"][0]
    opted_out.sms_opted_out_at = db.func.now()
    db.session.commit()
    login(client, scene["leader"])

    page = client.post(f"/events/{scene['event'].id}/callouts", data=_form(scene))
    assert db.session.scalar(select(Callout.id)) is None  # a preview writes nothing
    assert texts_to() == []
    page, confirmed = _preview_then_confirm(client, scene)

    html = page.get_data(as_text=True)
    assert "第一圈将发给 3 人" in html  # four members, one opted out; the leader is the caller
    assert "已退订短信：<strong>1</strong>" in html
    assert "紧急召集：江堤出现管涌，请速来。" in html  # the text as it will go out
    assert "能来请回复1（或“1 编号”）" in html
    assert confirmed.status_code == 302
    callout = db.session.scalar(select(Callout))
    assert confirmed.headers["Location"].endswith(f"/callouts/{callout.id}")
    assert len(texts_to()) == 3


def test_a_confirm_of_other_inputs_is_previewed_again(client, scene):
    login(client, scene["leader"])
    url = f"/events/{scene['event'].id}/callouts"
    page = client.post(url, data=_form(scene))
    fingerprint = re.search(r'name="previewed" type="hidden" value="([^"]+)"', page.get_data(True))

    changed = client.post(
        url,
        data=_form(scene, action="confirm", previewed=fingerprint.group(1), message="改了附言"),
    )

    assert changed.status_code == 200
    assert "内容已改动" in changed.get_data(as_text=True)
    assert db.session.scalar(select(Callout.id)) is None


@pytest.mark.parametrize(
    ("message", "says"),
    [
        ("请" * 36, "附言最多 35 个字"),
        ("有事打 13800138000", "不能有电话号码"),
        ("详见 www.example.cn", "不能有网址"),
        ("请访问 bit.ly/xx", "不能有网址"),
        ("缴费 evil。top", "不能有网址"),
        ("【紧急】速来", "不能有这些符号"),
    ],
)
def test_a_message_the_sms_template_cannot_carry_is_a_form_error(client, scene, message, says):
    login(client, scene["leader"])

    page = client.post(f"/events/{scene['event'].id}/callouts", data=_form(scene, message=message))

    assert page.status_code == 400
    assert says in page.get_data(as_text=True)
    assert db.session.scalar(select(Callout.id)) is None


def test_form_errors_for_a_missing_audience_and_a_ring_without_its_wait(client, scene):
    login(client, scene["leader"])

    page = client.post(
        f"/events/{scene['event'].id}/callouts",
        data=_form(scene, audience=[], **{"rings-0-target": f"team:{scene['team'].id}"}),
    )

    html = page.get_data(as_text=True)
    assert page.status_code == 400
    assert "请选择服务队" in html and "请填写这一圈在开始后几分钟发出" in html


def test_a_leader_cannot_call_out_another_team(client, scene, make):
    login(client, scene["leader"])

    page = client.post(
        f"/events/{scene['event'].id}/callouts",
        data=_form(scene, audience=[f"team:{scene['other'].id}"]),
    )

    assert page.status_code == 400
    assert "服务队不存在" in page.get_data(as_text=True)
    other_event = make.event(scene["other"])
    db.session.commit()
    assert client.get(f"/events/{other_event.id}/callouts").status_code == 404


def test_a_coordinator_calls_out_the_unit_with_a_skill_and_a_later_ring(client, scene):
    coordinator = scene["coordinator"]
    boat = scene["outsiders"][0]
    set_skills(boat.id, ["冲锋舟驾驶"])
    db.session.commit()
    login(client, coordinator)

    page, confirmed = _preview_then_confirm(
        client,
        scene,
        audience=[f"unit:{scene['unit'].id}"],
        skills=["冲锋舟驾驶"],
        **{"rings-0-target": f"team:{scene['team'].id}", "rings-0-after_minutes": "15"},
    )

    assert "第一圈将发给 1 人" in page.get_data(as_text=True)
    assert "不具备所需技能：<strong>7</strong>" in page.get_data(as_text=True)
    assert confirmed.status_code == 302
    assert [r.person_id for r in texts_to()] == [boat.id]
    ring = db.session.scalar(select(CalloutRing).where(CalloutRing.number == 1))
    assert ring.after_minutes == 15 and ring.fired_at is None


def _started(client, scene):
    """Ring 0: the team; ring 1, after 30 minutes: the whole unit (a coordinator's)."""
    login(client, scene["coordinator"])
    _page, confirmed = _preview_then_confirm(
        client,
        scene,
        **{"rings-0-target": f"unit:{scene['unit'].id}", "rings-0-after_minutes": "30"},
    )
    assert confirmed.status_code == 302, confirmed.get_data(as_text=True)[:1000]
    return db.session.scalar(select(Callout))


def test_the_board_shows_answers_and_its_json_says_304_until_something_changes(client, scene):
    callout = _started(client, scene)
    first, second, third, fourth = scene["members"]

    board = client.get(f"/callouts/{callout.id}")
    assert board.status_code == 200
    assert "已留位 0 / 2" in board.get_data(as_text=True)
    news = client.get(f"/callouts/{callout.id}/board.json")
    etag = news.headers["ETag"]
    assert (
        client.get(
            f"/callouts/{callout.id}/board.json", headers={"If-None-Match": etag}
        ).status_code
        == 304
    )
    weak = client.get(f"/callouts/{callout.id}/board.json", headers={"If-None-Match": f"W/{etag}"})
    assert weak.status_code == 304

    for person, accept in ((first, True), (second, False), (third, True), (fourth, True)):
        answers.answer(person.id, None, accept)
        db.session.commit()

    changed = client.get(f"/callouts/{callout.id}/board.json", headers={"If-None-Match": etag})
    assert changed.status_code == 200
    body = changed.get_json()
    assert (body["filled"], body["seats"], body["status"]) == (2, 2, "full")
    html = body["html"]
    assert "已留位 2 / 2" in html and "候补第 1 位" in html
    assert html.index(first.name) < html.index(third.name)  # in the order they answered
    declined = html[html.index('id="declined-title"') :]
    assert second.name in declined[: declined.index("</section>")]


def test_stop_sends_the_stand_down_to_seated_and_waitlisted_once(client, scene):
    callout = _started(client, scene)
    first, second, third, _fourth = scene["members"]
    for person in (first, second, third):
        answers.answer(person.id, None, True)
    db.session.commit()

    stopped = client.post(f"/callouts/{callout.id}/stop")
    again = client.post(f"/callouts/{callout.id}/stop", follow_redirects=True)

    assert stopped.status_code == 302
    assert "该召集已结束" in again.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Callout, callout.id).status == CalloutStatus.STOPPED
    stand_down = texts_to(like=f"callout:{callout.id}:stand-down:%")
    assert sorted(t.person_id for t in stand_down) == sorted([first.id, second.id, third.id])
    assert "仍在候补名单上" in next(t.body for t in stand_down if t.person_id == third.id)


def test_the_next_ring_now_fires_once(client, scene):
    callout = _started(client, scene)

    fired = client.post(f"/callouts/{callout.id}/next-ring", follow_redirects=True)
    twice = client.post(f"/callouts/{callout.id}/next-ring", follow_redirects=True)

    assert "第 2 圈已发出：3 人" in fired.get_data(as_text=True)
    assert "没有待发的下一圈了" in twice.get_data(as_text=True)
    everyone = [scene["leader"], *scene["members"], *scene["outsiders"]]
    assert sorted(t.person_id for t in texts_to()) == sorted(p.id for p in everyone)


def test_a_note_goes_to_the_seated_people_only(client, scene):
    callout = _started(client, scene)
    seated, waiting = scene["members"][0], scene["members"][1]
    signups.sign_up(scene["shift"].id, scene["outsiders"][0].id, "leader", overseer=True)
    answers.answer(seated.id, None, True)
    answers.answer(waiting.id, None, True)
    db.session.commit()

    refused = client.post(
        f"/callouts/{callout.id}/note", data={"message": "电话 13800138000"}, follow_redirects=True
    )
    sent = client.post(
        f"/callouts/{callout.id}/note",
        data={"message": "7点前到三阳路码头集合"},
        follow_redirects=True,
    )

    assert "不能有电话号码" in refused.get_data(as_text=True)
    assert "已发给 2 位已留位的队员" in sent.get_data(as_text=True)
    notes = texts_to(like=f"callout:{callout.id}:note:%")
    assert sorted(t.person_id for t in notes) == sorted([seated.id, scene["outsiders"][0].id])
    assert "7点前到三阳路码头集合。到场回复“签到 " in notes[0].body


def test_the_board_is_for_the_staff_of_the_event_only(app, client, scene, make):
    callout = _started(client, scene)
    client = app.test_client()
    login(client, make.leader(scene["other"]))

    for url in (f"/callouts/{callout.id}", f"/callouts/{callout.id}/board.json"):
        assert client.get(url).status_code == 404
    assert client.post(f"/callouts/{callout.id}/stop").status_code == 404
    db.session.expire_all()
    assert db.session.get(Callout, callout.id).status == CalloutStatus.ACTIVE


def test_the_event_page_links_to_the_callout_page(client, scene):
    login(client, scene["leader"])
    page = client.get(f"/events/{scene['event'].id}").get_data(as_text=True)
    assert f'href="/events/{scene["event"].id}/callouts"' in page


def _polled(client, count_queries, callout_id: int) -> int:
    db.session.remove()  # an empty identity map, as a fresh request has
    with count_queries() as counter:
        assert client.get(f"/callouts/{callout_id}/board.json").status_code == 200
    return counter.count


def test_a_poll_costs_the_same_queries_however_many_answered(client, scene, make, count_queries):
    more = [make.member(scene["team"]).id for _ in range(20)]
    callout_id = _started(client, scene).id
    first, second, *others = [p.id for p in scene["members"]]
    answers.answer(first, None, True)
    answers.answer(second, None, True)  # full: the same status for both polls
    db.session.commit()
    few = _polled(client, count_queries, callout_id)

    for person_id in [*others, *more]:
        answers.answer(person_id, None, person_id % 3 != 0)  # yes, or a decline
    db.session.commit()
    many = _polled(client, count_queries, callout_id)

    assert few == many
    assert few <= 16
