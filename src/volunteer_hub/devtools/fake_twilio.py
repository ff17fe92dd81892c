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

import argparse
import base64
import collections
import contextlib
import json
import re
import secrets
import signal
import socket
import sys
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from twilio.request_validator import RequestValidator

from volunteer_hub.sms.segments import count_segments

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "fake-twilio-auth-token"
FROM_NUMBER = "+15005550006"
API_VERSION = "2010-04-01"

E164 = re.compile(r"^\+[1-9]\d{6,14}$")
ALPHANUMERIC_SENDER = re.compile(r"^(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}$")
MESSAGING_SERVICE_SID = re.compile(r"^MG[0-9a-fA-F]{32}$")
MESSAGES_PATH = re.compile(rf"^/{API_VERSION}/Accounts/(?P<account>[^/]+)/Messages\.json$")
MESSAGE_PATH = re.compile(
    rf"^/{API_VERSION}/Accounts/(?P<account>[^/]+)/Messages/(?P<sid>[^/]+)\.json$"
)
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


def _mask(phone: str) -> str:
    return "****" + phone[-4:] if len(phone) > 4 else "****"


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


class FakeTwilio:
    """A threaded HTTP server on 127.0.0.1 that answers like Twilio's Messages API."""

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
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.host = host
        self.port = port
        #: seconds every message request takes (benchmarks: provider latency)
        self.delay = delay
        #: answer 429 (code 20429) beyond this many accepted messages in any one second
        self.max_per_second = max_per_second
        #: recipients that texted STOP to our sender: sends to them get 21610
        self.unsubscribed: set[str] = set()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._reset_state()

    def _reset_state(self) -> None:
        self._messages: list[dict[str, Any]] = []
        self._script: collections.deque[Scripted] = collections.deque()
        self._requests = 0
        self._auth_failures = 0
        self._statuses: collections.Counter[int] = collections.Counter()
        self._accepted_at: collections.deque[float] = collections.deque()

    # -- lifecycle ----------------------------------------------------------------------

    def start(self) -> FakeTwilio:
        if self._server is not None:
            return self
        self._stopping.clear()
        self._server = _Server((self.host, self.port), _Handler, self)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"fake-twilio-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None:
            return
        server.shutdown()  # no new connections
        self._stopping.set()  # delayed answers return now
        server.close_connections()  # idle keep-alive connections end their handler
        server.server_close()  # and the handler threads are joined
        if thread is not None:
            thread.join()
        self._server = self._thread = None

    def __enter__(self) -> FakeTwilio:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """The origin to put into TWILIO_API_BASE_URL."""
        if self._server is None:
            raise RuntimeError("the fake is not running: start() it first")
        return f"http://{self.host}:{self.port}"

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
        with self._lock:
            for _ in range(times):
                self._script.append(Scripted(status, code, message, delay))

    def delay_next(self, seconds: float, *, times: int = 1) -> None:
        """The next ``times`` message requests succeed, but only after ``seconds``."""
        with self._lock:
            for _ in range(times):
                self._script.append(Scripted(None, None, None, seconds))

    def reset(self) -> None:
        """Forget messages, counters, the script and the unsubscribed set."""
        with self._lock:
            self._reset_state()
            self.unsubscribed.clear()
            self.delay = 0.0
            self.max_per_second = None

    # -- records --------------------------------------------------------------------------

    @property
    def messages(self) -> list[dict[str, Any]]:
        """Every accepted message, as Twilio's resource plus the request's form fields
        (``params``) and ``status_callback``; a copy, safe to read while sends go on."""
        with self._lock:
            return [dict(message) for message in self._messages]

    def messages_to(self, phone: str) -> list[dict[str, Any]]:
        return [message for message in self.messages if message["to"] == phone]

    def message(self, sid: str) -> dict[str, Any]:
        with self._lock:
            for message in self._messages:
                if message["sid"] == sid:
                    return dict(message)
        raise KeyError(sid)

    @property
    def requests(self) -> int:
        """Message-create requests received, whatever their answer."""
        with self._lock:
            return self._requests

    @property
    def auth_failures(self) -> int:
        with self._lock:
            return self._auth_failures

    @property
    def statuses(self) -> collections.Counter[int]:
        """HTTP statuses answered to message-create requests, e.g. ``statuses[429]``."""
        with self._lock:
            return collections.Counter(self._statuses)

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
        self,
        sid: str,
        status: str,
        *,
        url: str | None = None,
        error_code: int | None = None,
        client: Any = None,
    ) -> Any:
        """Tell our app a recorded message's new status, signed, at its StatusCallback URL
        (or ``url``)."""
        with self._lock:
            for message in self._messages:
                if message["sid"] == sid:
                    message["status"] = status
                    if error_code is not None:
                        message["error_code"] = error_code
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

    def _next_scripted(self) -> Scripted | None:
        with self._lock:
            return self._script.popleft() if self._script else None

    def _wait(self, seconds: float) -> None:
        if seconds > 0:
            self._stopping.wait(seconds)

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


