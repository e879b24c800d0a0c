"""Indented JSON text for reports, as `json.dumps(value, indent=2, ensure_ascii=False,
allow_nan=…)` writes it, faster.

The standard library encodes indented JSON in pure Python, one generator step per value: at
10,000 documents the JSON report (4,000+ findings) took ~0.25 s of the run's last moments.
Reports hold plain dicts, lists, strings, numbers, booleans and None; strings are escaped by
the library's own C function. Anything else (a key that is not a string, a float that is
not finite, another type) is left to `json.dumps` itself, so the text is the same either
way (tests/report/test_jsontext.py compares the two).
"""

from __future__ import annotations

import json
import math
from json.encoder import encode_basestring as _string  # type: ignore[attr-defined]
from typing import Any

INDENT = "  "


class _Unusual(Exception):
    """A value the fast path does not encode: `json.dumps` does."""


def dumps(value: Any, *, allow_nan: bool = False) -> str:
    parts: list[str] = []
    try:
        _encode(value, "\n", parts)
    except (_Unusual, RecursionError):
        return json.dumps(value, indent=2, ensure_ascii=False, allow_nan=allow_nan)
    return "".join(parts)


def _encode(value: Any, newline: str, out: list[str]) -> None:
    kind = type(value)
    if kind is str:
        out.append(_string(value))
    elif kind is dict:
        if not value:
            out.append("{}")
            return
        inner = newline + INDENT
        separator = "{" + inner
        for key, item in value.items():
            if type(key) is not str:
                raise _Unusual
            of = type(item)
            if of is str:  # most values: one piece instead of three
                out.append(f"{separator}{_string(key)}: {_string(item)}")
            else:
                out.append(f"{separator}{_string(key)}: ")
                _encode(item, inner, out)
            separator = "," + inner
        out.append(newline + "}")
    elif kind is list or kind is tuple:
        if not value:
            out.append("[]")
            return
        inner = newline + INDENT
        separator = "[" + inner
        for item in value:
            out.append(separator)
            _encode(item, inner, out)
            separator = "," + inner
        out.append(newline + "]")
    elif value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif kind is int:
        out.append(int.__repr__(value))
    elif kind is float and math.isfinite(value):
        out.append(float.__repr__(value))
    else:
        raise _Unusual

