"""Parsing inbound texts: the table of CONTRACTS.md, "SMS commands"."""

from __future__ import annotations

import random

import pytest

from volunteer_hub.sms.commands import (
    CODE_REQUIRED,
    OPT_IN_WORDS,
    OPT_OUT_WORDS,
    Command,
    CommandKind,
    normalise,
    parse,
)

K = CommandKind

# Every keyword of the contract: (spelling, kind, normalised keyword).
CODE_KEYWORDS = [
    ("报名", K.SIGN_UP, "报名"),
    ("BM", K.SIGN_UP, "BM"),
    ("bm", K.SIGN_UP, "BM"),
    ("Bm", K.SIGN_UP, "BM"),
    ("ＢＭ", K.SIGN_UP, "BM"),
    ("ｂｍ", K.SIGN_UP, "BM"),
    ("JOIN", K.SIGN_UP, "JOIN"),
    ("join", K.SIGN_UP, "JOIN"),
    ("Join", K.SIGN_UP, "JOIN"),
    ("ＪＯＩＮ", K.SIGN_UP, "JOIN"),
    ("取消", K.CANCEL, "取消"),
    ("QX", K.CANCEL, "QX"),
    ("qx", K.CANCEL, "QX"),
    ("ＱＸ", K.CANCEL, "QX"),
    ("取消报名", K.CANCEL, "取消报名"),
    ("签到", K.CHECK_IN, "签到"),
    ("QD", K.CHECK_IN, "QD"),
    ("qd", K.CHECK_IN, "QD"),
    ("ｑｄ", K.CHECK_IN, "QD"),
    ("签退", K.CHECK_OUT, "签退"),
    ("QT", K.CHECK_OUT, "QT"),
    ("qt", K.CHECK_OUT, "QT"),
    ("ＱＴ", K.CHECK_OUT, "QT"),
]
CONFIRM_KEYWORDS = [
    ("确认", "确认"),
    ("QR", "QR"),
    ("qr", "QR"),
    ("ＱＲ", "QR"),
    ("Y", "Y"),
    ("y", "Y"),
    ("Ｙ", "Y"),
]
BARE_KEYWORDS = [
    ("我的", K.MY_SHIFTS, "我的"),
    ("WD", K.MY_SHIFTS, "WD"),
    ("wd", K.MY_SHIFTS, "WD"),
    ("ＷＤ", K.MY_SHIFTS, "WD"),
    ("MY", K.MY_SHIFTS, "MY"),
    ("my", K.MY_SHIFTS, "MY"),
    ("My", K.MY_SHIFTS, "MY"),
    ("我的时长", K.MY_HOURS, "我的时长"),
    ("SC", K.MY_HOURS, "SC"),
    ("sc", K.MY_HOURS, "SC"),
    ("帮助", K.HELP, "帮助"),
    ("BZ", K.HELP, "BZ"),
    ("bz", K.HELP, "BZ"),
    ("HELP", K.HELP, "HELP"),
    ("help", K.HELP, "HELP"),
    ("Help", K.HELP, "HELP"),
    ("ＨＥＬＰ", K.HELP, "HELP"),
]

# How people write the code after a keyword: template with {k} and {c}.
CODE_FORMS = [
    "{k} {c}",
    "{k}{c}",
    "{k}  {c}",
    "{k}\u3000{c}",  # ideographic (full-width) space
    " {k} {c} ",
    "{k} {c}。",
    "{k} {c}.",
    "{k}{c}!",
    "{k}:{c}",
    "{k}：{c}",
    "{k},{c}",
    "{k}，{c}",
    "{k}+{c}",
    "{k}＋{c}",
    "{k}#{c}",
    "{k}-{c}",
    "【{k}】{c}",
    "[{k}] {c}",
    "“{k} {c}”",
    "{k} {c} 👍",
    "{k}\n{c}",
    "{k}\t{c}\r\n",
    "{k}\u200b{c}",  # a zero-width space pasted from a chat app
]


_TO_FULL_WIDTH = {c: c - 0x21 + 0xFF01 for c in range(0x21, 0x7F)}


def _full_width(text: str) -> str:
    return text.translate(_TO_FULL_WIDTH)


