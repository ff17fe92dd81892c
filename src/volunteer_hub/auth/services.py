"""Staff accounts, passwords and API tokens."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import bindparam, func, literal_column, or_, select, update
from werkzeug.security import check_password_hash, generate_password_hash

from volunteer_hub.audit import services as audit
from volunteer_hub.auth.models import ApiToken
from volunteer_hub.auth.permissions import Viewer
from volunteer_hub.calendar.services import revoke_feeds_out_of_reach
from volunteer_hub.db import utcnow
from volunteer_hub.errors import DomainError, ValidationFailed
from volunteer_hub.extensions import db
from volunteer_hub.people.models import Person
from volunteer_hub.people.services import InvalidPhone, add_person, normalize_phone
from volunteer_hub.teams.models import MemberRole, Membership, Team
from volunteer_hub.units.models import Unit

MIN_PASSWORD_LENGTH = 8
TOKEN_PREFIX = "vh_"
#: ``ApiToken.last_used_at`` is written at most this often per token
TOKEN_TOUCH_INTERVAL = timedelta(minutes=1)
# Compared against when the phone is unknown, so both paths cost one scrypt.
_DUMMY_HASH = generate_password_hash("not-a-real-password")
_TEMPORARY_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"
#: a session's user id (see ``Person.get_id``): scope, person id, session version
_MAX_ID = 2**31 - 1
_SESSION_ID = re.compile(r"(?P<scope>v?)(?P<id>[0-9]{1,10}):(?P<version>[0-9]{1,10})")


def load_user(user_id: str) -> Person | None:
    """The session's person, from the id ``Person.get_id`` gave at login.

    "<id>:<version>" is a password login, "v<id>:<version>" a login by SMS code (a
    volunteer's powers only). The version must still be the person's: ``end_all_sessions``
    moves it on, and every session and remember cookie carrying the old one is dead. An id
    without a version (a cookie from before versions) is refused the same way.
    """
    match = _SESSION_ID.fullmatch(user_id or "")
    if match is None or int(match["id"]) > _MAX_ID:
        return None
    person = db.session.get(Person, int(match["id"]))
    if person is None or not person.is_active:
        return None
    if person.session_version != int(match["version"]):
        return None
    if match["scope"]:
        person.login_scope = "volunteer"
    return person


def end_all_sessions(person: Person) -> int:
    """Invalidate every session and remember cookie of this person, here and on every
    other device; returns the new version. The caller commits.

    One UPDATE in the database, so two of these at once both count and a concurrent
    login cannot slip in with a version that is about to die unnoticed.
    """
    db.session.execute(
        update(Person)
        .where(Person.id == person.id)
        .values(session_version=Person.session_version + 1)
        .execution_options(synchronize_session=False)
    )
    db.session.refresh(person, ["session_version"])
    return person.session_version


def change_password(person: Person, current: str, new: str) -> None:
    """Set a new password after checking the current one, and end every session of the
    person (the caller logs this one in again). The caller commits."""
    if not person.password_hash or not check_password_hash(person.password_hash, current or ""):
        raise ValidationFailed({"current_password": _("当前密码不正确")})
    set_password(person, new, field="new_password")
    end_all_sessions(person)


def choose_own_password(person: Person, new: str) -> None:
    """The person's own password in place of one someone else set (an account created or
    reset for them), and every other session ends (the caller logs this one in again).
    The caller commits."""
    if person.password_hash and check_password_hash(person.password_hash, new or ""):
        raise ValidationFailed({"new_password": _("新密码不能与临时密码相同")})
    set_password(person, new, field="new_password")
    end_all_sessions(person)
    audit.record(person.id, "account.password_chosen", "person", person.id)


def deactivate(person: Person) -> None:
    """Switch the account off: no login of any kind, every open session ends now, and
    every API token and calendar feed the person made is revoked, for good: switching
    the account back on later must not bring back a secret handed out before."""
    person.is_active = False
    db.session.flush()
    end_all_sessions(person)
    now = utcnow()
    revoke_tokens(person.id, now)
    revoke_feeds_out_of_reach(person.id, now)


def revoke_tokens(person_id: int, now: datetime | None = None) -> None:
    """Every live API token of the person stops working."""
    db.session.execute(
        update(ApiToken)
        .where(ApiToken.person_id == person_id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=now or utcnow())
        .execution_options(synchronize_session=False)
    )


def authenticate(phone: str, password: str) -> Person | None:
    """The active person with this phone and password, else None; unknown phones cost
    one scrypt too, so the time taken does not tell who is registered."""
    person = _person_with_phone(phone)
    stored = person.password_hash if person is not None else None
    matches = check_password_hash(stored or _DUMMY_HASH, password or "")
    if not (matches and stored and person.is_active):
        return None
    person.last_login_at = utcnow()
    return person


def _person_with_phone(phone: str) -> Person | None:
    try:
        e164 = normalize_phone(phone)
    except InvalidPhone:
        return None
    return db.session.scalar(select(Person).where(Person.phone == e164))


def set_password(person: Person, password: str, field: str = "password") -> None:
    """Store the password's scrypt hash (salted); the person's choice from now on, so
    ``must_set_password`` is cleared. Refused in Chinese under ``field`` if too short."""
    check_password_rules(password, field)
    person.password_hash = generate_password_hash(password)  # scrypt, salted
    person.must_set_password = False


def check_password_rules(password: str, field: str = "password") -> None:
    """Raise ValidationFailed (in Chinese, under ``field``) for a password too short to
    keep a staff account safe."""
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise ValidationFailed({field: _("密码至少 %(n)d 位", n=MIN_PASSWORD_LENGTH)})


def set_temporary_password(person: Person) -> str:
    """A new random password that someone else will pass on to the person, who must
    choose their own at the first login (``must_set_password``). Returned once."""
    # No 0/O, 1/l/I: read out over the phone or copied from a screen by older people.
    temporary = "".join(secrets.choice(_TEMPORARY_ALPHABET) for _ in range(10))
    set_password(person, temporary)
    person.must_set_password = True
    return temporary


def create_user(
    phone: str, name: str, role: str, password: str | None = None, **scope: int | None
) -> Person:
    """Create (or promote) a member of staff: admin, coordinator of a unit (``unit_id=``),
    leader of a team (``team_id=``). For scripts (the command line, the demo); the web's
    staff pages go through auth/staff.py and its rules of who may give which role."""
    unit_id, team_id = scope.pop("unit_id", None), scope.pop("team_id", None)
    if scope:
        raise TypeError(f"create_user: unexpected {sorted(scope)}")
    e164 = normalize_phone(phone)
    check_role(role, unit_id, [team_id] if team_id is not None else [])
    person = db.session.scalar(select(Person).where(Person.phone == e164))
    if person is None:
        person = add_person((name or "").strip() or e164, e164)
    elif name:
        person.name = name.strip()
    if password:
        set_password(person, password)
    grant_role(person, role, unit_id, [team_id] if team_id is not None else [])
    return person


def check_role(role: str, unit_id: int | None, team_ids: list[int]) -> None:
    """Raise unless the role is one of ours and its scope exists: a coordinator's unit,
    a leader's team(s)."""
    if role not in ("admin", "coordinator", "leader"):
        raise DomainError(_("角色不正确"), field="role")
    if role == "coordinator" and (unit_id is None or db.session.get(Unit, unit_id) is None):
        raise DomainError(_("协调员需要指定所属单位"), field="unit_id")
    if role == "leader":
        found = db.session.scalar(select(func.count(Team.id)).where(Team.id.in_(team_ids)))
        if not team_ids or found != len(set(team_ids)):
            raise DomainError(_("队长需要指定服务队"), field="team_id")


