"""Parse an inbound text into a command (CONTRACTS.md, "SMS commands").

Pure and side-effect free: the webhook and the services decide what a command does; this
module only says what the volunteer asked for. It never raises on any text.

Matching rules, and why:

* Everything is normalised first (:func:`normalise`): NFKC turns full-width digits, letters
  and spaces into ASCII ("报名１２３４", "ＢＭ 1234"), case is folded to upper, invisible
  format characters are dropped, whitespace is collapsed, and the punctuation, symbols and
  emoji people put around a message ("报名 1234。", "【报名】1234", "👍") are stripped.
* Between a keyword and its code any run of spaces, punctuation or symbols is a separator
  ("报名：1234", "报名,1234", "报名+1234"), and none is needed ("报名1234", "BM1234").
  A Latin keyword must not run into more letters ("BMX" is not "BM"), so "YES" is not "Y".
* A code is 3–8 ASCII digits and nothing else; a code with other letters, too short or
  too long, or words after it ("报名 1234 明天") is UNKNOWN, whose reply shows the format.
  A command that needs a code but has none comes back with ``code=None``.
* Opt-out follows the carriers: the whole message is an opt-out word ("STOP", "stop.",
  "退订", "TD", and "R" only alone), or consists only of opt-out words ("STOP STOP",
  but not "R R").
  A sentence that merely contains one ("please stop texting me", "I can't stop by") is
  not an opt-out: carriers do not treat it as one, and "stop", "end", "quit" and "R" are
  common English words. Such a message is UNKNOWN, and the help reply says how to opt out.
  Three deliberate widenings, each erring toward leaving someone alone (rule 4):
  - ``CANCEL`` as the first word, whatever follows ("CANCEL 1234"), is OPT_OUT, never
    our cancel: carriers and Twilio treat CANCEL as an opt-out word, so the person may
    already be blocked upstream, and a cancel that silently opted them out is worse than
    asking them to text "订阅" again.
  - "退订" anywhere in the message ("我要退订", "退订谢谢") is OPT_OUT: in Chinese it is
    an unambiguous word meaning "unsubscribe", and the MIIT rules require it to work;
    but not where the text says it does not want that: "我没有退订", "不要退订", a
    question about it ("退订以后还能收到吗") or a wish to keep the texts ("怎么恢复",
    "想继续收"). A question before it still asks for it ("怎么退订", "为什么发给我，退订").
  - The words people use rather than the carriers' keywords, as the whole message
    (polite words dropped): 拒收 (the carriers' own word), 退定 (a slip for 退订),
    "停止(发送)", "不再接收", "不要再发了", "别再给我发短信了".
  - "取消订阅" (the natural Chinese "cancel the subscription") is OPT_OUT, although it
    starts with the cancel keyword 取消.
* Traditional characters are read as their simplified forms (``報名 7503``, ``簽到``,
  ``退訂``): :data:`TRADITIONAL` covers every character of our keywords and filler words.
  A closed table rather than a conversion library: the set of characters that matter is
  small and fixed, and the parser runs in every web worker and on every inbound text.
* Filler words around a keyword are skipped: a polite start ("我要报名7503", "请帮我取消
  7503", "麻烦签到"), "一下" after the keyword ("报名一下 7503"), thanks and particles at
  the end ("报名 7503 谢谢", "好的啊"). A text of filler words only is still UNKNOWN.
* A code spoken into the phone is a code: voice input writes "报名一二三四" or
  "幺二三四", read as 1234 (幺 and 两 as said aloud), alone or mixed with digits.
* Inside a code, letters that look like digits are read as those digits: O → 0 and
  L / I / | → 1 (lower case too), so "75O3" is 7503. Only in a run that is otherwise
  digits and has more real digits than such letters: "LOL", "BOOK" and "1OO" are not codes.
* Several codes after 报名 or 取消 ("报名 7503 7290", "报名7503、7290", "取消 7503和7290",
  "报名7503跟7290", "报名7503 报名7290") come back as one command: ``code`` is the first,
  ``extra_codes`` the others (repeats dropped). Other commands take one code.
* The code may come first: "7503报名", "7503 取消".
* 我的 takes a page number of one or two digits ("我的 2"): ``page``, 1 by default.
* An acknowledgement (:data:`ACKNOWLEDGEMENTS`: 好的, 收到, 是, 嗯, 1, OK …) as the whole
  text is ACKNOWLEDGE: the webhook treats it as 确认 after a recent reminder and answers
  with the help otherwise (sms/inbound.py says in which order the readings are tried).
* Opt-in is the whole message too ("订阅", "START", "UNSTOP"), polite words dropped
  ("我要订阅", "订阅谢谢"), or one of :data:`OPT_IN_PHRASES` ("重新订阅", "恢复").
* "取消报名 CODE" is accepted as CANCEL, the way many people phrase it, and a space
  inside a Chinese keyword is ignored ("我的 时长", "取消 报名 1234").
* 加入 / JR (同意加入) accepts a team's invitation and 不加入 / BJR (不同意加入)
  declines it; a code (3–8 digits, the invitation's) is optional and only needed when
  several invitations wait.
* A correction request (更正 / GZ) is the one command that carries free text: an optional
  code, then what should be corrected ("更正 1234 实际9点到", "GZ 记错了"). The code is
  a run of 3–8 digits right after the keyword that no other digit or Latin letter,
  and no mark of a time or date (点, 到, 年, 月, 日 …), follows ("更正1234时间不对"
  names shift 1234; "更正 10点到的", "更正 830到的" and "更正 2024年12月5日" have none). The note
  is kept as written (case, full-width punctuation, inner spaces), ``""`` when absent.
"""

