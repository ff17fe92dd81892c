"""The template catalogue: the providers' rules, rendering with the longest real values,
and ``flask sms templates``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from volunteer_hub.callouts import texts as callout_texts
from volunteer_hub.config import DEFAULT_SMS_SIGNATURE
from volunteer_hub.sms import replies
from volunteer_hub.sms.backends.aliyun import load_template_codes
from volunteer_hub.sms.backends.tencent import load_templates
from volunteer_hub.sms.catalogue import CODE, NOTICE, Template, Var
from volunteer_hub.sms.templates import (
    CATALOGUE,
    MAX_TEXT,
    MAX_VARIABLE,
    clean,
    example,
    problems,
    render,
    units,
    variable_problems,
)

SIGNATURE = DEFAULT_SMS_SIGNATURE

# The longest team names in the Wuhan and Ezhou source documents and the demo data (copied here).
LONGEST_TEAMS = ("全市“长江卫士”退役军人志愿服务队", "东塔社区“五老”邻里退役军人志愿服务队")
LONGEST_TEAM = max(LONGEST_TEAMS, key=len)
#: what a leader may type: the form takes 200 characters for a title
LONG_TITLE = "2026年汛期长江干堤鄂州段防汛巡堤暨退役军人志愿服务队应急抢险拉练" * 8
LONG_PLACE = "湖北省鄂州市鄂城区凤凰街道东塔社区长江干堤三江港码头至杨叶镇江堤段集合点" * 4
LONG_REASON = "受上游来水影响长江鄂州段水位持续上涨，堤段封闭，活动改期另行通知" * 4

#: the longest value each variable takes in real use; codes and times are never cut
LONGEST = {
    "title": LONG_TITLE,
    "team": LONGEST_TEAM,
    "place": LONG_PLACE,
    "reason": LONG_REASON,
    "message": LONG_REASON,  # a call-out's message from the leader
    "code": "999999",
    "when": "12月31日 23:59",
    "opens_at": "12月31日 23:59",
    "day": "12月31日",
    "span": "12月31日 22:00–1月1日 06:00",
    "position": "5246",  # every volunteer of Ezhou on one waitlist
    "keyword": "签退",
    "hours": "9999.75",
    "total": "99999.75",
    "year": "2026",
    "year_hours": "8784",
    "pending": "9999",
    "limit": "100",
    "count": "99",
    "phone": "138****8000",
    # lists built by sms/replies.py, at most MAX_VARIABLE units by construction
    "shift_1": "12月31日 23:59 防汛巡堤拉练… 999999",
    "shift_2": "12月31日 23:59 防汛巡堤拉练… 999998",
    "shift_3": "12月31日 23:59 防汛巡堤拉练… 999997",
    "more": "96",
    "next": "33",
    "page": "99",
    "results": "99999999 防汛巡堤… 候补第5246位",
    "results_2": "99999998 防汛巡堤… 活动已取消",
    "results_3": "99999997 无此编号；99999996 无此编号",
    "results_4": "99999995 防汛巡堤… 仅限队员",
    "shifts": "999999 12月31日 23:59 值守；999998 23:59",
    "shifts_2": "999997 1月1日 00:00 值守；999996 00:00",
    "shifts_3": "999995 1月2日 00:00；等99个班次",
    "choices": "东塔社区“…回复“加入001”；全市“长江…回复“加入002”",
}


def _longest(template: Template) -> dict[str, str]:
    return {name: LONGEST[name] for name in template.variables}


def test_the_catalogue_breaks_no_provider_rule():
    assert problems(signature=SIGNATURE) == []


@pytest.mark.parametrize("key", list(CATALOGUE))
def test_every_template_renders_the_longest_real_values_within_the_limits(key):
    template = CATALOGUE[key]
    values = _longest(template)
    rendered = render(key, **values)

    assert rendered.key == key
    assert variable_problems(rendered) == []
    assert len(SIGNATURE + rendered.text) <= MAX_TEXT
    assert all(len(value) <= MAX_VARIABLE for value in rendered.variables.values())
    for name, var in template.variables.items():
        if not var.free:  # a code, a time, a count: sent whole
            assert rendered.variables[name] == values[name]
    if "title" in template.variables:
        assert rendered.variables["title"].endswith("…")
    if template.budget is not None:  # cut to fit, unless every free text is at its floor
        at_floor = all(
            units(rendered.variables[name]) <= template.variables[name].floor
            for name in template.fit
        )
        # ... or the text takes its second budget (two segments) where it has one
        assert units(rendered.text) <= (template.then_budget or template.budget) or at_floor


def test_one_segment_fitting_cuts_the_longest_free_text_first():
    short = render(
        "signup_confirmed", team="莲花山社区戎马志愿服务队", title="防汛巡堤", when="12月1日 08:00",
        place="三江港", code="1234",
    )  # fmt: skip
    assert short.text == (
        "报名成功：莲花山社区戎马志愿服务队“防汛巡堤”，12月1日 08:00，地点：三江港。取消请回复 取消 1234"
    )
    long = render("signup_confirmed", **_longest(CATALOGUE["signup_confirmed"]))
    assert units(long.text) <= 60
    assert long.text.endswith("取消请回复 取消 999999")


def test_free_text_is_cleaned_for_the_providers():
    rendered = render(
        "cancel_done", title="巡堤 联系13800138000 详见 https://example.cn/x", when="12月1日 08:00"
    )
    title = rendered.variables["title"]
    assert "13800138000" not in title and "138****8000" in title
    assert "https" not in title and "example.cn" not in title
    assert clean("详见www.example.cn报名 或 example.com.cn/x 后") == "详见报名 或 后"
    assert variable_problems(rendered) == []


@pytest.mark.parametrize(
    "link",
    ["bit.ly/abc", "evil.top/x", "vh-pay.xyz", "evil。com/x", "t．cn/A6x", "www。example。cn"],
)
def test_short_links_and_disguised_dots_are_links_too(link):
    assert clean(f"详见{link}报名") == "详见报名"


@pytest.mark.parametrize("text", ["No.5班", "Dr.Li讲座", "v1.2版", "三江港。明天见", "U.S.A"])
def test_abbreviations_and_sentences_are_not_links(text):
    assert clean(text) == text


def test_empty_free_text_gets_its_fallback_never_an_empty_variable():
    rendered = render("reminder", title="  ", when="12月1日 08:00", place="", code="1234")
    assert rendered.variables["title"] == "活动"
    assert rendered.variables["place"] == "待定"


def test_render_refuses_unknown_keys_and_missing_or_extra_variables():
    with pytest.raises(KeyError):
        render("no_such_template")
    with pytest.raises(KeyError):
        render("cancel_done", title="巡堤")
    with pytest.raises(KeyError):
        render("help", title="巡堤")


# -- each rule can fail ----------------------------------------------------------------


def _problems_of(content: str, kind: str = NOTICE, **variables: str) -> list[str]:
    template = Template("t", kind, content, "测试", {n: Var(v) for n, v in variables.items()})
    return problems([template], signature=SIGNATURE)


@pytest.mark.parametrize(
    ("content", "variables", "expected"),
    [
        ("【通知】报名成功", {}, "【】"),
        ("报名成功：「${title}」", {"title": "巡堤"}, "symbols"),
        ("报名成功→请准时", {}, "symbols"),
        ("報名成功", {}, "traditional characters: 報→报"),
        ("报名成功" * 130, {}, "500"),
        ("报名成功，详见 https://example.cn", {}, "link"),
        ("报名成功：${team}${title}", {"team": "一队", "title": "巡堤"}, "side by side"),
        ("报名成功：${title}", {}, "differ"),
        ("号码变更：${phone}。", {"phone": "13800138000"}, "mobile number"),
        ("详情：${more}。", {"more": "www.example.cn"}, "link"),
        ("报名成功：${title}", {"title": "巡" * 36}, "36 characters"),
    ],
)
def test_a_broken_rule_is_named(content, variables, expected):
    found = _problems_of(content, **variables)
    assert found and any(expected in problem for problem in found), found


@pytest.mark.parametrize(
    ("content", "variables"),
    [
        ("您的验证码是 ${code}", {"code": "12345678"}),  # 4-6 digits
        ("您的验证码是 ${code}，${minutes}分钟有效", {"code": "1234", "minutes": "10"}),
        ("您的登录码是 ${code}", {"code": "1234"}),  # must say 验证码
    ],
)
def test_a_verification_code_template_has_one_short_numeric_variable(content, variables):
    assert _problems_of(content, CODE, **variables)


def test_the_login_code_template_is_a_verification_code_of_one_variable():
    template = CATALOGUE["login_code"]
    assert template.kind == CODE and template.names == ["code"]
    assert _problems_of(template.content, CODE, code="123456") == []


# -- flask sms templates ---------------------------------------------------------------


def test_the_command_prints_what_a_provider_console_asks_for(runner):
    result = runner.invoke(args=["sms", "templates"])
    assert result.exit_code == 0, result.output
    for key, template in CATALOGUE.items():
        assert (
            f"模板名称：{key}\n模板类型：{template.kind}\n模板内容（阿里云）：{template.content}\n"
            in (result.output)
        )
    assert f"示例：{SIGNATURE}{example(CATALOGUE['login_code']).text}" in result.output
    assert (
        "模板内容（腾讯云）：报名成功：{1}“{2}”，{3}，地点：{4}。取消请回复 取消 {5}"
        in result.output
    )


def test_check_passes_and_fails_naming_the_rule(runner, monkeypatch):
    result = runner.invoke(args=["sms", "templates", "--check"])
    assert result.exit_code == 0, result.output

    bad = Template("bad_one", NOTICE, "报名成功：「${title}」", "测试", {"title": Var("巡堤")})
    monkeypatch.setitem(CATALOGUE, bad.key, bad)
    result = runner.invoke(args=["sms", "templates", "--check"])
    assert result.exit_code != 0
    assert "bad_one: contains symbols the providers refuse: 「」" in result.output


def test_example_mapping_maps_every_key_for_both_providers(runner, tmp_path):
    result = runner.invoke(args=["sms", "templates", "--example-mapping"])
    assert result.exit_code == 0, result.output
    path = tmp_path / "sms_templates.toml"
    path.write_text(result.output, encoding="utf-8")
    aliyun = load_template_codes(path, "aliyun")
    tencent = load_templates(str(path))
    assert set(aliyun) == set(tencent) == set(CATALOGUE)
    assert len(set(aliyun.values())) == len({t.id for t in tencent.values()}) == len(CATALOGUE)
    # Tencent's parameters in the order of its {1}, {2} …
    confirmed = example(CATALOGUE["signup_confirmed"])
    assert tencent["signup_confirmed"].param_set(confirmed.variables) == list(
        confirmed.variables.values()
    )
    assert tencent["signup_confirmed"].params == ("team", "title", "when", "place", "code")


def test_missing_names_the_templates_an_upgrade_added(app, runner, tmp_path):
    """A mapping written for an older release lacks the templates added since: --missing
    lists them, as the console needs them, and fails until each has a code."""
    path = tmp_path / "sms_templates.toml"
    full = runner.invoke(args=["sms", "templates", "--example-mapping"]).output
    path.write_text(full, encoding="utf-8")
    app.config["SMS_TEMPLATES"] = str(path)
    complete = runner.invoke(args=["sms", "templates", "--missing"])
    assert complete.exit_code == 0, complete.output
    assert "every template has a code in aliyun, tencent" in complete.output

    older = "\n".join(line for line in full.splitlines() if "checked_in_stays" not in line)
    path.write_text(older, encoding="utf-8")
    result = runner.invoke(args=["sms", "templates", "--missing"])
    assert result.exit_code != 0
    assert "[aliyun] checked_in_stays" in result.output
    assert "[tencent] checked_in_stays" in result.output
    assert "模板内容（阿里云）：您已在${title}签到" in result.output
    assert "2 template(s) without a code" in result.output


# -- lists built by sms/replies.py stay within one variable each ------------------------


def test_lists_fit_the_variables_a_provider_takes_with_the_longest_real_values():
    start = datetime(2026, 12, 31, 20, 0, tzinfo=UTC)
    shifts = [(str(999_999 - i), start + timedelta(hours=i // 2), "值守二班") for i in range(30)]
    texts = [
        replies.broadcast_call(title=LONG_TITLE, location=LONG_PLACE, shifts=shifts),
        replies.my_shifts([(code, LONG_TITLE, when) for code, when, _name in shifts]),
        replies.my_shifts([(code, "巡", when) for code, when, _name in shifts], page=10),
        replies.invitation_choose([(LONGEST_TEAM, f"{i:03d}") for i in range(9)], accept=False),
        replies.invitation_choose([(LONGEST_TEAM, "001"), ("邓平社区", "002")], accept=True),
        callout_texts.choose([(str(900 + i), LONG_TITLE) for i in range(5)]),
    ]
    for text in texts:
        assert variable_problems(text) == [], text
        assert len(SIGNATURE + text.text) <= MAX_TEXT
    assert texts[0].key == "broadcast_many_3" and texts[0].text.endswith("等30个班次")
    assert texts[1].key == "my_shifts_3_more" and "另有27个，回复“我的 2”" in texts[1].text
    assert texts[2].key == "my_shifts_3" and texts[2].text.endswith("1月1日 18:00 巡 999970")
    assert "加入002" in texts[4].text
