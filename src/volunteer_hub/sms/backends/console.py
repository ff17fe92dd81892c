"""The development backend: nothing leaves the machine.

The outbox row itself is what a developer reads (the /dev/sms page shows it), so the
console only logs that a text went out: its masked recipient and its size, never the
number or the words.
"""

from __future__ import annotations

import logging
import uuid

from volunteer_hub.sms.gateway import SendResult
from volunteer_hub.sms.segments import count_segments

log = logging.getLogger(__name__)

OUR_STATUSES = frozenset({"sent", "delivered", "failed", "undelivered"})


def mask(phone: str) -> str:
    """+8613800138000 → 138****8000; anything else keeps only its last four digits."""
    digits = "".join(ch for ch in phone or "" if ch.isdigit())
    if phone.startswith("+86") and len(digits) == 13:
        national = digits[2:]
        return f"{national[:3]}****{national[-4:]}"
    return "****" + digits[-4:] if len(digits) > 4 else "****"


class ConsoleGateway:
    name = "console"

    def send(self, to: str, body: str, *, status_callback: str | None = None) -> SendResult:
        segments = count_segments(body)
        log.info("console sms to %s: %d chars, %d segment(s)", mask(to), len(body), segments)
        return SendResult(
            provider_sid=f"console-{uuid.uuid4().hex}", status="delivered", segments=segments
        )

    def delivery_status(self, provider_status: str) -> str | None:
        return provider_status if provider_status in OUR_STATUSES else None

    def verify_webhook(self, url: str, params: dict[str, str], signature: str | None) -> bool:
        # No provider signs anything here, so nothing that claims to come from one is
        # believed: the provider webhooks stay closed; /dev/sms calls the app directly.
        return False
