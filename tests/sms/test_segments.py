from __future__ import annotations

import pytest

from volunteer_hub.sms.segments import count_segments, is_gsm7


def test_empty_text_needs_no_segment():
    assert count_segments("") == 0


@pytest.mark.parametrize(
    ("length", "segments"), [(1, 1), (160, 1), (161, 2), (306, 2), (307, 3), (459, 3)]
)
def test_gsm7_single_160_then_153_per_part(length, segments):
    assert count_segments("a" * length) == segments


@pytest.mark.parametrize(
    ("length", "segments"), [(1, 1), (70, 1), (71, 2), (134, 2), (135, 3), (201, 3)]
)
def test_chinese_is_ucs2_single_70_then_67_per_part(length, segments):
    assert count_segments("报" * length) == segments


def test_one_chinese_character_makes_the_whole_text_ucs2():
    text = "【退役军人志愿服务】" + "a" * 60
    assert not is_gsm7(text)
    assert len(text) == 70
    assert count_segments(text) == 1
    assert count_segments(text + "a") == 2


def test_gsm7_extension_characters_take_two_septets():
    assert is_gsm7("{€}")
    assert count_segments("€" * 80) == 1  # 160 septets
    assert count_segments("€" * 80 + "a") == 2


def test_an_escape_pair_is_never_split_across_parts():
    # 152 plain septets then "€" (2): the pair moves whole into the second part.
    assert count_segments("a" * 152 + "€" + "a" * 152) == 3
    assert count_segments("a" * 151 + "€" + "a" * 153) == 2


def test_emoji_takes_two_code_units_and_is_not_split():
    assert count_segments("😀" * 35) == 1
    assert count_segments("😀" * 35 + "a") == 2
    # 66 units then a surrogate pair: it does not fit in the 67-unit part.
    assert count_segments("报" * 66 + "😀" + "报" * 66) == 3


def test_typical_reminder_text_is_two_parts():
    body = (
        "【退役军人志愿服务】提醒：明天 08:00 长江大保护巡河（武昌江滩集合），"
        "班次 1234，地点见活动页。回复 确认 参加，或回复 取消 1234 取消报名"
    )
    assert 70 < len(body) <= 134
    assert count_segments(body) == 2