from __future__ import annotations

import enum
import re
import unicodedata
from dataclasses import dataclass

__all__ = [
    "ACKNOWLEDGEMENTS",
    "CODE_MAX_DIGITS",
    "CODE_MIN_DIGITS",
    "CODE_REQUIRED",
    "MULTI_CODE",
    "OPT_IN_PHRASES",
    "OPT_IN_WORDS",
    "OPT_OUT_WORDS",
    "TRADITIONAL",
    "Command",
    "CommandKind",
    "answer_form",
    "normalise",
    "parse",
]

CODE_MIN_DIGITS = 3
CODE_MAX_DIGITS = 8


class CommandKind(enum.StrEnum):
    SIGN_UP = "sign_up"
    CANCEL = "cancel"
    CONFIRM = "confirm"
    CHECK_IN = "check_in"
    CHECK_OUT = "check_out"
    MY_SHIFTS = "my_shifts"
    MY_HOURS = "my_hours"
    CORRECTION = "correction"
    #: accept / decline a team's invitation (optionally with the invitation's code)
    JOIN_TEAM = "join_team"
    DECLINE_TEAM = "decline_team"
    #: 好的 / 收到 / 1 …: a yes to a reminder, or nothing (sms/actions.py decides)
    ACKNOWLEDGE = "acknowledge"
    HELP = "help"
    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Command:
    kind: CommandKind
    #: the shift code, ASCII digits only; None when the text carried none
    code: str | None = None
    #: the keyword that matched, normalised (e.g. "BM", "报名", "STOP"); "" for UNKNOWN
    keyword: str = ""
    #: CORRECTION only: what the volunteer wrote after the code, as written
    note: str = ""
    #: SIGN_UP and CANCEL: the codes after the first ("报名 7503 7290"), in order
    extra_codes: tuple[str, ...] = ()
    #: MY_SHIFTS: which page of the list ("我的 2")
    page: int = 1

    @property
    def codes(self) -> tuple[str, ...]:
        """Every code of the text, the first one first; () when there is none."""
        return () if self.code is None else (self.code, *self.extra_codes)


#: kinds that act on one shift and need its code ("报名" alone gets a hint)
CODE_REQUIRED = frozenset(
    {CommandKind.SIGN_UP, CommandKind.CANCEL, CommandKind.CHECK_IN, CommandKind.CHECK_OUT}
)
#: kinds that take a code when given one, and work without it
_CODE_OPTIONAL = frozenset({CommandKind.CONFIRM, CommandKind.JOIN_TEAM, CommandKind.DECLINE_TEAM})
#: kinds that take several codes in one text
MULTI_CODE = frozenset({CommandKind.SIGN_UP, CommandKind.CANCEL})
#: the largest page number 我的 takes (two digits: never mistaken for a code)
MAX_PAGE = 99

