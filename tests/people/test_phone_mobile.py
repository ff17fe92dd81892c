"""A mainland mobile number is read without phonenumbers' parse (``_MAINLAND_MOBILE``):
``normalize_phone`` and ``mask_phone`` must give exactly what phonenumbers gives, for every
prefix a mobile pattern can tell apart and for what only looks like a mobile number."""

import random

import phonenumbers
import pytest

from volunteer_hub.people.services import InvalidPhone, mask_phone, normalize_phone


def _phonenumbers_e164(text: str, region: str = "CN") -> str | None:
    """What phonenumbers makes of ``text`` typed in ``region``: E.164, or None (refused)."""
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _phonenumbers_mask(e164: str) -> str:
    number = phonenumbers.parse(e164, None)
    national = str(number.national_number)
    masked = national[:3] + "*" * max(len(national) - 7, 1) + national[-4:]
    return masked if number.country_code == 86 else f"+{number.country_code} {masked}"


def _ours(text: str, region: str = "CN") -> str | None:
    try:
        return normalize_phone(text, region)
    except InvalidPhone:
        return None


def _eleven_digit_numbers() -> list[str]:
    """Every five-digit prefix starting with 1 (the patterns look at four or five
    digits), and every six-digit one under 161 and 174 (1610…, 1740[0-5]…), each with
    tails drawn from a fixed seed."""
    draw = random.Random(15)
    prefixes = [f"1{n:04d}" for n in range(10_000)]
    prefixes += [f"{head}{n:03d}" for head in ("161", "174") for n in range(1000)]
    return [
        prefix + "".join(draw.choice("0123456789") for _ in range(11 - len(prefix)))
        for prefix in prefixes
        for _ in range(2)
    ]


def test_every_eleven_digit_number_starting_with_1_normalises_as_phonenumbers_does(app):
    numbers = _eleven_digit_numbers()
    valid = 0
    for digits in numbers:
        for text in (digits, f"+86{digits}"):
            expected = _phonenumbers_e164(text)
            assert _ours(text) == expected, text
            valid += expected is not None
    assert valid > len(numbers) // 2  # the comparison covers the shortcut, not only refusals


def test_every_mainland_mobile_is_masked_as_phonenumbers_masks_it(app):
    for digits in _eleven_digit_numbers():
        e164 = _phonenumbers_e164(digits)
        if e164 is not None:
            assert mask_phone(e164) == _phonenumbers_mask(e164), e164


@pytest.mark.parametrize(
    "text",
    [
        "+8613800138000",
        "13800138000",
        "+86 138 0013 8000",
        "138-0013-8000",
        "+86１３８００１３８０００",  # full-width digits
        "１３８００１３８０００",
        "+86138001380001",  # one digit too many
        "+8613800138000\n",
        "086 13800138000",
        "008613800138000",
        "+8612345678901",  # no mobile prefix
        "+8614000000000",
        "+8617951380013",  # an IP-dialling prefix (17951) in front of nothing
        "1795113800138000",
        "+86179 5113 8001 38",
        "+8616100000000",
        "+8617406000000",
        "+8617405000000",
        "+8613800138000 ext. 12",
        "+14155552671",
        "+86 10 6552 9988",
    ],
)
def test_what_only_looks_like_a_mobile_number_is_read_as_phonenumbers_reads_it(text, app):
    assert _ours(text) == _phonenumbers_e164(text.strip())
    expected = _phonenumbers_e164(text.strip())
    if expected is not None:
        assert mask_phone(expected) == _phonenumbers_mask(expected)


def test_another_region_does_not_take_a_bare_number_as_mainland(app):
    for region in ("US", "GB", "HK"):
        for text in ("13800138000", "+8613800138000", "17405123456"):
            assert _ours(text, region) == _phonenumbers_e164(text, region), (text, region)
    assert _ours("13800138000", "US") != "+8613800138000"