def grant_role(person: Person, role: str, unit_id: int | None, team_ids: list[int]) -> None:
    """Make the person an admin, the coordinator of ``unit_id`` or a leader of each of
    ``team_ids`` (a member already there becomes its leader). Checked by ``check_role``."""
    if role == "admin":
        person.is_admin = True
    elif role == "coordinator":
        moved = person.coordinator_unit_id not in (None, unit_id)
        person.coordinator_unit_id = unit_id
        if moved:  # the old unit's feeds may now be out of reach
            db.session.flush()
            revoke_feeds_out_of_reach(person.id)
    elif role == "leader":
        members = db.session.scalars(
            select(Membership).where(
                Membership.person_id == person.id, Membership.team_id.in_(team_ids)
            )
        )
        by_team = {membership.team_id: membership for membership in members}
        for team_id in team_ids:
            if team_id in by_team:
                by_team[team_id].role = MemberRole.LEADER
            else:
                db.session.add(
                    Membership(team_id=team_id, person_id=person.id, role=MemberRole.LEADER)
                )
    db.session.flush()


def mint_token(person: Person, name: str = "") -> tuple[ApiToken, str]:
    """A new API token; the plain token is returned once and never stored. Not for an
    account whose password someone else set: it is not the person's own yet."""
    if person.must_set_password:
        raise DomainError(_("请先登录网页设置自己的密码，再申请 API 令牌"), field="person")
    plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(person_id=person.id, name=name[:100], token_hash=hash_token(plain))
    db.session.add(token)
    db.session.flush()
    return token, plain


