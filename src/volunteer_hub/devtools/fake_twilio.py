"""A local fake of the part of Twilio's REST API we use, for tests, benchmarks and by hand.

The real ``twilio`` client talks to it (``TWILIO_API_BASE_URL=fake.base_url``), so the
code under test builds real requests and parses real-shaped answers; only the far end
is ours. It can be scripted to fail (429, 5xx, Twilio error codes), to be slow, to cap
its request rate, and it can sign status callbacks and inbound texts the way Twilio
does, with the real ``RequestValidator``.

    with FakeTwilio() as fake:
        fake.fail_next(status=429, times=2)
        ...                                   # send through TwilioGateway(api_base_url=fake.base_url)
        assert fake.messages_to("+8613800138000")

By hand: ``python -m volunteer_hub.devtools.fake_twilio --port 8099``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qs, urlsplit

from twilio.request_validator import RequestValidator

from volunteer_hub.devtools.fake_provider import (
    FakeServer,
    KeepAliveHandler,
    fake_arguments,
    run_by_hand,
    server_options,
)
from volunteer_hub.devtools.fake_twilio_account import (
    ACCOUNT_SID,
    API_VERSION,
    AUTH_TOKEN,
    FROM_NUMBER,
    FakeTwilioAccount,
    TwilioError,
    new_sid,
)
from volunteer_hub.sms.segments import count_segments

MESSAGES_PATH = re.compile(rf"^/{API_VERSION}/Accounts/(?P<account>[^/]+)/Messages\.json$")
MESSAGE_PATH = re.compile(
    rf"^/{API_VERSION}/Accounts/(?P<account>[^/]+)/Messages/(?P<sid>[^/]+)\.json$"
)


def _mask(phone: str) -> str:
    return "****" + phone[-4:] if len(phone) > 4 else "****"


class _Handler(KeepAliveHandler):
    """Twilio's Messages API: create (POST) and fetch (GET) a message."""

    def _form(self) -> dict[str, str]:
        raw = self.body().decode("utf-8")
        return {key: values[0] for key, values in parse_qs(raw, keep_blank_values=True).items()}

    def _answer(self, status: int, payload: Mapping[str, Any]) -> None:
        data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        headers = {"Twilio-Request-Id": new_sid("RQ")}
        self.answer(status, "application/json; charset=utf-8", data, headers)

    def do_POST(self) -> None:
        path = urlsplit(self.path).path
        form = self._form()
        match = MESSAGES_PATH.match(path)
        if match is None:
            self._answer(404, TwilioError(404).payload())
            return
        fake: FakeTwilio = self.server.fake  # type: ignore[assignment]
        status, payload = fake.create_message(
            match["account"], self.headers.get("Authorization"), form
        )
        self._answer(status, payload)

    def do_GET(self) -> None:
        match = MESSAGE_PATH.match(urlsplit(self.path).path)
        if match is None:
            self._answer(404, TwilioError(404).payload())
            return
        fake: FakeTwilio = self.server.fake  # type: ignore[assignment]
        status, payload = fake.fetch_message(
            match["account"], self.headers.get("Authorization"), match["sid"]
        )
        self._answer(status, payload)