#: traditional → simplified for every character of our keywords, filler words and
#: acknowledgements that has a traditional form (籤 is a variant some phones offer for 簽)
TRADITIONAL = str.maketrans(
    "報確認簽籤時長訂閱幫請謝給煩嗎號個說這們麼嘞問題領導師務復對沒發別繼續",
    "报确认签签时长订阅帮请谢给烦吗号个说这们么嘞问题领导师务复对没发别继续",
)
#: whole texts that say "yes" / "got it" (after the fillers are dropped)
ACKNOWLEDGEMENTS = frozenset(
    {
        *("好的", "好", "好嘞", "好滴", "行", "可以", "没问题", "明白", "明白了"),
        *("收到", "收到了", "知道了", "是", "是的", "嗯", "嗯嗯", "1", "OK"),
        *("好的收到", "收到收到", "好的好的", "嗯嗯好的"),
    }
)
# Polite starts, longest first ("请帮我" before "请"); never a prefix of a keyword.
_LEADING_FILLERS = (
    "不好意思",
    "请帮我",
    "麻烦您",
    "麻烦你",
    "麻烦",
    "对不起",
    "领导好",
    "老师好",
    "帮忙",
    "帮我",
    "给我",
    "我要",
    "我想",
    "我来",
    "请",
    "您好",
    "你好",
)
_AFTER_KEYWORD_FILLERS = ("一下",)
# Not 吧: "加入吧" (join, shall I?) must not accept a team's invitation.
_TRAILING_FILLERS = (
    *("谢谢您", "谢谢你", "谢谢", "谢了", "辛苦了", "辛苦", "麻烦你了", "麻烦了"),
    *("啊", "呀", "哦", "哈"),
)
#: letters read as the digit they look like, inside a code only (normalised: upper case)
_MISREAD_DIGITS = str.maketrans("OLI|", "0111")
#: what makes the digits after 更正 a time or a date, not a code ("更正 830到的",
#: "更正 1230到1630", "更正 2024年12月5日"); not 时, as in "更正1234时间不对"
_TIME_MARKERS = frozenset("点到至年月日号分")
#: Chinese numerals as voice input writes a code's digits (幺 and 两 as read aloud)
_SPOKEN_DIGITS = str.maketrans("零〇一幺二两三四五六七八九", "0011223456789")
#: words that join codes like a separator ("7503和7290")
_CODE_JOINERS = "和及跟与"
#: "1234报名", "1234 取消": the code first, then the command that acts on one shift
_CODE_FIRST = re.compile(r"(?P<code>\d{3,8}) ?(?P<keyword>报名|取消报名|取消|签到|签退|确认)")

#: carrier opt-out words (Twilio's list, CTIA's, and China's TD / 退订)
OPT_OUT_WORDS = frozenset(
    {
        "TD",
        "退订",
        "R",
        "STOP",
        "STOPALL",
        "UNSUBSCRIBE",
        "END",
        "QUIT",
        "REVOKE",
        "OPTOUT",
        "CANCEL",
    }
)
OPT_IN_WORDS = frozenset({"订阅", "START", "UNSTOP"})
#: whole texts (polite words dropped) that ask to take texts again
OPT_IN_PHRASES = frozenset(
    {"订阅", "重新订阅", "恢复", "恢复订阅", "恢复接收", "继续接收", "重新接收", "恢复短信"}
)
#: whole texts (polite words dropped) that ask for no more texts, as people write it
#: rather than as the carriers' keywords: 拒收 (the carriers' own word), 退定 (a common
#: slip for 退订), "停止发送", "不要再发了", "别再给我发短信了" …
_STOP_PHRASE = re.compile(
    r"拒收|退定|(?:停止|不再)(?:发送|接收)?(?:短信|信息|消息)?了?"
    r"|(?:不要|别|勿|不用)再?(?:给我)?发(?:送)?(?:短信|信息|消息)?了?"
)
#: 退订 in a text that does not ask for it: negated ("我没有退订", "不要退订"), a wish
#: to keep the texts ("怎么恢复", "我想继续收"), or a question about it
#: ("退订以后还能收到吗"). A question before it still asks for it: "怎么退订",
#: "为什么发给我，退订".
_NOT_UNSUBSCRIBING = re.compile(
    r"(?:不|没|别|勿)(?:有|要|想|用)?退订|恢复|继续|重新|退订.*(?:吗|么|怎|如何|还能|[?？])"
)

_CANCEL = "CANCEL"
_UNSUBSCRIBE_ZH = "退订"
_CANCEL_SUBSCRIPTION_ZH = "取消订阅"

