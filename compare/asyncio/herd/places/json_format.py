"""Writes a JSON value laid out the way Google's legacy Places web service
lays out its answers (src/places/json_format.rs, whose doc comment is the
rule): 3 spaces of indent per level, ``"key" : value``, one member or element
per line, ``[]``/``{}`` for empty containers, ``<``/``>`` as
``\\u003c``/``\\u003e``, other characters below U+0020 and U+007F as
``\\u00xx`` (``\\n \\r \\t \\b \\f`` short), non-ASCII as UTF-8, numbers
exactly as the provider wrote them, no newline at the end.

Values: dict (insertion order), list, str, bool, None and ``RawNumber``
(the number's text). ``loads`` parses provider JSON into these, keeping
every number's text (``parse_float``/``parse_int``).
"""

from __future__ import annotations

import json


class RawNumber:
    """A JSON number kept as the provider's own text."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        # serde_json's parser lowers an exponent's E to e; so do we.
        self.text = text.replace("E", "e")

    def __repr__(self) -> str:
        return f"RawNumber({self.text!r})"

    def __eq__(self, other) -> bool:
        return isinstance(other, RawNumber) and other.text == self.text

    def __hash__(self) -> int:
        return hash(self.text)


def _no_constants(name: str):
    raise ValueError(f"{name} is not JSON")


def _check_strings(value, depth: int = 0) -> None:
    """serde_json refuses lone surrogates and nesting past 128; so do we."""
    if depth > 128:
        raise ValueError("recursion limit exceeded")
    if isinstance(value, str):
        value.encode("utf-8")
    elif isinstance(value, dict):
        for k, v in value.items():
            k.encode("utf-8")
            _check_strings(v, depth + 1)
    elif isinstance(value, list):
        for v in value:
            _check_strings(v, depth + 1)


def loads(data: bytes):
    """Provider JSON -> values; raises ValueError when it is not JSON."""
    try:
        text = data.decode("utf-8")
        value = json.loads(
            text, parse_float=RawNumber, parse_int=RawNumber, parse_constant=_no_constants
        )
        _check_strings(value)
    except (UnicodeError, RecursionError, ValueError) as e:
        raise ValueError(str(e)) from None
    return value


INDENT = 3


def to_google_json(value) -> str:
    out: list[str] = []
    _write_value(out, value, 0)
    return "".join(out)


def _write_value(out: list[str], value, level: int) -> None:
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, RawNumber):
        out.append(value.text)
    elif isinstance(value, str):
        _write_string(out, value)
    elif isinstance(value, int):  # numbers we make ourselves
        out.append(str(value))
    elif isinstance(value, list):
        if not value:
            out.append("[]")
            return
        out.append("[")
        last = len(value) - 1
        for i, element in enumerate(value):
            out.append("\n" + " " * ((level + 1) * INDENT))
            _write_value(out, element, level + 1)
            if i != last:
                out.append(",")
        out.append("\n" + " " * (level * INDENT) + "]")
    elif isinstance(value, dict):
        if not value:
            out.append("{}")
            return
        out.append("{")
        last = len(value) - 1
        for i, (key, member) in enumerate(value.items()):
            out.append("\n" + " " * ((level + 1) * INDENT))
            _write_string(out, key)
            out.append(" : ")
            _write_value(out, member, level + 1)
            if i != last:
                out.append(",")
        out.append("\n" + " " * (level * INDENT) + "}")
    else:
        raise TypeError(f"not a JSON value: {value!r}")


_STRING_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\b": "\\b",
    "\f": "\\f",
    "<": "\\u003c",
    ">": "\\u003e",
    "\x7f": "\\u007f",
}
for _code in range(0x20):
    _STRING_ESCAPES.setdefault(chr(_code), "\\u%04x" % _code)
_TRANSLATE = str.maketrans(_STRING_ESCAPES)


def _write_string(out: list[str], text: str) -> None:
    out.append('"' + text.translate(_TRANSLATE) + '"')
