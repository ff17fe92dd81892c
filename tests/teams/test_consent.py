"""Joining a team is the person's decision (issue 11, defect 1).

A leader who types a phone that already belongs to someone neither enrols that person
nor learns their stored name: the person gets a text and a pending invitation, which
they accept or decline by SMS or on /me. The leader sees it as pending and may take it
back.
"""

from __future__ import annotations

from sqlalchemy import func, select

from tests.conftest import login
from tests.teams.conftest import join, masked, team_ids_of, texts_to
from tests.web.conftest import page, with_password
from volunteer_hub.extensions import db
from volunteer_hub.people.models import Person
from volunteer_hub.sms.services import opt_out
from volunteer_hub.teams.models import Membership, TeamInvitation


def invitations(person_id: int) -> list[tuple[int, str, str, str | None]]:
    db.session.expire_all()
    return list(
        db.session.execute(
            select(
                TeamInvitation.team_id,
                TeamInvitation.status,
                TeamInvitation.name_given,
                TeamInvitation.decided_via,
            )
            .where(TeamInvitation.person_id == person_id)
            .order_by(TeamInvitation.id)
        )
    )


def add(client, team, phone: str, name: str = "随便填", role: str = "member"):
    return client.post(
        f"/teams/{team.id}/members",
        data={"name": name, "phone": phone, "role": role, "skills": ""},
        follow_redirects=True,
    )


def test_another_teams_leader_is_invited_not_enrolled_and_their_name_not_shown(client, world):
    login(client, world.leader_a)
    response = add(client, world.team_a, world.leader_b.phone, name="老李")
    html = page(response)
    assert response.status_code == 200
    assert team_ids_of(world.leader_b.id) == {world.team_b.id}  # not in team A
    assert "李队长" not in html  # the stored name: no phone → name lookup
    assert masked(world.leader_b.phone) in html and "老李" in html
    assert "入队邀请" in html
    assert invitations(world.leader_b.id) == [(world.team_a.id, "pending", "老李", None)]
    # The leader sees it as pending, masked, under the name they typed.
    pending = html[html.index('id="invitations"') :]
    assert "待对方同意" in pending and "老李" in pending
    assert masked(world.leader_b.phone) in pending
    assert world.leader_b.phone.removeprefix("+86") not in pending
    # The person is asked, by a text naming the team and how to answer.
    (text,) = texts_to(world.leader_b.phone)
    assert world.team_a.name in text.body and "加入" in text.body


def test_adding_again_while_pending_sends_nothing_more(client, world):
    login(client, world.leader_a)
    add(client, world.team_a, world.member_b.phone, name="赵")
    add(client, world.team_a, world.member_b.phone, name="赵")
    assert len(invitations(world.member_b.id)) == 1
    assert len(texts_to(world.member_b.phone)) == 1
    assert team_ids_of(world.member_b.id) == {world.team_b.id}


def test_a_new_phone_is_still_added_at_once(client, world):
    login(client, world.leader_a)
    html = page(add(client, world.team_a, "139 8888 0001", name="黄继光"))
    assert "已添加队员：黄继光" in html
    person = db.session.scalar(select(Person).where(Person.phone == "+8613988880001"))
    assert team_ids_of(person.id) == {world.team_a.id}
    assert invitations(person.id) == []


def test_the_person_accepts_on_their_page_and_joins_as_a_member(client, world):
    login(client, world.leader_a)
    add(client, world.team_a, world.leader_b.phone, role="leader")
    client.post("/logout")
    login(client, world.leader_b)
    html = page(client.get("/me"))
    assert world.team_a.name in html[html.index('id="invitations"') :]
    (invitation_id,) = db.session.scalars(
        select(TeamInvitation.id).where(TeamInvitation.person_id == world.leader_b.id)
    )
    response = client.post(f"/me/invitations/{invitation_id}/accept", follow_redirects=True)
    assert f"您已加入 {world.team_a.name}" in page(response)
    assert team_ids_of(world.leader_b.id) == {world.team_a.id, world.team_b.id}
    role = db.session.scalar(
        select(Membership.role).where(
            Membership.person_id == world.leader_b.id, Membership.team_id == world.team_a.id
        )
    )
    assert role == "member"  # joining never makes anyone a leader
    assert invitations(world.leader_b.id) == [(world.team_a.id, "accepted", "随便填", "web")]
    # Idempotent: a second tap changes nothing and is no error.
    response = client.post(f"/me/invitations/{invitation_id}/accept", follow_redirects=True)
    assert response.status_code == 200
    count = db.session.scalar(
        select(func.count())
        .select_from(Membership)
        .where(Membership.person_id == world.leader_b.id)
    )
    assert count == 2
    assert 'id="invitations"' not in page(client.get("/me"))


def test_the_person_declines_on_their_page(client, world):
    with_password(world.member_b)
    login(client, world.leader_a)
    add(client, world.team_a, world.member_b.phone)
    client.post("/logout")
    login(client, world.member_b)
    (invitation_id,) = db.session.scalars(select(TeamInvitation.id))
    response = client.post(f"/me/invitations/{invitation_id}/decline", follow_redirects=True)
    assert "已谢绝" in page(response)
    assert team_ids_of(world.member_b.id) == {world.team_b.id}
    assert invitations(world.member_b.id)[0][1] == "declined"
    # Declined is decided: accepting afterwards does not enrol.
    response = client.post(f"/me/invitations/{invitation_id}/accept", follow_redirects=True)
    assert "已失效" in page(response)
    assert team_ids_of(world.member_b.id) == {world.team_b.id}


