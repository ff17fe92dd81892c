"""The SMS gateway: one small interface, one backend per provider.

Everything provider-specific (credentials, signatures, status words, error codes) stays
inside its backend. Callers get a ``SendResult`` or one of three errors that say what to
do next: retry later, give up, or stop texting this person.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class SendResult:
    #: the provider's id for the message; status callbacks refer to it
    provider_sid: str
    #: our status word after the hand-over: "sent" (accepted) or "delivered" (console)
    status: str = "sent"
    segments: int | None = None


class SmsError(Exception):
    def __init__(self, message: str, code: str | None = None):
        super().__init__(message)
        self.code = code


class TransientSmsError(SmsError):
    """Worth retrying later: timeouts, 429, 5xx."""


class PermanentSmsError(SmsError):
    """Will never succeed as it is: an invalid number, a refused body."""


class RecipientOptedOut(PermanentSmsError):
    """The provider says this person unsubscribed (e.g. Twilio 21610): opt them out here too."""


class ProviderPaused(TransientSmsError):
    """The account cannot send anything now (no balance, arrears, the account's daily or
    monthly quota reached): no text goes through this provider until an operator acts or
    the quota resets. Transient: the text goes back to the queue, never lost."""

    def __init__(self, message: str, code: str | None = None, *, resets: str | None = None):
        super().__init__(message, code)
        #: "day" or "month" when what stopped the account is its own quota, which the
        #: provider resets by itself at midnight, Beijing time; None when a person must act
        self.resets = resets


class ProviderConfigError(PermanentSmsError):
    """The provider refuses our configuration, not this text (credentials, sign name,
    template code, a template key missing from SMS_TEMPLATES): no text of that kind goes
    out until an operator fixes the settings."""


def sign_name(config: Mapping[str, Any]) -> str:
    """The registered signature sent as a domestic provider's sign name: SMS_SIGN_NAME,
    else SMS_SIGNATURE without its 【】 (the provider adds those itself)."""
    return config.get("SMS_SIGN_NAME") or str(config.get("SMS_SIGNATURE") or "").strip(" 【】")


class LazyClient:
    """A backend's SDK client, built on first use and once across threads: a process on
    another backend never imports that SDK. ``close`` releases pooled connections (tests
    close the gateways they build). A backend says how to build and release its client.
    ``timeout``: seconds one provider call may take (the SDK's read and connect timeout)."""

    def __init__(self, timeout: float) -> None:
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self.timeout = timeout
        self._client: Any = None
        self._lock = threading.Lock()

    @property
    def client(self) -> Any:
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = self._build_client()
        return self._client

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._release(self._client)
            self._client = None

    def _build_client(self) -> Any:
        raise NotImplementedError

    def _release(self, client: Any) -> None:
        """Close what ``client`` holds open; nothing by default."""


class SmsGateway(Protocol):
    name: str

    def send(self, to: str, body: str, *, status_callback: str | None = None) -> SendResult:
        """Hand one message to the provider. ``to`` is E.164, ``body`` complete (signature
        included). Raises TransientSmsError, PermanentSmsError or RecipientOptedOut."""
        ...

    def delivery_status(self, provider_status: str) -> str | None:
        """Map a provider's status word (from a status callback) onto ours:
        sent / delivered / failed / undelivered, or None to ignore it."""
        ...

    def verify_webhook(self, url: str, params: dict[str, str], signature: str | None) -> bool:
        """Whether an inbound webhook really comes from the provider."""
        ...
