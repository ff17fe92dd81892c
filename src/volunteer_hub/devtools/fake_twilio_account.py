"""What one account of the fake Twilio holds and answers, without the HTTP around it.

The messages it accepted, the script of failures and delays to come, the counters a test
reads, the recipients that unsubscribed, and the answers of the two Messages API calls we
use (create, fetch) with Twilio's validation, error codes and JSON. ``FakeTwilio``
(``fake_twilio``) serves an account over HTTP.
"""

from __future__ import annotations

import base64
import collections
import re
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from http import HTTPStatus
from typing import Any

from volunteer_hub.devtools.fake_provider import FakeAccount
from volunteer_hub.sms.segments import count_segments

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "fake-twilio-auth-token"
FROM_NUMBER = "+15005550006"
API_VERSION = "2010-04-01"

E164 = re.compile(r"^\+[1-9]\d{6,14}$")
ALPHANUMERIC_SENDER = re.compile(r"^(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}$")
MESSAGING_SERVICE_SID = re.compile(r"^MG[0-9a-fA-F]{32}$")
MAX_BODY = 1600

#: Twilio's wording for the errors the fake produces on its own
ERROR_MESSAGES = {
    20003: "Authenticate",
    20404: "The requested resource was not found",
    20429: "Too Many Requests",
    20500: "Internal Server Error",
    20503: "Service Unavailable",
    21211: "The 'To' number is not a valid phone number.",
    21212: "The 'From' number is not a valid phone number, shortcode, or alphanumeric sender ID.",
    21408: "Permission to send an SMS has not been enabled for the region indicated by the 'To' number.",
    21602: "Message body is required.",
    21603: "A 'From' phone number is required.",
    21610: "Attempt to send to unsubscribed recipient",
    21614: "'To' number is not a valid mobile number",
    21617: "The concatenated message body exceeds the 1600 character limit.",
    21701: "The Messaging Service Sid is invalid.",
}


def _default_code(status: int) -> int:
    if status == 429:
        return 20429
    if status == 503:
        return 20503
    if status >= 500:
        return 20500
    if status == 401:
        return 20003
    if status == 404:
        return 20404
    return status


@dataclass
class Scripted:
    """One scripted answer to the next message request: an error, or a success after a
    delay (``status`` None)."""

    status: int | None = None
    code: int | None = None
    message: str | None = None
    delay: float = 0.0


class TwilioError(Exception):
    def __init__(self, status: int, code: int | None = None, message: str | None = None):
        self.status = status
        self.code = code if code is not None else _default_code(status)
        self.message = message or ERROR_MESSAGES.get(self.code) or HTTPStatus(status).phrase

    def payload(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "message": self.message,
            "more_info": f"https://www.twilio.com/docs/errors/{self.code}",
            "status": self.status,
        }