def test_nobody_answers_someone_elses_invitation(client, world, make):
    login(client, world.leader_a)
    add(client, world.team_a, world.member_b.phone)
    (invitation_id,) = db.session.scalars(select(TeamInvitation.id))
    client.post("/logout")
    login(client, make.person(password="correct-horse-42"))
    assert client.post(f"/me/invitations/{invitation_id}/accept").status_code == 404
    assert client.post(f"/me/invitations/{invitation_id}/decline").status_code == 404
    assert invitations(world.member_b.id)[0][1] == "pending"


def test_the_leader_withdraws_a_pending_invitation(client, world):
    with_password(world.member_b)
    login(client, world.leader_a)
    add(client, world.team_a, world.member_b.phone, name="赵卫")
    (invitation_id,) = db.session.scalars(select(TeamInvitation.id))
    # Another team's leader cannot withdraw it.
    client.post("/logout")
    login(client, world.leader_b)
    url = f"/teams/{world.team_a.id}/invitations/{invitation_id}/withdraw"
    assert client.post(url).status_code == 404
    client.post("/logout")
    login(client, world.leader_a)
    response = client.post(url, follow_redirects=True)
    assert "已撤回入队邀请" in page(response)
    assert 'id="invitations"' not in page(client.get(f"/teams/{world.team_a.id}"))
    assert invitations(world.member_b.id)[0][1] == "withdrawn"
    client.post("/logout")
    login(client, world.member_b)
    assert 'id="invitations"' not in page(client.get("/me"))
    client.post(f"/me/invitations/{invitation_id}/accept")
    assert team_ids_of(world.member_b.id) == {world.team_b.id}


def test_an_opted_out_person_gets_no_text_but_the_invitation_waits_on_their_page(client, world):
    with_password(world.member_b)
    opt_out(world.member_b.id, channel="sms")
    db.session.commit()
    login(client, world.leader_a)
    add(client, world.team_a, world.member_b.phone)
    assert texts_to(world.member_b.phone) == []
    assert invitations(world.member_b.id)[0][1] == "pending"
    client.post("/logout")
    login(client, world.member_b)
    assert world.team_a.name in page(client.get("/me"))


def test_an_existing_member_is_still_already_a_member(client, world):
    login(client, world.leader_a)
    response = add(client, world.team_a, world.member_a.phone, name="")
    assert "王建国 已是本队队员" in page(response)
    assert invitations(world.member_a.id) == []


def test_accept_by_sms(client, world, sms_webhook):
    login(client, world.leader_a)
    add(client, world.team_a, world.member_b.phone)
    reply = sms_webhook(client, world.member_b.phone, "加入")
    assert "您已加入" in reply and world.team_a.name in reply
    assert team_ids_of(world.member_b.id) == {world.team_a.id, world.team_b.id}
    assert invitations(world.member_b.id)[0][1:] == ("accepted", "随便填", "sms")
    assert "没有待处理的入队邀请" in sms_webhook(client, world.member_b.phone, "JR")


def test_decline_by_sms(client, world, sms_webhook):
    login(client, world.leader_a)
    add(client, world.team_a, world.member_b.phone)
    reply = sms_webhook(client, world.member_b.phone, "不加入")
    assert "已谢绝" in reply and world.team_a.name in reply
    assert team_ids_of(world.member_b.id) == {world.team_b.id}
    assert invitations(world.member_b.id)[0][1] == "declined"


def test_several_invitations_by_sms_are_told_apart_by_code(client, world, make, sms_webhook):
    third = make.team(world.street_x, name="凤凰街道护河队")
    make.leader(third, name="钱队长")
    join(third, world.leader_a, role="leader")
    login(client, world.leader_a)
    add(client, world.team_a, world.member_b.phone)
    add(client, third, world.member_b.phone)
    first_id, second_id = db.session.scalars(select(TeamInvitation.id).order_by(TeamInvitation.id))
    reply = sms_webhook(client, world.member_b.phone, "加入")
    assert f"加入{first_id:03d}" in reply and f"加入{second_id:03d}" in reply
    assert "凤凰街道护河队" in reply
    assert team_ids_of(world.member_b.id) == {world.team_b.id}  # nothing decided yet
    reply = sms_webhook(client, world.member_b.phone, f"加入 {second_id:03d}")
    assert "凤凰街道护河队" in reply and "您已加入" in reply
    assert team_ids_of(world.member_b.id) == {world.team_b.id, third.id}
    reply = sms_webhook(client, world.member_b.phone, "加入 999999")
    assert "没有编号为 999999 的入队邀请" in reply and "报名 999999" in reply
    assert "您已加入" in sms_webhook(client, world.member_b.phone, "加入")  # the one left
    assert team_ids_of(world.member_b.id) == {world.team_a.id, world.team_b.id, third.id}


def test_the_invitation_forms_need_the_csrf_token(client, world, csrf_on):
    from tests.conftest import token_from

    with_password(world.member_b)
    invitation = TeamInvitation(
        team_id=world.team_a.id, person_id=world.member_b.id, name_given="赵"
    )
    db.session.add(invitation)
    db.session.commit()
    html = page(client.get("/login"))
    client.post(
        "/login",
        data={
            "phone": world.member_b.phone,
            "password": "correct-horse-42",
            "csrf_token": token_from(html),
        },
    )
    home = page(client.get("/me"))
    assert client.post(f"/me/invitations/{invitation.id}/accept").status_code == 400
    assert team_ids_of(world.member_b.id) == {world.team_b.id}
    response = client.post(
        f"/me/invitations/{invitation.id}/accept", data={"csrf_token": token_from(home)}
    )
    assert response.status_code == 302
    assert team_ids_of(world.member_b.id) == {world.team_a.id, world.team_b.id}