class FakeTwilio(FakeTwilioAccount, FakeServer):
    """An account served by a threaded HTTP server on 127.0.0.1, answering like Twilio's
    Messages API; and Twilio's side of our webhooks (signed status callbacks and texts)."""

    handler = _Handler

    def __init__(
        self,
        account_sid: str = ACCOUNT_SID,
        auth_token: str = AUTH_TOKEN,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        delay: float = 0.0,
        max_per_second: float | None = None,
    ):
        super().__init__(account_sid, auth_token, delay=delay, max_per_second=max_per_second)
        self.host = host
        self.port = port

    @property
    def base_url(self) -> str:
        """The origin to put into TWILIO_API_BASE_URL."""
        return f"http://{self.address}"

    def app_config(
        self, *, from_number: str | None = FROM_NUMBER, messaging_service_sid: str | None = None
    ) -> dict[str, Any]:
        """Config keys that point the app's twilio backend at this fake."""
        return {
            "SMS_BACKEND": "twilio",
            "TWILIO_ACCOUNT_SID": self.account_sid,
            "TWILIO_AUTH_TOKEN": self.auth_token,
            "TWILIO_FROM_NUMBER": None if messaging_service_sid else from_number,
            "TWILIO_MESSAGING_SERVICE_SID": messaging_service_sid,
            "TWILIO_API_BASE_URL": self.base_url,
        }

    # -- Twilio calling us ------------------------------------------------------------------

    def signature(self, url: str, params: Mapping[str, str]) -> str:
        """X-Twilio-Signature for a POST of ``params`` to ``url`` (the full public URL)."""
        return RequestValidator(self.auth_token).compute_signature(url, dict(params))

    def post_signed(
        self,
        url: str,
        params: Mapping[str, str],
        *,
        client: Any = None,
        signature: str | None = None,
        timeout: float = 10,
    ) -> Any:
        """POST ``params`` form-encoded to ``url`` with Twilio's signature, as Twilio would.

        With ``client`` (a Flask test client) the request goes through it, to the path of
        ``url``, and its response is returned; otherwise it goes over HTTP with
        ``requests`` and the ``requests.Response`` is returned. ``signature`` overrides
        the computed one (to test forged signatures)."""
        params = dict(params)
        headers = {"X-Twilio-Signature": signature or self.signature(url, params)}
        if client is not None:
            parts = urlsplit(url)
            path = parts.path + (f"?{parts.query}" if parts.query else "")
            return client.post(
                path,
                data=params,
                headers=headers,
                base_url=f"{parts.scheme}://{parts.netloc}",
            )
        import requests

        with requests.Session() as session:
            return session.post(url, data=params, headers=headers, timeout=timeout)

    def status_callback_params(
        self, sid: str, status: str, *, error_code: int | None = None
    ) -> dict[str, str]:
        """The form fields of Twilio's status callback for a recorded message."""
        message = self.message(sid)
        params = {
            "AccountSid": self.account_sid,
            "ApiVersion": API_VERSION,
            "MessageSid": sid,
            "SmsSid": sid,
            "MessageStatus": status,
            "SmsStatus": status,
            "To": message["to"],
            "From": message["from"] or FROM_NUMBER,
        }
        if message.get("messaging_service_sid"):
            params["MessagingServiceSid"] = message["messaging_service_sid"]
        if error_code is not None:
            params["ErrorCode"] = str(error_code)
        return params

    def send_status_callback(
        self, sid: str, status: str, *, url: str = "", error_code: int | None = None, client=None
    ) -> Any:
        """Tell our app a recorded message's new status, signed, at its StatusCallback URL
        (or ``url``)."""
        self.set_status(sid, status, error_code=error_code)
        target = url or self.message(sid).get("status_callback")
        if not target:
            raise ValueError(f"message {sid} has no StatusCallback; pass url=")
        params = self.status_callback_params(sid, status, error_code=error_code)
        return self.post_signed(target, params, client=client)

    def inbound_params(
        self, from_: str, body: str, *, to: str = FROM_NUMBER, message_sid: str | None = None
    ) -> dict[str, str]:
        """The form fields of Twilio's incoming-message webhook."""
        sid = message_sid or new_sid("SM")
        return {
            "AccountSid": self.account_sid,
            "ApiVersion": API_VERSION,
            "MessageSid": sid,
            "SmsMessageSid": sid,
            "SmsSid": sid,
            "SmsStatus": "received",
            "From": from_,
            "To": to,
            "Body": body,
            "NumMedia": "0",
            "NumSegments": str(max(count_segments(body), 1)),
        }

    def send_inbound(
        self,
        url: str,
        from_: str,
        body: str,
        *,
        to: str = FROM_NUMBER,
        message_sid: str | None = None,
        client: Any = None,
    ) -> Any:
        """A volunteer's text arriving at our inbound webhook, signed."""
        params = self.inbound_params(from_, body, to=to, message_sid=message_sid)
        return self.post_signed(url, params, client=client)


def main(argv: Iterable[str] | None = None) -> None:
    parser = fake_arguments("A local fake of Twilio's Messages API.", port=8099)
    parser.add_argument("--account-sid", default=ACCOUNT_SID)
    parser.add_argument("--auth-token", default=AUTH_TOKEN)
    parser.add_argument("--max-per-second", type=float, default=None, help="429 beyond this")
    args = parser.parse_args(list(argv) if argv is not None else None)
    fake = FakeTwilio(
        args.account_sid,
        args.auth_token,
        max_per_second=args.max_per_second,
        **server_options(args),
    )
    run_by_hand(fake, "fake Twilio", _describe)


def _describe(message: dict[str, Any]) -> str:
    """An accepted message for the terminal, its number masked."""
    return (
        f"{message['sid']} to {_mask(message['to'])}: "
        f"{len(message['body'])} chars, {message['num_segments']} segment(s)"
    )


if __name__ == "__main__":
    main()
