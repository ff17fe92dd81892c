"""``normalize_phone`` remembers what it made of a number: the second time gives what the
first did, a refused number is refused again with the message in the language of the
moment, and a long input is read as ever."""

import pytest

from volunteer_hub.people.services import InvalidPhone, normalize_phone

#: (as typed, its E.164): mainland mobiles and landlines, and numbers from abroad as
#: Twilio's From gives them
NUMBERS = [
    ("+8613800138000", "+8613800138000"),
    ("+86 139 0400 0001", "+8613904000001"),
    ("13904000001", "+8613904000001"),
    ("010 6552 9988", "+861065529988"),
    ("+14155552671", "+14155552671"),
    ("+442071838750", "+442071838750"),
    ("+44 020 7183 8750", "+442071838750"),  # the national 0 written after the code
    ("+85291234567", "+85291234567"),
]


@pytest.mark.parametrize(("raw", "e164"), NUMBERS)
def test_a_number_normalises_the_same_every_time(raw, e164):
    assert [normalize_phone(raw) for _ in range(3)] == [e164] * 3


def test_the_region_is_part_of_what_is_remembered():
    assert normalize_phone("2071838750", "GB") == "+442071838750"
    assert normalize_phone("2071838750") == "+862071838750"  # a Guangzhou landline
    assert normalize_phone("07911123456", "GB") == "+447911123456"
    with pytest.raises(InvalidPhone):
        normalize_phone("07911123456")  # no mainland number
    assert normalize_phone("07911123456", "GB") == "+447911123456"


@pytest.mark.parametrize("raw", ["12345", "电话号码", "+86 100 0000 0000"])
def test_a_refused_number_is_refused_again_with_its_message(raw, app):
    for _ in range(2):
        with pytest.raises(InvalidPhone) as excinfo:
            normalize_phone(raw)
        assert excinfo.value.field == "phone" and raw in excinfo.value.message


def test_a_long_input_is_read_as_ever():
    padded = "+86 138 0013 8000" + " " * 40 + "ext. 1"
    assert normalize_phone(padded) == normalize_phone(padded) == "+8613800138000"
    with pytest.raises(InvalidPhone):
        normalize_phone("1" * 60)
