"""Twilio, through the real ``twilio`` client.

Every Twilio detail stays here: the REST origin override, error codes, status words and
the webhook signature. Callers see only ``SendResult`` and the gateway's three errors.

The backend never retries: the send actor owns retries (with backoff and a durable outbox
row), and a retry hidden in here would multiply with it and hold a worker thread.
"""

from __future__ import annotations

import logging
import re
from functools import cache
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from twilio.base.exceptions import TwilioRestException, TwilioServiceException
from twilio.request_validator import RequestValidator, compare

if TYPE_CHECKING:
    # The REST client and its HTTP client are imported when a gateway first sends (the
    # REST client then loads its API tree, about 7 MB): a web process that only checks
    # webhook signatures never holds them.
    from twilio.http.http_client import TwilioHttpClient
    from twilio.rest import Client

from volunteer_hub.sms.gateway import (
    LazyClient,
    PermanentSmsError,
    RecipientOptedOut,
    SendResult,
    TransientSmsError,
)

log = logging.getLogger(__name__)

#: Twilio error code: "Attempt to send to unsubscribed recipient" (the person texted STOP).
UNSUBSCRIBED_RECIPIENT = 21610

#: Twilio MessageStatus → ours. Words that mean "still on its way" say "sent": the outbox
#: row is already "sent" once Twilio accepted it, and status never moves backwards.
STATUS_MAP: dict[str, str] = {
    "accepted": "sent",
    "scheduled": "sent",
    "queued": "sent",
    "sending": "sent",
    "sent": "sent",
    "delivered": "delivered",
    "read": "delivered",
    "undelivered": "undelivered",
    "failed": "failed",
    "canceled": "failed",
}

# Twilio's error messages quote the number ("The 'To' number +86138… is not valid");
# error texts end up in logs and in the outbox row, where numbers must not be.
_DIGIT_RUN = re.compile(r"\+?\d[\d\s-]{5,}\d")


def _redact(text: str) -> str:
    return _DIGIT_RUN.sub("[number]", text)


def _is_twilio_host(host: str) -> bool:
    host = host.lower()
    return host == "twilio.com" or host.endswith(".twilio.com")


@cache
def redirecting_http_client_class() -> type[TwilioHttpClient]:
    """The class of the HTTP client the gateway hands to the REST client. Built on first
    use because it subclasses the SDK's TwilioHttpClient, which a module-level class would
    import with this module."""
    from requests.adapters import HTTPAdapter
    from twilio.http.http_client import TwilioHttpClient
    from twilio.http.response import Response

    class RedirectingHttpClient(TwilioHttpClient):
        """A TwilioHttpClient that puts a timeout on every call and, given ``api_base_url``,
        sends what would go to ``https://*.twilio.com`` to that origin instead (a local fake
        in tests and benchmarks, or an egress proxy)."""

        def __init__(self, timeout: float, api_base_url: str | None = None):
            # max_retries=None keeps requests' default of no retries: retrying is the actor's job.
            super().__init__(pool_connections=True, timeout=timeout, max_retries=None)
            self.api_base_url = api_base_url.rstrip("/") if api_base_url else None
            if self.session is not None:
                # Worker threads share one client; a pool per thread count avoids reconnects.
                self.session.mount("http://", HTTPAdapter(pool_maxsize=32))

        def rewrite(self, url: str) -> str:
            if not self.api_base_url:
                return url
            parts = urlsplit(url)
            if not _is_twilio_host(parts.hostname or ""):
                return url
            base = urlsplit(self.api_base_url)
            path = base.path.rstrip("/") + parts.path
            return urlunsplit((base.scheme, base.netloc, path, parts.query, parts.fragment))

        def request(
            self,
            method: str,
            url: str,
            params: dict[str, object] | None = None,
            data: dict[str, object] | None = None,
            headers: dict[str, str] | None = None,
            auth: tuple[str, str] | None = None,
            timeout: float | None = None,
            allow_redirects: bool = False,
        ) -> Response:
            return super().request(
                method,
                self.rewrite(url),
                params=params,
                data=data,
                headers=headers,
                auth=auth,
                timeout=timeout if timeout is not None else self.timeout,
                allow_redirects=allow_redirects,
            )

        def close(self) -> None:
            if self.session is not None:
                self.session.close()

    return RedirectingHttpClient