# Keyword → kind. Matched longest first, so "我的时长" wins over "我的" and
# "取消报名" over "取消".
_KEYWORDS: dict[str, CommandKind] = {
    "报名": CommandKind.SIGN_UP,
    "BM": CommandKind.SIGN_UP,
    "JOIN": CommandKind.SIGN_UP,
    "取消报名": CommandKind.CANCEL,
    "取消": CommandKind.CANCEL,
    "QX": CommandKind.CANCEL,
    "确认": CommandKind.CONFIRM,
    "QR": CommandKind.CONFIRM,
    "Y": CommandKind.CONFIRM,
    "签到": CommandKind.CHECK_IN,
    "QD": CommandKind.CHECK_IN,
    "签退": CommandKind.CHECK_OUT,
    "QT": CommandKind.CHECK_OUT,
    "我的时长": CommandKind.MY_HOURS,
    "我的服务时长": CommandKind.MY_HOURS,
    "服务时长": CommandKind.MY_HOURS,
    "时长": CommandKind.MY_HOURS,
    "SC": CommandKind.MY_HOURS,
    # The help text lists "我的 安排": people type it as one word, or name it their way.
    "我的安排": CommandKind.MY_SHIFTS,
    "我的报名": CommandKind.MY_SHIFTS,
    "我的班次": CommandKind.MY_SHIFTS,
    "我的": CommandKind.MY_SHIFTS,
    "WD": CommandKind.MY_SHIFTS,
    "MY": CommandKind.MY_SHIFTS,
    "更正": CommandKind.CORRECTION,
    "GZ": CommandKind.CORRECTION,
    # A team's invitation (teams.services.add_member). Not "JOIN": that is 报名 already.
    "加入": CommandKind.JOIN_TEAM,
    "JR": CommandKind.JOIN_TEAM,
    "同意加入": CommandKind.JOIN_TEAM,
    "不加入": CommandKind.DECLINE_TEAM,
    "BJR": CommandKind.DECLINE_TEAM,
    "不同意加入": CommandKind.DECLINE_TEAM,
    "帮助": CommandKind.HELP,
    "BZ": CommandKind.HELP,
    "HELP": CommandKind.HELP,
}
_KEYWORDS_LONGEST_FIRST = sorted(_KEYWORDS, key=len, reverse=True)

_UNKNOWN = Command(CommandKind.UNKNOWN)


def _is_separator(ch: str) -> bool:
    """Spaces, punctuation, symbols (emoji included), controls and marks: never content."""
    if ch.isspace():
        return True
    return unicodedata.category(ch)[0] in "PSZCM"


def _is_ascii_letter(ch: str) -> bool:
    return ch.isascii() and ch.isalpha()


def _is_code(text: str) -> bool:
    return CODE_MIN_DIGITS <= len(text) <= CODE_MAX_DIGITS and text.isascii() and text.isdigit()


def normalise(text: str) -> str:
    """The text as we match it: NFKC, upper case, single spaces, no edge punctuation.

    Format characters (zero-width spaces, joiners, BOM) are dropped, other control
    characters and all whitespace become single spaces, and punctuation, symbols and
    emoji at either end are stripped. Punctuation inside the text is kept.
    """
    visible = _visible(unicodedata.normalize("NFKC", text).upper().translate(TRADITIONAL))
    # Again: upper-casing and dropping format characters can leave uncomposed marks.
    return _strip_separators(" ".join(unicodedata.normalize("NFKC", visible).split()))


def _words(normalised: str) -> list[str]:
    """The words of a normalised text, any separator run splitting them."""
    return "".join(" " if _is_separator(ch) else ch for ch in normalised).split()


def _opt_out_keyword(normalised: str, words: list[str], joined: str) -> str | None:
    if len(words) == 1 and words[0] in OPT_OUT_WORDS:
        return words[0]
    # "STOP STOP", "退订 退订": only opt-out words. Not "R R" or "R&R": R only alone.
    if len(words) > 1 and all(word in OPT_OUT_WORDS and word != "R" for word in words):
        return words[0]
    if normalised.startswith(_CANCEL) and not _is_ascii_letter(
        normalised[len(_CANCEL) : len(_CANCEL) + 1]
    ):
        return _CANCEL  # "CANCEL 1234" too: see the module docstring
    if _UNSUBSCRIBE_ZH in normalised and not _NOT_UNSUBSCRIBING.search(normalised):
        return _UNSUBSCRIBE_ZH
    if "".join(words) == _CANCEL_SUBSCRIPTION_ZH:
        return _CANCEL_SUBSCRIPTION_ZH
    if _STOP_PHRASE.fullmatch(joined):
        return joined
    return None