@pytest.mark.parametrize(("spelling", "kind", "keyword"), CODE_KEYWORDS)
@pytest.mark.parametrize("form", CODE_FORMS)
def test_keyword_with_code(spelling, kind, keyword, form):
    assert parse(form.format(k=spelling, c="1234")) == Command(kind, "1234", keyword)


@pytest.mark.parametrize(("spelling", "kind", "keyword"), CODE_KEYWORDS)
def test_full_width_code(spelling, kind, keyword):
    assert parse(f"{spelling}{_full_width('5678')}") == Command(kind, "5678", keyword)
    assert parse(f"{spelling}　{_full_width('5678')}") == Command(kind, "5678", keyword)


@pytest.mark.parametrize(
    "text",
    ["报名１２３４", "ＢＭ 1234", "bm 1234", "BM1234", "报名 1234", "join1234", "报名 1234。"],
)
def test_acceptance_examples_of_the_issue(text):
    command = parse(text)
    assert command.kind is K.SIGN_UP
    assert command.code == "1234"


@pytest.mark.parametrize("code", ["123", "1234", "12345", "123456", "1234567", "12345678"])
def test_codes_of_three_to_eight_digits(code):
    assert parse(f"报名 {code}") == Command(K.SIGN_UP, code, "报名")


def test_code_keeps_leading_zeros():
    assert parse("QD 0042") == Command(K.CHECK_IN, "0042", "QD")


@pytest.mark.parametrize(("spelling", "kind", "keyword"), CODE_KEYWORDS)
@pytest.mark.parametrize("form", ["{k}", "{k}。", " {k} ", "{k}?", "【{k}】", "{k}：", "{k}+"])
def test_missing_code_keeps_the_kind_without_code(spelling, kind, keyword, form):
    assert parse(form.format(k=spelling)) == Command(kind, None, keyword)


@pytest.mark.parametrize(
    "text",
    [
        "报名 12",  # too short
        "报名 1",
        "报名 123456789",  # too long
        "报名 12a4",  # letters mixed in
        "报名 A1234",
        "BM 1234A",
        "bm abcd",
        "报名 一二",  # too short, in Chinese numerals as in digits
        "报名 ١٢٣٤",  # Arabic-Indic digits are not ASCII digits
        "报名 12 34",  # a split code
        "报名 1234 明天",  # words after the code
        "报名 1234 5678 谢谢 9",
        "报名 1234.5",
        "报名+编号",  # the hint typed literally
        "签到 -1234-5",
    ],
)
def test_bad_codes_are_unknown(text):
    assert parse(text) == Command(K.UNKNOWN)


@pytest.mark.parametrize(("spelling", "keyword"), CONFIRM_KEYWORDS)
@pytest.mark.parametrize("form", ["{k}", "{k}。", "{k}!", " {k} ", "{k}\u3000"])
def test_confirm_without_code(spelling, keyword, form):
    assert parse(form.format(k=spelling)) == Command(K.CONFIRM, None, keyword)


@pytest.mark.parametrize(("spelling", "keyword"), CONFIRM_KEYWORDS)
@pytest.mark.parametrize("form", ["{k} {c}", "{k}{c}", "{k}：{c}", "{k} {c}。"])
def test_confirm_with_code(spelling, keyword, form):
    assert parse(form.format(k=spelling, c="4321")) == Command(K.CONFIRM, "4321", keyword)


@pytest.mark.parametrize(("spelling", "kind", "keyword"), BARE_KEYWORDS)
@pytest.mark.parametrize("form", ["{k}", "{k}。", "{k}?", "{k}？", " {k} ", "【{k}】", "{k}!!"])
def test_commands_without_code(spelling, kind, keyword, form):
    assert parse(form.format(k=spelling)) == Command(kind, None, keyword)


@pytest.mark.parametrize(("spelling", "kind", "keyword"), BARE_KEYWORDS)
def test_commands_without_code_take_no_code(spelling, kind, keyword):
    assert parse(f"{spelling} 1234") == Command(K.UNKNOWN)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("我的 时长", Command(K.MY_HOURS, None, "我的时长")),
        ("取消 报名 1234", Command(K.CANCEL, "1234", "取消报名")),
        ("取消，报名1234", Command(K.CANCEL, "1234", "取消报名")),
        ("报 名 1234", Command(K.SIGN_UP, "1234", "报名")),
    ],
)
def test_spaces_inside_a_chinese_keyword_are_ignored(text, expected):
    assert parse(text) == expected


