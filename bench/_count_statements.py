"""Statements per request, for bench/signup_race.py: our app in this process against the
bench database (DATABASE_URL and the rest of the bench's environment), one request of
each kind through Flask's test client, every statement sent to PostgreSQL counted.

Prints one line of JSON: statements per kind, besides BEGIN and COMMIT. Not meant to be
run by hand: argv[1] is JSON with the token, a shift id and its code, a texter's phone.
"""

from __future__ import annotations

import json
import sys

from sqlalchemy import event
from twilio.request_validator import RequestValidator

from volunteer_hub import create_app
from volunteer_hub.extensions import db

#: +86 139 04xx xxxx: numbers no other request of the bench uses
PHONE = 13904000000


def main(given: dict) -> dict:
    app = create_app()
    client = app.test_client()
    auth = {"Authorization": f"Bearer {given['token']}"}
    sign_up = f"/api/v1/shifts/{given['shift_id']}/signups"
    counted: dict[str, int] = {}
    sent: list[str] = []
    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", lambda *a: sent.append(a[2]))

    def count(kind: str, request) -> None:
        sent.clear()
        response = request()
        counted[kind] = len(sent)
        counted[f"{kind} status"] = response.status_code

    def sms() -> object:
        form = {
            "MessageSid": "SMcount0000000000000000000000000",
            "From": given["texter"],
            "To": "+15005550006",
            "Body": f"报名 {given['code']}",
        }
        url = given["public_base_url"] + "/sms/inbound"
        signature = RequestValidator(app.config["TWILIO_AUTH_TOKEN"]).compute_signature(url, form)
        return client.post("/sms/inbound", data=form, headers={"X-Twilio-Signature": signature})

    body = {"phone": str(PHONE), "name": "计数"}
    count("API sign-up, new phone", lambda: client.post(sign_up, json=body, headers=auth))
    count("API duplicate", lambda: client.post(sign_up, json=body, headers=auth))
    count("SMS sign-up", sms)
    count("GET /healthz", lambda: client.get("/healthz"))
    return counted


if __name__ == "__main__":
    print(json.dumps(main(json.loads(sys.argv[1])), ensure_ascii=False))
