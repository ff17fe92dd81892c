"""How older people really write: traditional characters, polite words, letters for
digits, several codes at once, "好的" after a reminder, "我的 2" (issue 16, items 1–4).

The tables are the parser's contract; tests/sms/test_parser_replies.py checks what the webhook
answers to the same texts.
"""

from __future__ import annotations

import pytest

from volunteer_hub.sms.commands import (
    ACKNOWLEDGEMENTS,
    MULTI_CODE,
    Command,
    CommandKind,
    parse,
)
from volunteer_hub.sms.templates import TRADITIONAL

K = CommandKind

#: simplified → traditional, from the template checker's table (drawn from OpenCC):
#: a source of traditional forms independent of the parser's own table
_TO_TRADITIONAL = str.maketrans({simplified: trad for trad, simplified in TRADITIONAL.items()})

KEYWORDS = [
    ("报名 7503", K.SIGN_UP, "7503"),
    ("取消 7503", K.CANCEL, "7503"),
    ("取消报名 7503", K.CANCEL, "7503"),
    ("确认", K.CONFIRM, None),
    ("确认 7503", K.CONFIRM, "7503"),
    ("签到 7503", K.CHECK_IN, "7503"),
    ("签退 7503", K.CHECK_OUT, "7503"),
    ("签到", K.CHECK_IN, None),
    ("签退", K.CHECK_OUT, None),
    ("我的", K.MY_SHIFTS, None),
    ("我的时长", K.MY_HOURS, None),
    ("帮助", K.HELP, None),
    ("更正 7503 实际8点到", K.CORRECTION, "7503"),
    ("退订", K.OPT_OUT, None),
    ("取消订阅", K.OPT_OUT, None),
    ("订阅", K.OPT_IN, None),
]


@pytest.mark.parametrize(("text", "kind", "code"), KEYWORDS)
def test_traditional_form_of_every_keyword(text, kind, code):
    command = parse(text.translate(_TO_TRADITIONAL))
    assert (command.kind, command.code) == (kind, code)


#: traditional characters, as phones set to traditional Chinese send them
TRADITIONAL_TEXTS = {
    "報名 7503": Command(K.SIGN_UP, "7503", "报名"),
    "簽到": Command(K.CHECK_IN, None, "签到"),
    "籤到 7503": Command(K.CHECK_IN, "7503", "签到"),
    "簽退7503": Command(K.CHECK_OUT, "7503", "签退"),
    "我的時長": Command(K.MY_HOURS, None, "我的时长"),
    "確認": Command(K.CONFIRM, None, "确认"),
    "退訂": Command(K.OPT_OUT, None, "退订"),
    "訂閱": Command(K.OPT_IN, None, "订阅"),
    "幫助": Command(K.HELP, None, "帮助"),
}
#: polite words before a keyword, "一下" after it, thanks at the end
FILLER_TEXTS = {
    "我要报名7503": Command(K.SIGN_UP, "7503", "报名"),
    "我要報名 7503": Command(K.SIGN_UP, "7503", "报名"),
    "我想报名 7503": Command(K.SIGN_UP, "7503", "报名"),
    "报名一下 7503": Command(K.SIGN_UP, "7503", "报名"),
    "报名一下7503": Command(K.SIGN_UP, "7503", "报名"),
    "请帮我取消 7503": Command(K.CANCEL, "7503", "取消"),
    "請幫我取消 7503": Command(K.CANCEL, "7503", "取消"),
    "麻烦取消报名 7503，谢谢": Command(K.CANCEL, "7503", "取消报名"),
    "您好，签到 7503": Command(K.CHECK_IN, "7503", "签到"),
    "报名 7503 谢谢": Command(K.SIGN_UP, "7503", "报名"),
    "我来签到": Command(K.CHECK_IN, None, "签到"),
    "我想报名": Command(K.SIGN_UP, None, "报名"),
    "请 我的时长": Command(K.MY_HOURS, None, "我的时长"),
}