@pytest.mark.parametrize(
    "text", ["BMX 1234", "BMW", "YES", "yes 1234", "MYSELF", "JOINED 1234", "QRS", "SCHOOL"]
)
def test_latin_keyword_must_not_run_into_more_letters(text):
    assert parse(text) == Command(K.UNKNOWN)


# -- opt-out and opt-in ----------------------------------------------------------------


@pytest.mark.parametrize("word", sorted(OPT_OUT_WORDS))
@pytest.mark.parametrize(
    "form", ["{w}", "{w}.", "{w}。", "{w}!", " {w} ", "【{w}】", "“{w}”", "{w}\r\n"]
)
def test_opt_out_words_as_the_whole_message(word, form):
    assert parse(form.format(w=word)) == Command(K.OPT_OUT, None, word)


@pytest.mark.parametrize("word", sorted(OPT_OUT_WORDS - {"R"}))
def test_repeated_opt_out_words(word):
    assert parse(f"{word} {word}!") == Command(K.OPT_OUT, None, word)


@pytest.mark.parametrize("word", sorted(w for w in OPT_OUT_WORDS if w.isascii()))
def test_opt_out_words_any_case_and_full_width(word):
    assert parse(word.lower()) == Command(K.OPT_OUT, None, word)
    assert parse(word.capitalize()) == Command(K.OPT_OUT, None, word)
    assert parse(word.translate(_TO_FULL_WIDTH)) == Command(K.OPT_OUT, None, word)


@pytest.mark.parametrize(
    "text", ["CANCEL", "cancel", "Cancel.", "CANCEL 1234", "cancel1234", "CANCEL 报名 1234"]
)
def test_cancel_is_always_opt_out_never_our_cancel(text):
    assert parse(text) == Command(K.OPT_OUT, None, "CANCEL")


@pytest.mark.parametrize("text", ["CANCELLED", "cancellation 1234"])
def test_a_longer_word_starting_with_cancel_is_not_cancel(text):
    assert parse(text) == Command(K.UNKNOWN)


@pytest.mark.parametrize("text", ["R", "r", "R.", " r ", "Ｒ", "R!"])
def test_r_alone_is_opt_out(text):
    assert parse(text) == Command(K.OPT_OUT, None, "R")


@pytest.mark.parametrize(
    "text",
    ["R u there", "R 1234", "r u coming?", "RR", "R&R", "R R", "ready", "R报名 1234"],
)
def test_r_in_a_sentence_is_not_opt_out(text):
    assert parse(text).kind is not K.OPT_OUT


@pytest.mark.parametrize(
    "text",
    [
        "please stop texting me",
        "I can't stop by today",
        "stop by at 8?",
        "the end",
        "STOP 1234",
        "TD 1234",
        "quit smoking",
        "start 1234",
    ],
)
def test_sentences_with_opt_out_words_are_not_opt_out(text):
    # Carriers match the whole message; "stop", "end", "quit" are common words. The help
    # reply to UNKNOWN tells the person how to opt out.
    assert parse(text) == Command(K.UNKNOWN)


@pytest.mark.parametrize(
    "text",
    [
        "退订",
        "退订。",
        "退订！",
        "TD",
        "td",
        "Td.",
        "ＴＤ",
        "我要退订",
        "退订谢谢",
        "请帮我退订短信",
    ],
)
def test_chinese_unsubscribe_anywhere_is_opt_out(text):
    assert parse(text).kind is K.OPT_OUT


@pytest.mark.parametrize("text", ["取消订阅", "取消 订阅", "取消订阅。"])
def test_cancel_subscription_is_opt_out_not_cancel(text):
    assert parse(text) == Command(K.OPT_OUT, None, "取消订阅")


@pytest.mark.parametrize("word", sorted(OPT_IN_WORDS))
@pytest.mark.parametrize("form", ["{w}", "{w}。", " {w}! "])
def test_opt_in_words(word, form):
    assert parse(form.format(w=word)) == Command(K.OPT_IN, None, word)


@pytest.mark.parametrize("text", ["start", "Start", "ＳＴＡＲＴ", "unstop", "Unstop."])
def test_opt_in_any_case(text):
    assert parse(text).kind is K.OPT_IN


