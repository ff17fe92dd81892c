"""Text input is cleaned once, where it enters: every form field, query parameter, URL
path value and JSON string, before any view, form or service sees it.

What goes: C0 control characters, DEL, the C1 controls and lone UTF-16 surrogates. None
of them is ever typed by a person; U+0000 is refused by PostgreSQL (a 500 mid-request,
and a provider retrying the same text forever), a lone surrogate cannot even be encoded
to be stored, and the rest are invisible in a name yet break exports and texts.

What stays depends on the kind of input: a form field or a JSON string may be a text
box or a text message, where TAB, LF and CR are part of the content; a query parameter,
a URL path value or a field name is a single line, so they go there too.

The SMS webhook is signed over the parameters exactly as the provider sent them: the
uncleaned form stays available as ``request.raw_form`` for that check alone.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Flask, Request
from werkzeug.datastructures import ImmutableMultiDict, MultiDict
from werkzeug.utils import cached_property

#: never legitimate in any text input
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
#: and in a single-line input, not even these
_CONTROL_OR_LINE_BREAK = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def clean_text(value: str, *, multiline: bool = True) -> str:
    """``value`` without control characters (keeping TAB, LF and CR when ``multiline``)."""
    pattern = _CONTROL if multiline else _CONTROL_OR_LINE_BREAK
    return pattern.sub("", value)


def clean_value(value: Any) -> Any:
    """A decoded JSON document with every string (keys too) cleaned."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {clean_text(k, multiline=False): clean_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [clean_value(item) for item in value]
    return value


# A JSON text, escape by escape. Backslashes occur only inside strings, each starting an
# escape, so a left-to-right scan never mistakes the second half of ``\\`` for a start.
_JSON_ESCAPE = re.compile(
    r"(?P<pair>\\u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2})"
    r"|\\u(?P<hex>[0-9a-fA-F]{4})"
    r"|(?P<short>\\[bf])"
    r"|\\.",
    re.DOTALL,
)
#: raw characters that are never JSON whitespace nor belong in a string's content
_JSON_RAW_CONTROL = _CONTROL


def clean_json_text(raw: bytes) -> bytes:
    """A JSON document (as bytes) whose strings hold no control characters, escaped
    (``\\u0000``, ``\\b``, a lone ``\\ud800``) or raw, for parsers that take the text
    itself (pydantic's ``model_validate_json``, which keeps JSON's own types for strict
    models). Bytes that are not UTF-8 are returned as they are, for the parser to refuse."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw
    if "\\" not in text and not _JSON_RAW_CONTROL.search(text):
        return raw
    cleaned = _JSON_ESCAPE.sub(_keep_escape, _JSON_RAW_CONTROL.sub("", text))
    return cleaned.encode("utf-8")


def _keep_escape(match: re.Match[str]) -> str:
    if match["short"]:
        return ""  # \b and \f: backspace and form feed
    if match["hex"] is not None and _CONTROL.match(chr(int(match["hex"], 16))):
        return ""  # a control character or a surrogate without its other half
    return match[0]


def _cleaned(pairs: MultiDict[str, Any], *, multiline: bool) -> ImmutableMultiDict[str, Any]:
    return ImmutableMultiDict(
        (
            clean_text(key, multiline=False),
            clean_text(value, multiline=multiline) if isinstance(value, str) else value,
        )
        for key, value in pairs.items(multi=True)
    )


class BoundaryRequest(Request):
    """The app's request: ``form``, ``args``, ``values`` and ``get_json()`` give cleaned
    text; ``raw_form`` what was sent."""

    @cached_property
    def args(self) -> ImmutableMultiDict[str, str]:
        return _cleaned(super().args, multiline=False)

    def get_json(self, force: bool = False, silent: bool = False, cache: bool = True) -> Any:
        # Not through the JSON provider: Flask sets app.json on every request, and the
        # provider also reads the session cookie, which is ours, not input.
        return clean_value(super().get_json(force=force, silent=silent, cache=cache))

    def _load_form_data(self) -> None:
        if "raw_form" in self.__dict__:
            return
        super()._load_form_data()
        self.__dict__["raw_form"] = self.__dict__["form"]
        self.__dict__["form"] = _cleaned(self.__dict__["form"], multiline=True)

    @cached_property
    def raw_form(self) -> ImmutableMultiDict[str, str]:
        """The form as sent, for checking a signature computed over it; nothing else."""
        self._load_form_data()
        return self.raw_form


def _clean_view_args(endpoint: str | None, values: dict[str, Any] | None) -> None:
    if values:
        for name, value in values.items():
            if isinstance(value, str):
                values[name] = clean_text(value, multiline=False)


def init_app(app: Flask) -> None:
    app.request_class = BoundaryRequest
    app.url_value_preprocessor(_clean_view_args)
