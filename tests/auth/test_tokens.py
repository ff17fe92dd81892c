from datetime import timedelta

from volunteer_hub.auth.models import ApiToken
from volunteer_hub.auth.permissions import viewer_for
from volunteer_hub.auth.services import (
    TOKEN_TOUCH_INTERVAL,
    TokenUse,
    token_and_viewer,
    token_touch_due,
)
from volunteer_hub.db import utcnow
from volunteer_hub.extensions import db
from volunteer_hub.teams.models import MemberRole, Membership


def test_token_gives_the_same_viewer_as_the_person(make):
    ezhou = make.unit("鄂州市")
    first, second, only_member = make.team(ezhou), make.team(ezhou), make.team(ezhou)
    leader = make.leader(first)
    db.session.add_all(
        [
            Membership(team_id=second.id, person_id=leader.id, role=MemberRole.LEADER),
            Membership(team_id=only_member.id, person_id=leader.id, role=MemberRole.MEMBER),
        ]
    )
    leader.coordinator_unit_id = ezhou.id
    db.session.commit()
    plain = make.api_token(leader)

    token, viewer = token_and_viewer(plain)

    assert token.id is not None
    assert viewer == viewer_for(leader)
    assert viewer.led_team_ids == {first.id, second.id}
    assert viewer.coordinator_path == ezhou.path


def test_revoked_unknown_and_inactive_tokens_give_nothing(make):
    person = make.admin()
    plain = make.api_token(person)
    assert token_and_viewer(plain)[1].is_admin
    assert token_and_viewer("vh_unknown") is None
    assert token_and_viewer("") is None
    person.is_active = False
    db.session.commit()
    assert token_and_viewer(plain) is None
    person.is_active = True
    token, _viewer = token_and_viewer(plain)
    db.session.get(ApiToken, token.id).revoked_at = utcnow()
    db.session.commit()
    assert token_and_viewer(plain) is None


def test_touch_is_due_once_per_interval(make):
    token, _viewer = token_and_viewer(make.api_token(make.admin()))
    now = utcnow()
    assert token.last_used_at is None and token_touch_due(token, now)
    recent = TokenUse(token.id, now - TOKEN_TOUCH_INTERVAL + timedelta(seconds=1))
    assert not token_touch_due(recent, now)
    assert token_touch_due(TokenUse(token.id, now - TOKEN_TOUCH_INTERVAL), now)