def _is_cjk(ch: str) -> bool:
    return "\u3400" <= ch <= "\u9fff" or "\U00020000" <= ch <= "\U0003134f"


def _join_cjk(normalised: str) -> str:
    """Drop separators between two Chinese characters: "我的 时长" is "我的时长",
    "取消，报名 1234" is "取消报名 1234". A separator before a code stays."""
    out: list[str] = []
    i, n = 0, len(normalised)
    while i < n:
        ch = normalised[i]
        if _is_separator(ch) and out and _is_cjk(out[-1]):
            j = i
            while j < n and _is_separator(normalised[j]):
                j += 1
            if j < n and _is_cjk(normalised[j]):
                i = j
                continue
        out.append(ch)
        i += 1
    return "".join(out)


def parse(text: str) -> Command:
    """What an inbound text asks for; UNKNOWN when it is not a command we know."""
    if not isinstance(text, str):
        return _UNKNOWN
    normalised = normalise(text)
    if not normalised:
        return _UNKNOWN
    words = _words(normalised)
    # The text as keywords are matched: Chinese words joined, polite words dropped.
    joined = _without_fillers(_join_cjk(normalised))

    # Opt-out first, before any other reading of the text (rule 4).
    opt_out = _opt_out_keyword(normalised, words, joined)
    if opt_out is not None:
        return Command(CommandKind.OPT_OUT, keyword=opt_out)
    if all(word in OPT_IN_WORDS for word in words):
        return Command(CommandKind.OPT_IN, keyword=words[0])
    if joined in OPT_IN_PHRASES:
        return Command(CommandKind.OPT_IN, keyword=joined)
    if joined in ACKNOWLEDGEMENTS:
        return Command(CommandKind.ACKNOWLEDGE, keyword=joined)
    code_first = _CODE_FIRST.fullmatch(joined)
    if code_first is not None:
        joined = f"{code_first['keyword']} {code_first['code']}"
    for keyword in _KEYWORDS_LONGEST_FIRST:
        if not joined.startswith(keyword):
            continue
        rest = joined[len(keyword) :]
        if keyword.isascii() and rest and _is_ascii_letter(rest[0]):
            continue  # "BMX", "YES", "MYSELF": another word, not this keyword
        if _KEYWORDS[keyword] == CommandKind.CORRECTION:
            return _correction(text, keyword, rest)
        return _with_code(_KEYWORDS[keyword], keyword, rest)
    return _UNKNOWN


def answer_form(text: str) -> str:
    """A short answer as it is matched (a call-out's "1 1234", "报名 1234", "不能"):
    normalised, the polite words around it dropped, each run of separators one space
    ("报名：1234 谢谢" → "报名 1234", "1，1234" → "1 1234")."""
    return " ".join(_words(_without_fillers(_join_cjk(normalise(text or "")))))


def _without_fillers(joined: str) -> str:
    """``joined`` without the polite words before a keyword and the thanks after it.
    Indices rather than slices, so that a text of ten thousand 谢谢 stays linear."""
    start, end = 0, len(joined)
    trimmed = True
    while trimmed and start < end:
        trimmed = False
        for filler in _LEADING_FILLERS:
            if joined.startswith(filler, start, end):
                start, trimmed = start + len(filler), True
                break
        for filler in _TRAILING_FILLERS:
            if end - len(filler) >= start and joined.endswith(filler, start, end):
                end, trimmed = end - len(filler), True
                break
        while start < end and _is_separator(joined[start]):
            start += 1
        while end > start and _is_separator(joined[end - 1]):
            end -= 1
    return joined[start:end]


def _correction(text: str, keyword: str, rest: str) -> Command:
    """更正 [CODE] [note]: the code when one follows the keyword, then the note, as the
    person wrote it (case, full-width punctuation and inner spaces kept). ``rest`` (what
    follows the keyword in the matched form) is the fallback, never needed in practice."""
    kept = _plain(text)
    i = 0
    for ch in keyword:
        # A space inside the Chinese keyword is ignored, as when matching it.
        while i < len(kept) and _is_separator(kept[i]) and not keyword.isascii():
            i += 1
        if i >= len(kept) or _folded(kept[i]) != ch:
            break
        i += 1
    else:
        rest = kept[i:]
    rest = _skip_separators(rest)
    # Digits up to one more than a code may have: enough to tell a code from a number.
    n = 0
    while n < len(rest) and n <= CODE_MAX_DIGITS and _is_digit(rest[n]):
        n += 1
    follows = _folded(rest[n : n + 1])
    code = None
    if (
        CODE_MIN_DIGITS <= n <= CODE_MAX_DIGITS
        and not (follows.isascii() and follows.isalnum())
        and follows not in _TIME_MARKERS
    ):
        code = "".join(_folded(ch) for ch in rest[:n])
        rest = _skip_separators(rest[n:])
    return Command(CommandKind.CORRECTION, code=code, keyword=keyword, note=rest)


