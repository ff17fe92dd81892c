"""Texts as older volunteers send them, read as a person would (a parser audit of about
600 real-style texts): 退订 inside a question or a "no" is not an opt-out, the words
people use for "stop" and "start again" are, codes spoken into the phone are codes, and
a call-out answer is read with the same punctuation and politeness as a command."""

from __future__ import annotations

import pytest

from volunteer_hub.callouts.answers import parse_reply
from volunteer_hub.sms.commands import CommandKind, parse

K = CommandKind


@pytest.mark.parametrize(
    "text",
    [
        "我没有退订啊，怎么收不到短信了",
        "我不退订",
        "不要退订我",
        "退订以后还能收到活动通知吗",
        "之前不小心回了退订，怎么恢复",
        "我女儿帮我退订了，我想继续收",
    ],
)
def test_a_text_about_unsubscribing_that_does_not_ask_for_it_is_no_opt_out(text):
    assert parse(text).kind != K.OPT_OUT


@pytest.mark.parametrize(
    "text",
    [
        "退订",
        "我要退订",
        "退订谢谢",
        "请退订",
        "拒收",
        "退定",
        "停止",
        "停止发送",
        "不再接收",
        "不要再发了",
        "别发了",
        "别再给我发短信了",
        "请不要再发短信了！",
        "怎么退订",
        "为什么给我发这个，退订",
    ],
)
def test_the_ways_people_say_stop_are_opt_outs(text):
    assert parse(text).kind == K.OPT_OUT


@pytest.mark.parametrize("text", ["订阅", "我要订阅", "订阅谢谢", "重新订阅", "恢复", "恢复接收"])
def test_the_ways_people_say_start_again_are_opt_ins(text):
    assert parse(text).kind == K.OPT_IN


@pytest.mark.parametrize(
    ("text", "kind", "code"),
    [
        ("报名一二三四", K.SIGN_UP, "1234"),
        ("报名幺二三四", K.SIGN_UP, "1234"),
        ("报名零一二三", K.SIGN_UP, "0123"),
        ("报名1二34", K.SIGN_UP, "1234"),
        ("取消一二三四", K.CANCEL, "1234"),
        ("签到 幺两三四", K.CHECK_IN, "1234"),
    ],
)
def test_a_code_spoken_into_the_phone_is_a_code(text, kind, code):
    command = parse(text)
    assert (command.kind, command.code) == (kind, code)


@pytest.mark.parametrize("text", ["报名一下", "报名一个", "签到 两千", "报名 一二"])
def test_other_chinese_numerals_are_no_code(text):
    assert parse(text).code is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("报名：1234", (True, "1234")),
        ("报名，1234", (True, "1234")),
        ("报名1234谢谢", (True, "1234")),
        ("是，1234", (True, "1234")),
        ("1，1234", (True, "1234")),
        ("1 谢谢", (True, None)),
        ("可以", (True, None)),
        ("不能去", (False, None)),
        ("去不了", (False, None)),
        ("没空 1234", (False, "1234")),
        ("12345", None),  # a code, not "1 2345"
        ("不去了吗", None),
    ],
)
def test_a_call_out_answer_is_read_like_a_command(text, expected):
    assert parse_reply(text) == expected


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        # the help text lists "我的 安排": people type it as one word
        ("我的安排", K.MY_SHIFTS),
        ("我的报名", K.MY_SHIFTS),
        ("我的班次", K.MY_SHIFTS),
        ("我的服务时长", K.MY_HOURS),
        ("时长", K.MY_HOURS),
        ("不好意思，取消1234", K.CANCEL),
        ("对不起 取消1234", K.CANCEL),
        ("帮忙取消1234", K.CANCEL),
        ("领导好，报名1234", K.SIGN_UP),
        ("报名1234谢谢您", K.SIGN_UP),
        ("报名1234辛苦了", K.SIGN_UP),
        ("报名1234麻烦了", K.SIGN_UP),
        ("好的收到", K.ACKNOWLEDGE),
        ("没问题", K.ACKNOWLEDGE),
        ("沒問題", K.ACKNOWLEDGE),
        ("明白了", K.ACKNOWLEDGE),
        ("可以", K.ACKNOWLEDGE),
        ("恢復", K.OPT_IN),
        ("不要再發了", K.OPT_OUT),
    ],
)
def test_more_of_how_people_write(text, kind):
    assert parse(text).kind == kind


@pytest.mark.parametrize(
    ("text", "kind", "codes"),
    [
        ("1234报名", K.SIGN_UP, ("1234",)),
        ("1234 取消", K.CANCEL, ("1234",)),
        ("7503 取消报名", K.CANCEL, ("7503",)),
        ("1234确认", K.CONFIRM, ("1234",)),
        ("报名1234跟5678", K.SIGN_UP, ("1234", "5678")),
        ("报名1234与5678", K.SIGN_UP, ("1234", "5678")),
        ("报名1234 报名5678", K.SIGN_UP, ("1234", "5678")),
        ("报名1234\n报名5678", K.SIGN_UP, ("1234", "5678")),
        ("取消1234，取消5678", K.CANCEL, ("1234", "5678")),
    ],
)
def test_the_code_first_and_the_keyword_said_again(text, kind, codes):
    command = parse(text)
    assert (command.kind, command.codes) == (kind, codes)


@pytest.mark.parametrize("text", ["1234", "1234 我的", "签到1234 签到5678"])
def test_a_code_alone_or_several_where_one_is_taken_stays_unknown(text):
    assert parse(text).kind == K.UNKNOWN
