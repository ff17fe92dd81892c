"""The floor for bench/signup_race.py: a minimal Flask + Flask-SQLAlchemy app doing the
same work as a sign-up, against the same database, served the same way (gunicorn).

It keeps no rules beyond what the work needs, so what it costs is the least any Flask
app on this stack could pay: the framework, the driver, PostgreSQL. ``signup_race.py``
measures our app against it in alternating slices of one run.

- ``POST /api/v1/shifts/<id>/signups``: bearer-token lookup (hash, one SELECT), the
  person by phone (SELECT, INSERT when new), the conditional seat UPDATE, the signup
  INSERT, JSON in and out; one commit.
- ``POST /sms/inbound``: the Twilio webhook, signed with the real ``RequestValidator``;
  the sender by phone, the shift by code, the seat UPDATE, the signup INSERT, a TwiML
  reply; one commit.
- ``GET /healthz``: ``ok``.

Not meant to be run by hand: ``gunicorn bench._floor_app:app`` with DATABASE_URL (and
TWILIO_AUTH_TOKEN, PUBLIC_BASE_URL for the webhook) set.
"""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, datetime
from xml.sax.saxutils import escape

from flask import Flask, Response, abort, jsonify, request
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import text
from twilio.request_validator import RequestValidator

app = Flask(__name__)
app.config["SQLALCHEMY_DATABASE_URI"] = os.environ["DATABASE_URL"].replace(
    "postgresql://", "postgresql+psycopg://", 1
)
db = SQLAlchemy(app)
validator = RequestValidator(os.environ.get("TWILIO_AUTH_TOKEN", ""))
PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL", "")

TOKEN = text(
    "SELECT t.id, t.person_id FROM api_token t JOIN person p ON p.id = t.person_id "
    "WHERE t.token_hash = :hash AND t.revoked_at IS NULL AND p.is_active"
)
PERSON_BY_PHONE = text("SELECT id FROM person WHERE phone = :phone")
NEW_PERSON = text(
    "INSERT INTO person (name, phone, is_veteran, skills, is_admin, is_active, session_version) "
    "VALUES (:name, :phone, true, '', false, true, 0) RETURNING id"
)
SHIFT_BY_CODE = text("SELECT id FROM shift WHERE code = :code AND code_is_current")
CLAIM_SEAT = text("UPDATE shift SET filled = filled + 1 WHERE id = :id AND filled < capacity")
NEW_SIGNUP = text(
    "INSERT INTO signup (shift_id, person_id, status, source, created_at, confirmed_at, "
    "cancelled_with_shift, acted_by_id) "
    "VALUES (:shift_id, :person_id, :status, :source, :now, :confirmed_at, false, :acted_by) "
    "ON CONFLICT (shift_id, person_id) WHERE status <> 'cancelled' DO NOTHING RETURNING id"
)


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _sign_up(shift_id: int, person_id: int, source: str, acted_by: int | None):
    """(signup id, status), or None for a duplicate; the seat is given back then."""
    now = _now()
    claimed = db.session.execute(CLAIM_SEAT, {"id": shift_id}).rowcount == 1
    status = "confirmed" if claimed else "waitlisted"
    signup_id = db.session.execute(
        NEW_SIGNUP,
        {
            "shift_id": shift_id,
            "person_id": person_id,
            "status": status,
            "source": source,
            "now": now,
            "confirmed_at": now if claimed else None,
            "acted_by": acted_by,
        },
    ).scalar()
    if signup_id is None:
        db.session.rollback()
        return None
    db.session.commit()
    return signup_id, status


@app.get("/healthz")
def healthz():
    return "ok"


@app.post("/api/v1/shifts/<int:shift_id>/signups")
def api_sign_up(shift_id: int):
    scheme, _sep, token = request.headers.get("Authorization", "").partition(" ")
    digest = hashlib.sha256(token.strip().encode()).hexdigest()
    viewer = db.session.execute(TOKEN, {"hash": digest}).first() if scheme == "Bearer" else None
    if viewer is None:
        return jsonify(title="Unauthorized"), 401
    body = request.get_json()
    phone = "+86" + body["phone"]
    person_id = db.session.execute(PERSON_BY_PHONE, {"phone": phone}).scalar()
    if person_id is None:
        person_id = db.session.execute(NEW_PERSON, {"name": body["name"], "phone": phone}).scalar()
    done = _sign_up(shift_id, person_id, "api", viewer.person_id)
    if done is None:
        return jsonify(title="Conflict", code="already-signed-up"), 409
    signup_id, status = done
    return jsonify(id=signup_id, shift_id=shift_id, person_id=person_id, status=status), 201


@app.post("/sms/inbound")
def sms_inbound():
    url = PUBLIC_BASE_URL + request.path
    if not validator.validate(
        url, request.form.to_dict(), request.headers.get("X-Twilio-Signature", "")
    ):
        abort(403)
    person_id = db.session.execute(PERSON_BY_PHONE, {"phone": request.form["From"]}).scalar()
    code = request.form["Body"].split()[-1]
    shift_id = db.session.execute(SHIFT_BY_CODE, {"code": code}).scalar()
    done = _sign_up(shift_id, person_id, "sms", None) if person_id and shift_id else None
    reply = f"报名成功 {code}" if done else f"未能报名 {code}"
    return Response(
        f'<?xml version="1.0" encoding="UTF-8"?><Response><Message>{escape(reply)}</Message>'
        "</Response>",
        mimetype="application/xml",
    )