def _folded(ch: str) -> str:
    return unicodedata.normalize("NFKC", ch).upper().translate(TRADITIONAL)


def _is_digit(ch: str) -> bool:
    folded = _folded(ch)
    return len(folded) == 1 and folded.isascii() and folded.isdigit()


def _plain(text: str) -> str:
    """The text with invisible characters dropped, whitespace collapsed and edge
    punctuation stripped, but otherwise as written (no NFKC, no case folding)."""
    return _strip_separators(" ".join(_visible(text).split()))


def _visible(text: str) -> str:
    """Format characters (zero-width spaces, joiners, BOM) dropped: "BM\u200b1234" is
    "BM1234"; other control characters and all whitespace turned into spaces."""
    chars = []
    for ch in text:
        category = unicodedata.category(ch)
        if category == "Cf":
            continue
        chars.append(" " if ch.isspace() or category[0] == "C" else ch)
    return "".join(chars)


def _strip_separators(text: str) -> str:
    """``text`` without the separators at either end."""
    start, end = 0, len(text)
    while start < end and _is_separator(text[start]):
        start += 1
    while end > start and _is_separator(text[end - 1]):
        end -= 1
    return text[start:end]


def _skip_separators(text: str) -> str:
    """``text`` without the separators at its start."""
    start = 0
    while start < len(text) and _is_separator(text[start]):
        start += 1
    return text[start:]


def _with_code(kind: CommandKind, keyword: str, rest: str) -> Command:
    if kind in MULTI_CODE:
        # "报名7503 报名7290": the keyword said again before each code
        rest = re.sub(f"{re.escape(keyword)}(?= ?[0-9])", " ", rest)
    argument = _skip_separators(rest)
    for filler in _AFTER_KEYWORD_FILLERS:
        if argument.startswith(filler):
            argument = _skip_separators(argument[len(filler) :])
    if not argument:
        return Command(kind, keyword=keyword)
    if kind == CommandKind.MY_SHIFTS:
        if argument.isascii() and argument.isdigit() and 1 <= int(argument) <= MAX_PAGE:
            return Command(kind, keyword=keyword, page=int(argument))
        return _UNKNOWN
    if kind not in CODE_REQUIRED and kind not in _CODE_OPTIONAL:
        return _UNKNOWN  # words after a command that takes none
    codes = _codes(argument)
    if not codes or (len(codes) > 1 and kind not in MULTI_CODE):
        return _UNKNOWN  # a bad code, or several where one is taken
    return Command(kind, code=codes[0], keyword=keyword, extra_codes=codes[1:])


def _codes(argument: str) -> tuple[str, ...] | None:
    """The codes of "7503 7290", "7503、75O3", "7503和7290" (repeats dropped, in order);
    None when any word of it is not a code. Stops at the first word too long for one."""
    codes: list[str] = []
    word = ""
    for ch in argument + " ":
        # "|" is a symbol, hence a separator elsewhere; inside a code it is a misread 1.
        if ch in _CODE_JOINERS or (ch != "|" and _is_separator(ch)):
            if word:
                code = _read_code(word)
                if code is None:
                    return None
                if code not in codes:
                    codes.append(code)
            word = ""
            continue
        word += ch
        if len(word) > CODE_MAX_DIGITS:
            return None
    return tuple(codes)


def _read_code(word: str) -> str | None:
    """``word`` as a code, with look-alike letters read as digits (see the docstring),
    and Chinese numerals too, as voice input writes them ("一二三四", "幺二三四")."""
    if _is_code(word):
        return word
    spoken = word.translate(_SPOKEN_DIGITS)
    if spoken != word and _is_code(spoken):
        return spoken
    read = word.translate(_MISREAD_DIGITS)
    digits = sum(ch.isascii() and ch.isdigit() for ch in word)
    if _is_code(read) and digits > len(word) - digits:
        return read
    return None