class FakeTwilioAccount(FakeAccount):
    """One Twilio account: its credentials, its messages, and how it answers the API.
    Served by ``FakeTwilio``, whose server holds delayed answers (``_wait``)."""

    #: a recorded message is Twilio's resource plus the request's form fields
    #: (``params``) and ``status_callback``
    phone_field = "to"
    scripted = Scripted

    def __init__(
        self,
        account_sid: str = ACCOUNT_SID,
        auth_token: str = AUTH_TOKEN,
        *,
        delay: float = 0.0,
        max_per_second: float | None = None,
    ):
        self.account_sid = account_sid
        self.auth_token = auth_token
        #: seconds every message request takes (benchmarks: provider latency)
        self.delay = delay
        #: answer 429 (code 20429) beyond this many accepted messages in any one second
        self.max_per_second = max_per_second
        #: recipients that texted STOP to our sender: sends to them get 21610
        self.unsubscribed: set[str] = set()
        super().__init__()

    def _reset_state(self) -> None:
        super()._reset_state()
        self._statuses: collections.Counter[int] = collections.Counter()
        self._accepted_at: collections.deque[float] = collections.deque()

    # -- scripting ----------------------------------------------------------------------

    def fail_next(
        self,
        status: int,
        *,
        code: int | None = None,
        message: str | None = None,
        times: int = 1,
        delay: float = 0.0,
    ) -> None:
        """The next ``times`` message requests get this error (after the script so far)."""
        self._enqueue(Scripted(status, code, message, delay), times)

    def _forget_setup(self) -> None:
        self.unsubscribed.clear()
        self.max_per_second = None

    # -- records --------------------------------------------------------------------------

    def message(self, sid: str) -> dict[str, Any]:
        with self._lock:
            for message in self._messages:
                if message["sid"] == sid:
                    return dict(message)
        raise KeyError(sid)

    @property
    def statuses(self) -> collections.Counter[int]:
        """HTTP statuses answered to message-create requests, e.g. ``statuses[429]``."""
        with self._lock:
            return collections.Counter(self._statuses)

    def set_status(self, sid: str, status: str, *, error_code: int | None = None) -> None:
        """A recorded message moves on (as Twilio would before a status callback)."""
        with self._lock:
            for message in self._messages:
                if message["sid"] == sid:
                    message["status"] = status
                    if error_code is not None:
                        message["error_code"] = error_code

    # -- the API ------------------------------------------------------------------------

    def _authorized(self, header: str | None) -> bool:
        if not header or not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return False
        return secrets.compare_digest(user, self.account_sid) and secrets.compare_digest(
            password, self.auth_token
        )

    def _over_rate(self) -> bool:
        if not self.max_per_second:
            return False
        now = time.monotonic()
        with self._lock:
            while self._accepted_at and now - self._accepted_at[0] >= 1.0:
                self._accepted_at.popleft()
            if len(self._accepted_at) >= self.max_per_second:
                return True
            self._accepted_at.append(now)
            return False

    def create_message(
        self, account: str, authorization: str | None, form: Mapping[str, str]
    ) -> tuple[int, dict[str, Any]]:
        """Answer one POST .../Messages.json: (HTTP status, JSON body)."""
        with self._lock:
            self._requests += 1
        try:
            if not self._authorized(authorization):
                with self._lock:
                    self._auth_failures += 1
                raise TwilioError(401)
            if account != self.account_sid:
                raise TwilioError(404)
            scripted = self._next_scripted()
            self._wait(scripted.delay if scripted else self.delay)
            if scripted is not None and scripted.status is not None:
                raise TwilioError(scripted.status, scripted.code, scripted.message)
            message = self._validate_and_build(form)
            if self._over_rate():
                raise TwilioError(429)
        except TwilioError as error:
            with self._lock:
                self._statuses[error.status] += 1
            return error.status, error.payload()
        with self._lock:
            self._statuses[201] += 1
            self._messages.append(message)
        public = {k: v for k, v in message.items() if k not in ("params", "status_callback")}
        return 201, public

    def _validate_and_build(self, form: Mapping[str, str]) -> dict[str, Any]:
        to = form.get("To", "")
        sender = form.get("From") or None
        service = form.get("MessagingServiceSid") or None
        body = form.get("Body", "")
        if not E164.match(to):
            raise TwilioError(400, 21211, f"The 'To' number {to} is not a valid phone number.")
        if service is not None and not MESSAGING_SERVICE_SID.match(service):
            raise TwilioError(400, 21701)
        if sender is None and service is None:
            raise TwilioError(400, 21603)
        if sender is not None and not (E164.match(sender) or ALPHANUMERIC_SENDER.match(sender)):
            raise TwilioError(400, 21212)
        if not body:
            raise TwilioError(400, 21602)
        if len(body) > MAX_BODY:
            raise TwilioError(400, 21617)
        if to in self.unsubscribed:
            raise TwilioError(400, 21610)
        sid = new_sid("SM")
        now = format_datetime(datetime.now(UTC).replace(microsecond=0))  # RFC 2822, +0000
        uri = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{sid}"
        return {
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "body": body,
            "date_created": now,
            "date_sent": None,
            "date_updated": now,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            # Through a messaging service Twilio has not picked the sender yet: no "from",
            # status "accepted" and 0 segments until it does.
            "from": sender if service is None else None,
            "messaging_service_sid": service,
            "num_media": "0",
            "num_segments": "0" if service else str(count_segments(body)),
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": "accepted" if service else "queued",
            "subresource_uris": {
                "media": f"{uri}/Media.json",
                "feedback": f"{uri}/Feedback.json",
            },
            "to": to,
            "uri": f"{uri}.json",
            "status_callback": form.get("StatusCallback") or None,
            "params": dict(form),
        }

    def fetch_message(
        self, account: str, authorization: str | None, sid: str
    ) -> tuple[int, dict[str, Any]]:
        """Answer one GET .../Messages/{sid}.json."""
        if not self._authorized(authorization):
            return 401, TwilioError(401).payload()
        try:
            message = self.message(sid)
        except KeyError:
            return 404, TwilioError(404).payload()
        if account != self.account_sid:
            return 404, TwilioError(404).payload()
        return 200, {k: v for k, v in message.items() if k not in ("params", "status_callback")}


def new_sid(prefix: str) -> str:
    return prefix + secrets.token_hex(16)