@pytest.mark.parametrize(("text", "expected"), [*TRADITIONAL_TEXTS.items(), *FILLER_TEXTS.items()])
def test_how_people_write_a_command(text, expected):
    assert parse(text) == expected


@pytest.mark.parametrize(
    "text",
    ["请", "我要", "你好", "谢谢", "请问明天几点集合？", "我要去", "加入吧", "报名了"],
)
def test_filler_words_alone_are_not_a_command(text):
    assert parse(text) == Command(K.UNKNOWN)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("报名 75O3", "7503"),
        ("报名 75o3", "7503"),
        ("报名 750O", "7500"),
        ("报名 l234", "1234"),
        ("报名 I234", "1234"),
        ("报名 12|4", "1214"),
        ("报名７５Ｏ３", "7503"),
        ("BM 75O3", "7503"),
    ],
)
def test_letters_that_look_like_digits_inside_a_code(text, code):
    assert parse(text).code == code


@pytest.mark.parametrize(
    "text",
    [
        "报名 LOL",  # no digit at all
        "报名 BOOK",
        "报名 1OO",  # more look-alikes than digits
        "报名 OOO3",
        "报名 75X3",  # X looks like no digit
        "BOOK 1234",  # not inside a word: "BO" is no keyword
        "报名 7503OK",
    ],
)
def test_look_alike_letters_only_inside_a_code(text):
    assert parse(text) == Command(K.UNKNOWN)


@pytest.mark.parametrize(
    ("text", "codes"),
    [
        ("报名 7503 7290", ("7503", "7290")),
        ("报名7503，7290", ("7503", "7290")),
        ("报名 7503、7290、7311", ("7503", "7290", "7311")),
        ("报名 7503和7290", ("7503", "7290")),
        ("報名 7503 72９0", ("7503", "7290")),
        ("报名 7503 75O3", ("7503",)),  # the same code twice counts once
        ("取消 7503 7290", ("7503", "7290")),
        ("我要报名 7503 7290 谢谢", ("7503", "7290")),
    ],
)
def test_several_codes_in_one_text(text, codes):
    assert parse(text).codes == codes


@pytest.mark.parametrize(
    "text", ["签到 7503 7290", "确认 7503 7290", "加入 007 008", "报名 7503 12", "报名 7503 明天"]
)
def test_several_codes_only_where_several_are_taken(text):
    assert parse(text) == Command(K.UNKNOWN)


def test_multi_code_kinds():
    assert {K.SIGN_UP, K.CANCEL} == MULTI_CODE


@pytest.mark.parametrize(
    "text", ["好的", "好", "收到", "收到了", "是", "是的", "嗯", "嗯嗯", "1", "OK", "ok", "Ok。"]
)
def test_acknowledgements(text):
    command = parse(text)
    assert command.kind is K.ACKNOWLEDGE
    assert command.keyword in ACKNOWLEDGEMENTS


@pytest.mark.parametrize("text", ["好的，谢谢", "收到！", "  嗯  ", "好的啊"])
def test_acknowledgements_with_thanks_and_punctuation(text):
    assert parse(text).kind is K.ACKNOWLEDGE


@pytest.mark.parametrize("text", ["好的 7503", "1 7503", "是我", "OKAY", "11", "2"])
def test_not_an_acknowledgement(text):
    assert parse(text).kind is not K.ACKNOWLEDGE


@pytest.mark.parametrize(
    ("text", "page"),
    [("我的", 1), ("我的 2", 2), ("我的2", 2), ("WD 3", 3), ("my 12", 12), ("我的 １", 1)],
)
def test_my_shifts_page(text, page):
    assert parse(text) == Command(K.MY_SHIFTS, None, parse(text).keyword, page=page)


@pytest.mark.parametrize("text", ["我的 0", "我的 100", "我的 2 3", "我的 第二页"])
def test_my_shifts_bad_page(text):
    assert parse(text) == Command(K.UNKNOWN)
