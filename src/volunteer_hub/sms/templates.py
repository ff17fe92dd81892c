"""Rendering and checking the template catalogue (``sms/catalogue.py``).

Mainland providers (Aliyun, Tencent Cloud) send only templates approved in their console,
under a registered signature; the console and Twilio backends send the rendered text.
:func:`render` turns a catalogue key and its variables into a :class:`Rendered`: the text
as the console and Twilio send it (the outbox puts ``SMS_SIGNATURE`` in front), the key,
and the variables as sent, which a template backend hands to its provider.

Rendering applies the providers' rules to the variables, so what the phone shows and what
a provider is asked to send are the same words: free text (titles, team names, places,
reasons) has its whitespace collapsed, digit runs that could be a phone number masked and
web addresses dropped (rule 8, and providers refuse numbers and links in variables), an
empty value replaced by a stated fallback (providers refuse empty variables), and is cut
with "…" to at most :data:`MAX_VARIABLE` characters. Codes, times and counts are never cut.
A template with a ``budget`` then cuts its free text further, the longest first, so the
text stays in one segment where it can (what ``sms/replies.py`` did by hand before).

:func:`problems` checks the catalogue against the providers' rules (``flask sms templates
--check`` and tests/sms/test_templates.py). The rules, from the providers' own pages
(Aliyun 通知短信模板规范 / 验证码模板规范, Tencent 正文模板审核标准): no 【】 (the
provider adds the signature), no special symbols such as 「」『』〖〗★※→, no traditional
characters, at most 500 characters with the signature, variables of 1–35 characters
without mobile numbers or links, no two variables side by side, links only as fixed text
registered with the provider (so we flag any), and a verification-code template with
exactly one variable of 4–6 digits and the word 验证码.

Plain Chinese strings rather than ``flask_babel.gettext``: SMS is Chinese-only, rendering
must work in workers without an app context, and the approved templates are Chinese.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from volunteer_hub.i18n import as_shown
from volunteer_hub.sms.catalogue import (
    BODY_BUDGET,
    CATALOGUE,
    CODE,
    MAX_VARIABLE,
    NOTICE,
    PLACEHOLDER,
    Template,
)

__all__ = [
    "BODY_BUDGET",
    "CATALOGUE",
    "MAX_VARIABLE",
    "Rendered",
    "Template",
    "clean",
    "cut",
    "example",
    "format_time",
    "mask_phone_like",
    "problems",
    "render",
    "render_template",
    "units",
    "variable_problems",
]

#: the whole text with the signature (Aliyun and Tencent: 500 characters)
MAX_TEXT = 500
ELLIPSIS = "…"

# 7 or more digits, possibly split by spaces or dashes ("138 0013 8000", "027-8888888"):
# long enough to be a mobile or a landline number. ASCII and full-width digits.
_PHONE_LIKE = re.compile(r"[0-9０-９](?:[\s\-－]?[0-9０-９]){6,}")
_MOBILE = re.compile(r"(?<!\d)(?:\+?86)?1[3-9]\d{9}(?!\d)")
# A web address: with a scheme or www., or a bare domain; ASCII only, so the Chinese
# words around it stay ("详见www.example.cn报名" keeps 详见 and 报名). A dot may be
# typed as 。 or ． to slip past a filter ("evil。com"). The top-level domains: the
# usual ones, the link shorteners' and those spam favours; not every two letters, so
# "No.5" or "Dr.Li" in a title is not taken for a link.
_DOT = "[.\u3002\uff0e\uff61]"
_TOP_LEVEL = (
    "cn|com|net|org|gov|edu|info|biz|top|xyz|vip|shop|site|online|club|store|tech|"
    "space|website|fun|icu|cyou|ink|work|live|group|xin|kim|pro|mobi|asia|app|link|"
    "cc|io|co|me|tv|ly|gl|gd|to|ws|tk|ml|ga|cf|gq|pw|la|so|ru|uk|de|jp|hk|tw|mo"
)
_URL = re.compile(
    rf"(?:https?://|www{_DOT})(?:[!-~]|{_DOT})+"
    rf"|\b[a-z0-9-]+(?:{_DOT}[a-z0-9-]+)*{_DOT}(?:{_TOP_LEVEL})\b[!-~]*",
    re.I | re.A,
)


def units(text: str) -> int:
    """Length in UTF-16 code units, what a UCS-2 segment counts (an emoji is two)."""
    return len(text.encode("utf-16-le")) // 2


def format_time(value: datetime) -> str:
    """ "11月25日 08:00" in the display zone (TIMEZONE); a naive time as given."""
    value = as_shown(value)
    return f"{value.month}月{value.day}日 {value:%H:%M}"


def mask_phone_like(text: str) -> str:
    """Digit runs that could be a phone number as 138****8000 (or **** when short)."""

    def mask(match: re.Match[str]) -> str:
        digits = re.sub(r"[\s\-－]", "", match.group())
        return f"{digits[:3]}****{digits[-4:]}" if len(digits) >= 11 else "****"

    return _PHONE_LIKE.sub(mask, text)


def cut(text: str, max_units: int) -> str:
    """``text`` cut to ``max_units`` UTF-16 units, ending with "…" when cut."""
    if units(text) <= max_units:
        return text
    out = ""
    for ch in text:
        if units(out + ch + ELLIPSIS) > max_units:
            break
        out += ch
    return out + ELLIPSIS


def clean(text: str | None) -> str:
    """Free text as a variable carries it: one line, no phone numbers, no links."""
    text = _URL.sub("", text or "")
    return mask_phone_like(" ".join(text.split()))


@dataclass(frozen=True)
class Rendered:
    """A text ready for the outbox: what the console and Twilio send (the signature is
    put in front by the outbox), and the template key with the variables as sent."""

    key: str
    variables: dict[str, str]
    text: str


# -- rendering -------------------------------------------------------------------------


def render(key: str, **values: object) -> Rendered:
    """The template ``key`` filled with ``values`` (see the module docstring for what
    happens to free text). KeyError for an unknown key or a missing variable."""
    return render_template(CATALOGUE[key], values)


def render_template(template: Template, values: Mapping[str, object]) -> Rendered:
    missing = set(template.variables) - set(values)
    extra = set(values) - set(template.variables)
    if missing or extra:
        raise KeyError(f"{template.key}: missing {sorted(missing)}, unexpected {sorted(extra)}")
    full: dict[str, str] = {}
    limits: dict[str, int] = {}
    for name, var in template.variables.items():
        value = "" if values[name] is None else str(values[name])
        if var.free:
            value = clean(value) or var.fallback
            limits[name] = min(units(value), var.limit, MAX_VARIABLE)
        full[name] = value
    return _fit(template, full, limits)


def _fit(template: Template, full: dict[str, str], limits: dict[str, int]) -> Rendered:
    """Cut the free variables to their limits; then, while the text is over the budget,
    shorten the longest of the ``fit`` variables (down to the next longest, then in turn a
    unit each), none below its floor: two segments rather than a title of nothing. When
    even the floors overrun the budget, a template with ``then_budget`` fits that instead,
    so its title is cut only as far as it saves a segment."""
    fitted = _fit_within(template, full, dict(limits), template.budget)
    if template.then_budget is not None and units(fitted.text) > (template.budget or 0):
        return _fit_within(template, full, dict(limits), template.then_budget)
    return fitted


def _fit_within(
    template: Template, full: dict[str, str], limits: dict[str, int], budget: int | None
) -> Rendered:
    def sent() -> dict[str, str]:
        # In the order of the content: Tencent's short mapping numbers them so ({1}, {2} …).
        return {
            name: cut(full[name], limits[name]) if name in limits else full[name]
            for name in template.names
        }

    def floor(name: str) -> int:
        return template.variables[name].floor

    variables = sent()
    text = template.fill(variables)
    while budget is not None and (overflow := units(text) - budget) > 0:
        longest = max(template.fit, key=lambda name: limits[name] - floor(name))
        if limits[longest] <= floor(longest):
            break
        runner_up = max((limits[n] for n in template.fit if n != longest), default=0)
        if runner_up < limits[longest]:  # down to the next one's length at most
            limits[longest] = max(floor(longest), runner_up, limits[longest] - overflow)
        else:  # as long as another: take turns, a unit each
            limits[longest] -= 1
        variables = sent()
        text = template.fill(variables)
    return Rendered(template.key, variables, text)


def example(template: Template) -> Rendered:
    """The template rendered with its example values."""
    return render_template(
        template, {name: var.example for name, var in template.variables.items()}
    )


# -- the providers' rules --------------------------------------------------------------

#: symbols the providers refuse in a template (Aliyun: 『』「」〖〗 m² • ①★※→; Tencent:
#: ¥ ★ ※ and composed symbols); 【】 is the signature's and reported on its own
FORBIDDEN_SYMBOLS = "「」『』〖〗★※→•①¥☞✓√^"
#: the traditional forms of the characters our templates and their examples contain
#: (simplified + traditional, pairs drawn once with OpenCC's s2t table); a template
#: containing a traditional form is refused as 繁体字, and the message names the fix
_TRADITIONAL_PAIRS = (
    "个個 为為 于於 仅僅 从從 内內 写寫 军軍 别別 办辦 务務 动動 区區 单單 卫衛 参參 发發 变變 台臺 号號 后後 员員 场場 处處 复復 头頭 实實 "
    "审審 对對 将將 帮幫 开開 录錄 愿願 报報 无無 时時 机機 条條 汉漢 没沒 满滿 滩灘 点點 码碼 确確 签簽 简簡 结結 绝絕 编編 联聯 莲蓮 获獲 "
    "补補 计計 订訂 认認 记記 证證 识識 诉訴 该該 说說 请請 谅諒 谢謝 账賬 转轉 过過 还還 邓鄧 钟鍾 长長 闭閉 间間 阅閱 队隊 阳陽 际際 随隨 "
    "页頁 额額 验驗"
)
TRADITIONAL = {pair[1]: pair[0] for pair in _TRADITIONAL_PAIRS.split()}


def problems(catalogue: Iterable[Template] | None = None, *, signature: str = "") -> list[str]:
    """Every broken provider rule in the catalogue, as "key: what is wrong"."""
    found: list[str] = []
    for template in catalogue if catalogue is not None else CATALOGUE.values():
        found.extend(
            f"{template.key}: {problem}" for problem in _template_problems(template, signature)
        )
    return found


def _template_problems(template: Template, signature: str) -> list[str]:
    out: list[str] = []
    content, names = template.content, template.names
    fixed = PLACEHOLDER.sub("", content)
    if set(names) != set(template.variables):
        out.append(
            f"placeholders {sorted(names)} differ from variables {sorted(template.variables)}"
        )
        return out
    if "【" in content or "】" in content:
        out.append("contains 【】 (the provider adds the signature)")
    if symbols := sorted({ch for ch in content if ch in FORBIDDEN_SYMBOLS}):
        out.append(f"contains symbols the providers refuse: {''.join(symbols)}")
    if traditional := sorted({ch for ch in content if ch in TRADITIONAL}):
        fixes = "、".join(f"{ch}→{TRADITIONAL[ch]}" for ch in traditional)
        out.append(f"contains traditional characters: {fixes}")
    if _URL.search(fixed):
        out.append("contains a link: allowed only as fixed text registered with the provider")
    if re.search(r"\}\$\{", content):
        out.append("two variables side by side (Tencent refuses them)")
    if names and not fixed.strip():
        out.append("all variables, no fixed text")
    if template.kind == CODE:
        digits = [template.variables[n].example for n in names]
        if len(names) != 1 or not re.fullmatch(r"\d{4,6}", digits[0]):
            out.append("a 验证码 template needs exactly one variable of 4-6 digits")
        if "验证码" not in fixed:
            out.append("a 验证码 template must say 验证码")
    elif template.kind != NOTICE:
        out.append(f"unknown type {template.kind!r}")
    rendered = example(template)
    out.extend(variable_problems(rendered))
    if len(signature + rendered.text) > MAX_TEXT:
        out.append(f"over {MAX_TEXT} characters with the signature")
    return out


def variable_problems(rendered: Rendered) -> list[str]:
    """What a provider would refuse in the variables of one rendered text."""
    out = []
    for name, value in rendered.variables.items():
        if not value:
            out.append(f"${{{name}}} is empty")
        if len(value) > MAX_VARIABLE:
            out.append(f"${{{name}}} is {len(value)} characters (at most {MAX_VARIABLE})")
        if _MOBILE.search(value):
            out.append(f"${{{name}}} carries a mobile number")
        if _URL.search(value):
            out.append(f"${{{name}}} carries a link")
    return out