@pytest.mark.parametrize("text", ["STOP START", "start stop", "订阅 退订"])
def test_mixed_opt_out_and_in_never_opts_in(text):
    assert parse(text).kind is not K.OPT_IN


# -- unknown ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "",
        " ",
        "\u3000",
        "。。。",
        "👍",
        "1234",
        "你好",
        "谢谢",
        "hello",
        "报名了",
        "我想",
        "报名报名",
        "请问明天几点集合？",
        "\x00\x01\x02",
        "http://example.com/报名/1234",
    ],
)
def test_anything_else_is_unknown(text):
    assert parse(text) == Command(K.UNKNOWN)


def test_code_required_kinds():
    assert {K.SIGN_UP, K.CANCEL, K.CHECK_IN, K.CHECK_OUT} == CODE_REQUIRED


def test_command_is_frozen():
    command = parse("BM 1234")
    with pytest.raises(AttributeError):
        command.code = "9999"  # type: ignore[misc]


# -- normalise -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ＢＭ　１２３４", "BM 1234"),
        ("  bm   1234  ", "BM 1234"),
        ("报名 1234。", "报名 1234"),
        ("【报名】1234", "报名】1234"),
        ("stop!!!", "STOP"),
        ("BM\u200b1234", "BM1234"),
        ("a\x00b", "A B"),
        ("line\r\nbreak", "LINE BREAK"),
        ("👍报名 1234👍", "报名 1234"),
        ("", ""),
        ("。", ""),
    ],
)
def test_normalise(text, expected):
    assert normalise(text) == expected


def test_normalise_is_idempotent():
    for text in _corpus(500, seed=7):
        once = normalise(text)
        assert normalise(once) == once


# -- never raises ----------------------------------------------------------------------

_ALPHABET = (
    list("报名取消确认签到退我的时长帮助订阅TDRSTOPCANCELBMJOINQXYWDZHELPstart")
    + list("0123456789０１２３４５６７８９ＡＢＣ")
    + list(" \t\r\n\u3000\u200b\u200d\ufeff\x00\x07\x1b\x7f")
    + list("。，：！？、【】“”.,:!?+-#*()[]{}<>/\\'\"…")
    + ["👍", "🙏", "👨‍👩‍👧", "\U0001f1e8\U0001f1f3", "\ufe0f", "\u0301", "\ud800", "\udfff"]
    + ["ß", "ﬁ", "İ", "ı", "①", "²", "㍱", "١", "\u202e", "\U00020000"]
)


