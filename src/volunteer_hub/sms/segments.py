"""How many SMS segments a text costs (what carriers bill and what Twilio reports).

A text that fits the GSM 03.38 alphabet travels as 7-bit septets: 160 in one message,
153 per part once it is split (the user-data header of a concatenated message takes the
rest). Anything else, and every Chinese text, travels as UCS-2: 70 UTF-16 code units in
one message, 67 per part. Parts are never split inside an escape sequence (GSM-7
extension characters take two septets) or inside a surrogate pair (an emoji takes two
code units), so the parts are packed one character at a time rather than divided.
"""

from __future__ import annotations

# GSM 03.38 basic character set (one septet each).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# The extension table: an escape septet plus the character, two septets each.
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")

GSM7_SINGLE, GSM7_PART = 160, 153
UCS2_SINGLE, UCS2_PART = 70, 67


def is_gsm7(body: str) -> bool:
    return all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in body)


def _units(body: str) -> list[int]:
    """The size of each character in the encoding the text will travel in."""
    if is_gsm7(body):
        return [2 if ch in GSM7_EXTENSION else 1 for ch in body]
    return [2 if ord(ch) > 0xFFFF else 1 for ch in body]


def count_segments(body: str) -> int:
    """Segments needed to send ``body``; 0 for an empty text (nothing to send)."""
    if not body:
        return 0
    gsm = is_gsm7(body)
    single, part = (GSM7_SINGLE, GSM7_PART) if gsm else (UCS2_SINGLE, UCS2_PART)
    units = _units(body)
    if sum(units) <= single:
        return 1
    segments, used = 1, 0
    for size in units:
        if used + size > part:
            segments += 1
            used = 0
        used += size
    return segments