class _Server(ThreadingHTTPServer):
    # Handler threads are joined on close (no thread outlives the fake); keep-alive
    # connections are shut down first so their threads end promptly.
    daemon_threads = False
    block_on_close = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], handler: type, fake: FakeTwilio):
        self.fake = fake
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, handler)

    def track(self, connection: socket.socket, open_: bool) -> None:
        with self._connections_lock:
            if open_:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    def close_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):  # already gone
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that timed out and hung up is expected (timeout tests); stay quiet.
        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like the real API: benchmarks reuse sockets
    timeout = 30  # an idle keep-alive connection does not hold its thread forever
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection, True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.track(self.connection, False)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # request lines carry nothing useful and would flood benchmark output

    def _form(self) -> dict[str, str]:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode("utf-8") if length else ""
        return {key: values[0] for key, values in parse_qs(raw, keep_blank_values=True).items()}

    def _answer(self, status: int, payload: Mapping[str, Any]) -> None:
        data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Twilio-Request-Id", new_sid("RQ"))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        path = urlsplit(self.path).path
        form = self._form()
        match = MESSAGES_PATH.match(path)
        if match is None:
            self._answer(404, TwilioError(404).payload())
            return
        fake = self.server.fake
        status, payload = fake.create_message(
            match["account"], self.headers.get("Authorization"), form
        )
        self._answer(status, payload)

    def do_GET(self) -> None:
        match = MESSAGE_PATH.match(urlsplit(self.path).path)
        if match is None:
            self._answer(404, TwilioError(404).payload())
            return
        status, payload = self.server.fake.fetch_message(
            match["account"], self.headers.get("Authorization"), match["sid"]
        )
        self._answer(status, payload)


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def main(argv: Iterable[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="A local fake of Twilio's Messages API.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8099)
    parser.add_argument("--account-sid", default=ACCOUNT_SID)
    parser.add_argument("--auth-token", default=AUTH_TOKEN)
    parser.add_argument("--delay", type=float, default=0.0, help="seconds per message request")
    parser.add_argument("--max-per-second", type=float, default=None, help="429 beyond this")
    args = parser.parse_args(list(argv) if argv is not None else None)

    fake = FakeTwilio(
        args.account_sid,
        args.auth_token,
        host=args.host,
        port=args.port,
        delay=args.delay,
        max_per_second=args.max_per_second,
    )
    # A benchmark that started us stops us with terminate(): leave as cleanly as on Ctrl-C.
    signal.signal(signal.SIGTERM, _interrupt)
    with fake:
        print(f"fake Twilio listening on {fake.base_url}; for the app:", flush=True)
        for key, value in fake.app_config().items():
            if value is not None:
                print(f"  {key}={value}", flush=True)
        seen = 0
        try:
            while True:
                time.sleep(0.5)
                messages = fake.messages
                for message in messages[seen:]:
                    print(
                        f"{message['sid']} to {_mask(message['to'])}: "
                        f"{len(message['body'])} chars, {message['num_segments']} segment(s)",
                        flush=True,
                    )
                seen = len(messages)
        except KeyboardInterrupt:
            print("stopping")


if __name__ == "__main__":
    main()