def _corpus(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    texts = []
    for _ in range(count):
        length = rng.choice([0, 1, 2, 3, 5, 8, 13, 40, 200])
        if rng.random() < 0.2:
            # arbitrary code points, surrogates and unassigned ones included
            texts.append("".join(chr(rng.randrange(0x110000)) for _ in range(length)))
        else:
            texts.append("".join(rng.choice(_ALPHABET) for _ in range(length)))
    return texts


def test_parse_never_raises_and_always_returns_a_sound_command():
    for text in _corpus(5000, seed=20241125):
        command = parse(text)
        assert isinstance(command, Command)
        assert isinstance(command.kind, CommandKind)
        if command.code is not None:
            assert command.code.isascii()
            assert command.code.isdigit()
            assert 3 <= len(command.code) <= 8
            assert command.kind in CODE_REQUIRED or command.kind in (K.CONFIRM, K.CORRECTION)
        if command.note:
            assert command.kind is K.CORRECTION
        if command.kind is K.UNKNOWN:
            assert command.keyword == ""
            assert command.code is None
        else:
            assert command.keyword


def test_parse_of_a_long_text_is_unknown():
    # How long it takes is measured by bench/sms_parse.py, not here.
    text = "报名 " + "1" * 100_000 + " 。" * 50_000
    assert parse(text) == Command(K.UNKNOWN)


def test_parse_of_not_a_string_is_unknown():
    assert parse(None) == Command(K.UNKNOWN)  # type: ignore[arg-type]


# -- corrections: 更正 / GZ [CODE] note ------------------------------------------------


@pytest.mark.parametrize(
    ("text", "code", "note"),
    [
        ("更正 1234 实际8点到", "1234", "实际8点到"),
        ("GZ 1234 实际8点到", "1234", "实际8点到"),
        ("gz1234 Arrived at 8, left at 11.", "1234", "Arrived at 8, left at 11"),
        ("ＧＺ１２３４，实际８点到", "1234", "实际８点到"),
        ("更正1234时间不对", "1234", "时间不对"),
        ("更正：1234：少记了半小时", "1234", "少记了半小时"),
        ("【更正】1234 少记了半小时", "1234", "少记了半小时"),
        ("更 正 1234 少记了 半小时", "1234", "少记了 半小时"),
        ("更正 0042 x", "0042", "x"),
        ("更正 12345678 x", "12345678", "x"),
        ("更正 1234", "1234", ""),
        ("更正 少记了半小时", None, "少记了半小时"),
        ("更正 10点到的", None, "10点到的"),  # two digits: not a code
        # a time or a date, not a code: the note keeps it whole
        ("更正 830到的", None, "830到的"),
        ("更正 1230到1630", None, "1230到1630"),
        ("更正 2024年12月5日我在", None, "2024年12月5日我在"),
        ("更正 1130点签退的", None, "1130点签退的"),
        ("更正 123456789 x", None, "123456789 x"),  # too long for a code
        ("更正 1234a 不对", None, "1234a 不对"),  # a code runs into no letter
        ("更正", None, ""),
        ("GZ。", None, ""),
    ],
)
def test_correction(text, code, note):
    keyword = "GZ" if text.upper().startswith(("GZ", "ＧＺ")) else "更正"
    assert parse(text) == Command(K.CORRECTION, code, keyword, note)


@pytest.mark.parametrize("text", ["GZX 1234", "gzip 1234", "更正退订", "GZ 1234 STOP 退订"])
def test_not_a_correction(text):
    assert parse(text).kind is not K.CORRECTION


def test_correction_is_not_a_code_required_kind():
    assert K.CORRECTION not in CODE_REQUIRED  # without a code: the latest record


def test_parse_of_a_long_correction_has_no_code():
    command = parse("更正 " + "1" * 100_000 + " 说明" * 50_000)
    assert command.kind is K.CORRECTION and command.code is None


def test_correction_texts_never_raise():
    rng = random.Random(5)
    for text in _corpus(2000, seed=11):
        command = parse(rng.choice(["更正", "GZ", "gz ", "更 正"]) + text)
        assert command.kind in (K.CORRECTION, K.OPT_OUT, K.UNKNOWN)
        if command.code is not None:
            assert command.code.isascii() and command.code.isdigit()


# -- answering a team's invitation: 加入 / 不加入 [CODE] ---------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("加入", Command(K.JOIN_TEAM, None, "加入")),
        ("加入。", Command(K.JOIN_TEAM, None, "加入")),
        (" 加 入 ", Command(K.JOIN_TEAM, None, "加入")),
        ("同意加入", Command(K.JOIN_TEAM, None, "同意加入")),
        ("JR", Command(K.JOIN_TEAM, None, "JR")),
        ("jr", Command(K.JOIN_TEAM, None, "JR")),
        ("ＪＲ", Command(K.JOIN_TEAM, None, "JR")),
        ("加入 007", Command(K.JOIN_TEAM, "007", "加入")),
        ("加入１２３", Command(K.JOIN_TEAM, "123", "加入")),
        ("JR 4567", Command(K.JOIN_TEAM, "4567", "JR")),
        ("不加入", Command(K.DECLINE_TEAM, None, "不加入")),
        ("不同意加入", Command(K.DECLINE_TEAM, None, "不同意加入")),
        ("BJR", Command(K.DECLINE_TEAM, None, "BJR")),
        ("不加入 012", Command(K.DECLINE_TEAM, "012", "不加入")),
    ],
)
def test_team_invitation_answers(text, expected):
    assert parse(text) == expected


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("JOIN 1234", K.SIGN_UP),  # JOIN stays 报名 (CONTRACTS.md)
        ("JRX", K.UNKNOWN),
        ("加入 12", K.UNKNOWN),
        ("加入吧", K.UNKNOWN),
        ("加入 退订", K.OPT_OUT),  # opt-out wins, as everywhere
    ],
)
def test_not_a_team_invitation_answer(text, kind):
    assert parse(text).kind is kind


def test_team_invitation_answers_need_no_code():
    assert K.JOIN_TEAM not in CODE_REQUIRED and K.DECLINE_TEAM not in CODE_REQUIRED