def hash_token(plain: str) -> str:
    return hashlib.sha256(plain.encode()).hexdigest()


#: every API request runs it, so it is built once (its cache key too); the hash is
#: bound per request. Read on every request: a revoked token fails the next one. Core
#: columns of the tables: the ORM would add its result machinery to plain values.
_token, _person = ApiToken.__table__, Person.__table__
_unit, _membership = Unit.__table__, Membership.__table__
_TOKEN_AND_VIEWER = (
    select(
        _token.c.id,
        _token.c.last_used_at,
        _token.c.person_id,
        _person.c.is_admin,
        _unit.c.path,
        _membership.c.team_id,
    )
    .select_from(_token)
    .join(_person, _person.c.id == _token.c.person_id)
    .outerjoin(_unit, _unit.c.id == _person.c.coordinator_unit_id)
    .outerjoin(
        _membership,
        # The role as a SQL literal: a constant of the code, not a parameter bound per run.
        (_membership.c.person_id == _person.c.id)
        & (_membership.c.role == literal_column(f"'{MemberRole.LEADER}'")),
    )
    .where(
        _token.c.token_hash == bindparam("token_hash"),
        _token.c.revoked_at.is_(None),
        _person.c.is_active.is_(True),
    )
)


@dataclass(frozen=True)
class TokenUse:
    """What a request needs of its token: which one, and when it was last recorded."""

    id: int
    last_used_at: datetime | None


def token_and_viewer(plain: str) -> tuple[TokenUse, Viewer] | None:
    """The live token and the viewer behind it, in one query: every API request starts
    here, so the token, its person, a coordinator's unit path and the teams the person
    leads come back together (one row per team led; plain columns, no ORM objects)."""
    if not plain:
        return None
    rows = db.session.execute(_TOKEN_AND_VIEWER, {"token_hash": hash_token(plain)}).all()
    if not rows:
        return None
    first = rows[0]
    viewer = Viewer(
        person_id=first.person_id,
        is_admin=first.is_admin,
        coordinator_path=first.path,
        led_team_ids=frozenset(row.team_id for row in rows if row.team_id is not None),
    )
    return TokenUse(id=first.id, last_used_at=first.last_used_at), viewer


def token_touch_due(token: TokenUse, now: datetime | None = None) -> bool:
    """Whether the row just loaded says a ``touch_token`` write is due; saves the UPDATE
    on nearly every request of a busy integration."""
    now = now or utcnow()
    return token.last_used_at is None or token.last_used_at <= now - TOKEN_TOUCH_INTERVAL


def touch_token(plain: str, now: datetime | None = None) -> bool:
    """Record that the token was used, at most once per ``TOKEN_TOUCH_INTERVAL``.

    A conditional UPDATE: a busy integration does not write on every request, and
    concurrent requests in several processes need no read first. True if it wrote.
    """
    now = now or utcnow()
    result = db.session.execute(
        update(ApiToken)
        .where(
            ApiToken.token_hash == hash_token(plain),
            or_(
                ApiToken.last_used_at.is_(None),
                ApiToken.last_used_at <= now - TOKEN_TOUCH_INTERVAL,
            ),
        )
        .values(last_used_at=now)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1