def __getattr__(name: str) -> object:
    # ``RedirectingHttpClient`` stays importable by name (tests and benchmarks build one).
    if name == "RedirectingHttpClient":
        return redirecting_http_client_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class TwilioGateway(LazyClient):
    """SmsGateway for Twilio Programmable Messaging."""

    name = "twilio"

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        from_number: str | None = None,
        messaging_service_sid: str | None = None,
        api_base_url: str | None = None,
        timeout: float = 10,
    ):
        if not account_sid or not auth_token:
            raise ValueError("Twilio needs an account SID and an auth token")
        if not from_number and not messaging_service_sid:
            raise ValueError("Twilio needs a sender: a from number or a messaging service SID")
        super().__init__(timeout)
        self.account_sid = account_sid
        self._auth_token = auth_token
        self.from_number = from_number
        self.messaging_service_sid = messaging_service_sid
        self.api_base_url = api_base_url
        self._http: TwilioHttpClient | None = None

    def __repr__(self) -> str:  # never the token
        return f"<TwilioGateway {self.account_sid} base={self.api_base_url or 'twilio'}>"

    # -- the client, built on first use -------------------------------------------------

    def _build_client(self) -> Client:
        from twilio.rest import Client

        self._http = redirecting_http_client_class()(self.timeout, self.api_base_url)
        # TWILIO_EDGE / TWILIO_REGION in the environment still apply (the client reads
        # them); with api_base_url set, those hosts are rewritten too.
        return Client(self.account_sid, self._auth_token, http_client=self._http)

    def _release(self, client: Client) -> None:
        if self._http is not None:
            self._http.close()
        self._http = None

    # -- SmsGateway ---------------------------------------------------------------------

    def send(self, to: str, body: str, *, status_callback: str | None = None) -> SendResult:
        # Here, not at the top: a web process loads this module to check a webhook's
        # signature, and requests (with urllib3, idna, charset_normalizer) is 3.7 MB.
        import requests

        kwargs: dict[str, str] = {"to": to, "body": body}
        if self.messaging_service_sid:
            # A messaging service picks the sender itself (number pool, sticky sender).
            kwargs["messaging_service_sid"] = self.messaging_service_sid
        else:
            kwargs["from_"] = self.from_number  # type: ignore[assignment]
        if status_callback:
            kwargs["status_callback"] = status_callback
        try:
            message = self.client.messages.create(**kwargs)
        except (TwilioRestException, TwilioServiceException) as exc:
            raise _classify(exc) from None
        except requests.Timeout:
            raise TransientSmsError(
                f"Twilio did not answer within {self.timeout}s", code="timeout"
            ) from None
        except requests.RequestException as exc:
            raise TransientSmsError(
                f"Twilio unreachable: {type(exc).__name__}", code="connection"
            ) from None
        return SendResult(
            provider_sid=str(message.sid),
            status="sent",
            segments=_int_or_none(message.num_segments),
        )

    def delivery_status(self, provider_status: str) -> str | None:
        return STATUS_MAP.get((provider_status or "").strip().lower())

    def verify_webhook(self, url: str, params: dict[str, str], signature: str | None) -> bool:
        if not signature:
            return False
        validator = RequestValidator(self._auth_token)
        try:
            # The URL as we know it is what Twilio signs, as a rule: one HMAC. Only when
            # that fails, the SDK's check of the URL with and without its port (two more).
            if compare(validator.compute_signature(url, params), signature):
                return True
            return bool(validator.validate(url, params, signature))
        except Exception:  # a malformed request is a refusal, never a 500
            log.warning("twilio webhook signature check failed on a malformed request")
            return False


def _int_or_none(value: object) -> int | None:
    try:
        number = int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return None
    # A messaging service reports 0 until it has picked a sender: unknown, not zero.
    return number or None


def _classify(exc: TwilioRestException | TwilioServiceException) -> Exception:
    """Turn a Twilio error answer into what the caller should do next."""
    status = int(exc.status or 0)
    code = exc.code if exc.code is not None else status
    detail = getattr(exc, "msg", None) or getattr(exc, "detail", None) or getattr(exc, "title", "")
    message = f"Twilio error {code} (HTTP {status}): {_redact(str(detail))}"
    if status == 429 or status >= 500:
        return TransientSmsError(message, code=str(code))
    if status == 401:
        # Bad or rotated credentials: nothing is wrong with the message itself, so let the
        # actor retry while an operator fixes the configuration rather than fail every text.
        log.error("twilio rejected our credentials (HTTP 401, code %s)", code)
        return TransientSmsError(message, code=str(code))
    if code == UNSUBSCRIBED_RECIPIENT:
        return RecipientOptedOut(message, code=str(code))
    return PermanentSmsError(message, code=str(code))
