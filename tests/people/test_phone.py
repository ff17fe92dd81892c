import pytest

from volunteer_hub.people.services import (
    InvalidPhone,
    display_phone,
    mask_phone,
    normalize_phone,
)


@pytest.mark.parametrize(
    "raw",
    [
        "13800138000",
        "138 0013 8000",
        "138-0013-8000",
        "+86 138 0013 8000",
        "+8613800138000",
        "008613800138000",
        "１３８００１３８０００",  # full-width digits, as typed on many Chinese phones
    ],
)
def test_chinese_mobile_numbers_normalise_to_e164(raw):
    assert normalize_phone(raw) == "+8613800138000"


@pytest.mark.parametrize(
    "raw", ["", "   ", "12345", "138001380001234", "电话号码", "+86 100 0000 0000"]
)
def test_bad_numbers_are_refused_with_a_chinese_message(raw):
    with pytest.raises(InvalidPhone) as excinfo:
        normalize_phone(raw)
    assert excinfo.value.field == "phone"
    assert "手机号码" in excinfo.value.message


def test_masking_keeps_the_first_three_and_last_four():
    assert mask_phone("+8613800138000") == "138****8000"
    assert display_phone("+8613800138000") == "138 0013 8000"


def test_foreign_numbers_keep_their_country_code_when_masked():
    assert mask_phone("+14155552671").startswith("+1 ")
    assert mask_phone("+14155552671").endswith("2671")
