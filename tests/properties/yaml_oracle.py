"""What Kubernetes reads from a YAML file, worked out independently of `checker.parse`.

The oracle follows go-yaml v2's `resolve()` (the reader behind sigs.k8s.io/yaml, which
kubectl, Argo CD and Flux use) and sigs.k8s.io/yaml's JSON conversion, as docs/parsing.md
describes them; it is written from those rules, not from the checker's code, so that the
two can disagree. Where the checker is known to disagree, `Divergence` is raised and the
property skips the example; each such class has its own strict-xfail test with the minimal
example (see test_parse_roundtrip.py).

Two writers produce files from objects:

- `safe_dump_expectation`: what Kubernetes reads back from `yaml.safe_dump` output
  (PyYAML quotes what *YAML 1.1 as PyYAML knows it* would misread, which is not all that
  go-yaml misreads: `y`, `0o17`, `1e3`, `08` stay plain);
- `HandEmitter`: a hand-written YAML writer that varies what people vary (quoting style,
  flow and block collections, comments, document markers, indentation, CRLF) and records
  the line of every field it writes, so that a finding's line can be checked exactly.
"""

from __future__ import annotations

import json
import math
import random
import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from checker.schema import escape_pointer_token


class Divergence(Exception):
    """The checker is known to read this differently from Kubernetes (an xfail test says so)."""


class Rejected(Exception):
    """Kubernetes rejects the document (`.inf`/`.nan` cannot become JSON)."""


# go-yaml v2 resolve table: the words (looked up for any first character) …
_WORDS: dict[str, Any] = {}
for _spellings, _value in (
    (("y", "Y", "yes", "Yes", "YES", "on", "On", "ON", "true", "True", "TRUE"), True),
    (("n", "N", "no", "No", "NO", "off", "Off", "OFF", "false", "False", "FALSE"), False),
    (("", "~", "null", "Null", "NULL"), None),
):
    for _spelling in _spellings:
        _WORDS[_spelling] = _value
_NON_FINITE = {".nan", ".NaN", ".NAN", ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF",
               "-.inf", "-.Inf", "-.INF"}
_YAML_STYLE_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_GO_INT_BASE0 = re.compile(r"([-+]?)(0[xX][0-9a-fA-F]+|0[bB][01]+|0[oO][0-7]+|0[0-7]*|[1-9][0-9]*)")


def json_number(value: float) -> int | float:
    """A float as the API server holds it after the trip through JSON."""
    if value.is_integer() and abs(value) < 2**63:
        return int(value)
    return value


def _go_parse_int(plain: str) -> int | None:
    """strconv.ParseInt(plain, 0, 64), then ParseUint(plain, 0, 64); None if both fail."""
    match = _GO_INT_BASE0.fullmatch(plain)
    if match is None:
        return None
    sign, digits = match.groups()
    if digits[:1] != "0" and len(digits) > 20:
        return None  # past uint64 (and too long for Python to convert cheaply)
    if digits[:1] == "0" and digits[1:2] in ("x", "X", "b", "B", "o", "O"):
        value = int(digits[2:], {"x": 16, "b": 2, "o": 8}[digits[1].lower()])
    elif digits[:1] == "0" and len(digits) > 1:
        value = int(digits[1:], 8)
    else:
        value = int(digits)
    value = -value if sign == "-" else value
    if -(2**63) <= value < 2**63:
        return value
    if not sign and value < 2**64:
        return value  # ParseUint: an uint64
    return None  # out of range: not an integer for go-yaml


def go_scalar(text: str) -> Any:
    """The JSON value Kubernetes gets from a plain (unquoted) scalar."""
    if text in _NON_FINITE:
        raise Rejected(text)
    if text in _WORDS:
        return _WORDS[text]
    first = text[0]
    if first == ".":
        if "_" in text:
            raise Divergence("Go's ParseFloat rules for underscores after a leading dot")
        if re.fullmatch(r"\.[0-9]+([eE][-+]?[0-9]+)?", text):
            if math.isinf(float(text)):
                raise Divergence("floats beyond float64 (go-yaml: a string)")
            return json_number(float(text))
        return text
    if first not in "+-0123456789":
        return text
    if re.fullmatch(r"[0-9]{4}-.*", text):
        return text  # timestamps (and what only starts like one) stay strings
    plain = text.replace("_", "")
    number = _go_parse_int(plain)
    if number is not None:
        return number  # an int64, or an uint64 (ParseUint)
    if _YAML_STYLE_FLOAT.fullmatch(plain):  # also a decimal integer beyond 64 bits
        value = float(plain)
        if math.isinf(value):
            raise Divergence("floats beyond float64 (go-yaml: a string)")
        return json_number(value)
    return text  # hex, octal and binary beyond 64 bits included


def go_key(text: str) -> str:
    """The JSON key Kubernetes gets from a plain mapping key (sigs.k8s.io/yaml)."""
    if text in _NON_FINITE:
        raise Divergence("non-finite mapping keys (sigs.k8s.io/yaml: `.inf`)")
    value = go_scalar(text)
    if value is None:
        raise Rejected("a null mapping key")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int) and _is_float_spelling(text):
        value = float(value)
    if isinstance(value, int) and value >= 2**63:
        raise Divergence("uint64 mapping keys (sigs.k8s.io/yaml refuses the document)")
    if isinstance(value, float) and value == 0 and text.startswith("-"):
        raise Divergence("negative-zero float mapping keys (sigs.k8s.io/yaml: \"-0\")")
    if isinstance(value, float):
        # strconv.FormatFloat(f, 'g', -1, 32): exact here only for short, moderate values.
        if value.is_integer() and abs(value) < 1e6:
            return str(int(value))
        if 1e-4 <= abs(value) < 1e6 and len(repr(value).lstrip("-").replace(".", "")) <= 7:
            return repr(value)
        raise Divergence("float mapping keys (sigs.k8s.io/yaml formats them as float32 %g)")
    return str(value)


def _is_float_spelling(text: str) -> bool:
    """Whether go-yaml resolves this plain scalar as a float (then JSON makes it an int)."""
    plain = text.replace("_", "")
    return _go_parse_int(plain) is None and bool(_YAML_STYLE_FLOAT.fullmatch(plain)) \
        or text.startswith(".")


# --------------------------------------------------------------------------- PyYAML


def pyyaml_plain(text: str, *, allow_unicode: bool) -> bool:
    """Whether `yaml.safe_dump` writes this string unquoted."""
    out = yaml.safe_dump(text, allow_unicode=allow_unicode)
    return not out.startswith(("'", '"', "|", ">"))


def safe_dump_expectation(value: Any, *, allow_unicode: bool) -> Any:
    """What Kubernetes reads from `yaml.safe_dump(value, allow_unicode=…)`.

    Raises Rejected where PyYAML writes what it cannot read back itself: with
    `allow_unicode`, a NEL goes raw into a single-quoted scalar, where every YAML 1.1 reader
    (go-yaml too) folds it into a space (LS and PS are kept by folding); a key it escapes
    past YAML's 1,024 characters for an implicit key."""
    if isinstance(value, dict):
        result: dict[str, Any] = {}
        for key, item in value.items():
            safe_dump_expectation(key, allow_unicode=allow_unicode)  # the same for keys
            if isinstance(key, str) and len(yaml.safe_dump(
                    key, allow_unicode=allow_unicode, width=10**9).split("\n")[0]) > 1024:
                # PyYAML judges a key simple by its length before escaping (< 128), then
                # writes 103 emoji as 1,030 characters of escapes: past YAML's 1,024 for an
                # implicit key, which libyaml and go-yaml alike refuse.
                raise Rejected("an implicit key longer than 1024 characters once escaped")
            read = go_key(key) if pyyaml_plain(key, allow_unicode=allow_unicode) else key
            if read in result:
                raise Rejected(f"two keys read as {read!r}")
            result[read] = safe_dump_expectation(item, allow_unicode=allow_unicode)
        return result
    if isinstance(value, list):
        return [safe_dump_expectation(item, allow_unicode=allow_unicode) for item in value]
    if isinstance(value, str):
        if allow_unicode and "\x85" in value:
            raise Rejected("PyYAML writes a raw NEL it does not read back")
        return go_scalar(value) if pyyaml_plain(value, allow_unicode=allow_unicode) else value
    if isinstance(value, float):
        return json_number(value)
    return value


def same(a: Any, b: Any) -> bool:
    """Equal as JSON values, types included (`True` is not `1`, `1` is not `1.0`)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


# --------------------------------------------------------------------------- hand-written

_PLAIN_SAFE = re.compile(r"[A-Za-z0-9_./+~=-](?:[A-Za-z0-9_./+~=()@-]| (?=[^ ]))*")
_LINE_BREAKS = "\n\r\x85\u2028\u2029"


def _printable(ch: str) -> bool:
    """Characters a quoted scalar may hold raw (YAML's c-printable, no line breaks)."""
    o = ord(ch)
    return ch == "\t" or 0x20 <= o <= 0x7E or (
        o >= 0xA0 and ch not in _LINE_BREAKS and ch != "\ufeff"
        and not 0xD800 <= o <= 0xDFFF and o not in (0xFFFE, 0xFFFF))


def plain_ok(text: str) -> bool:
    """Conservative: a plain scalar that reads back as this very text, in block or flow."""
    return bool(_PLAIN_SAFE.fullmatch(text)) and text != "-" and not text.startswith(
        ("- ", "---", "...")) and not (text.startswith(".") and "_" in text)


def double_quoted(text: str, rnd: random.Random) -> str:
    out = ['"']
    for ch in text:
        o = ord(ch)
        if ch in '"\\':
            out.append("\\" + ch)
        elif 0x20 <= o <= 0x7E or (o >= 0xA0 and _printable(ch) and rnd.random() < 0.6):
            out.append(ch)
        elif ch in "\n\t" and rnd.random() < 0.5:
            out.append("\\n" if ch == "\n" else "\\t")
        elif o <= 0xFF:
            out.append(f"\\x{o:02x}")
        elif o <= 0xFFFF:
            out.append(f"\\u{o:04x}")
        else:
            out.append(f"\\U{o:08x}")
    out.append('"')
    return "".join(out)


def _literal_ok(text: str) -> bool:
    body = text.removesuffix("\n")
    if "\n" not in body or body.endswith("\n") or not body:
        return False
    return all(line == "" or (line[0] not in " \t" and all(_printable(c) for c in line))
               for line in body.split("\n")) and body.split("\n")[0] != ""


_COMMENT_TEXT = "abc XYZ 09 #:-[]{}'\"é€😀\t"


@dataclass
class Emitted:
    """A YAML stream, what Kubernetes reads from each document, and where each field is."""

    text: str
    documents: list[Any] = field(default_factory=list)
    lines: list[dict[str, int]] = field(default_factory=list)
    """Per document: JSON pointer → 1-based line of its key (list items: their first line)."""


class HandEmitter:
    """Writes objects as YAML a person might have written, with random but valid choices."""

    def __init__(self, rnd: random.Random, *, comment_breaks: bool = False,
                 resolve_keys: bool = True) -> None:
        self.rnd = rnd
        self.resolve_keys = resolve_keys
        """Write keys plain even when Kubernetes reads them as other text (`y:` is "true")."""
        self.comment_breaks = comment_breaks
        """Put a raw NEL/LS/PS (line breaks only to YAML 1.1) at the end of comments."""
        self.out: list[str] = []
        self.lines: dict[str, int] = {}
        self.step = 2

    # ---- public

    def stream(self, objects: list[dict[str, Any]]) -> Emitted:
        emitted = Emitted("")
        for index, obj in enumerate(objects):
            self.lines = {}
            self.step = self.rnd.choice([2, 2, 4])
            if index or self.rnd.random() < 0.4:
                self._line("---" + (self._comment() if self.rnd.random() < 0.3 else ""))
            for _ in range(self.rnd.choice([0, 0, 1, 2])):
                self._line(self._comment().lstrip())
            expected: dict[str, Any] = {}
            self.lines[""] = len(self.out) + 1
            self._mapping(obj, 0, "", expected, lead=None)
            if self.rnd.random() < 0.15:
                self._line("...")
            emitted.documents.append(expected)
            emitted.lines.append(self.lines)
        newline = "\r\n" if self.rnd.random() < 0.2 else "\n"
        emitted.text = newline.join(self.out) + newline
        return emitted

    # ---- lines and comments

    def _line(self, text: str) -> int:
        self.out.append(text)
        return len(self.out)

    def _comment(self) -> str:
        length = self.rnd.randint(0, 12)
        text = "".join(self.rnd.choice(_COMMENT_TEXT) for _ in range(length))
        if self.comment_breaks and self.rnd.random() < 0.5:
            text += self.rnd.choice(["\x85", "\u2028", "\u2029"])
        return "  # " + text

    def _trailing(self) -> str:
        return self._comment() if self.rnd.random() < 0.25 else ""

    # ---- scalars

    def _scalar(self, value: Any, *, flow: bool = False) -> tuple[str, Any]:
        """(text on one line, what Kubernetes reads) for a scalar value."""
        rnd = self.rnd
        if value is None:
            return rnd.choice(["null", "~", "Null", "NULL"]), None
        if isinstance(value, bool):
            words = ["true", "True", "TRUE", "yes", "on", "Y"] if value else \
                ["false", "False", "FALSE", "no", "off", "n"]
            word = rnd.choice(words)
            return word, go_scalar(word)
        if isinstance(value, int):
            spellings = [str(value)]
            if value >= 0:
                spellings += [f"0x{value:X}", f"0o{value:o}", f"{value:_}"]
                if value:
                    spellings.append(f"0{value:o}")
            text = rnd.choice(spellings)
            return text, go_scalar(text)
        if isinstance(value, float):
            text = repr(value)
            return text, go_scalar(text)
        assert isinstance(value, str)
        choices = ["double"]
        if all(_printable(c) for c in value):
            choices += ["single", "single"]
        if plain_ok(value):
            try:
                go_scalar(value)
                choices += ["plain"] * 3
            except (Rejected, Divergence):
                pass  # never written plain here: see the xfail tests
        style = rnd.choice(choices)
        if style == "plain":
            return value, go_scalar(value)
        if style == "single":
            return "'" + value.replace("'", "''") + "'", value
        return double_quoted(value, rnd), value

    def _key(self, key: str) -> tuple[str, str]:
        text, read = self._key_text(key)
        if len(text) > 1000:
            raise Rejected("YAML limits implicit keys to 1024 characters of the source")
        return text, read

    def _key_text(self, key: str) -> tuple[str, str]:
        if plain_ok(key) and self.rnd.random() < 0.7:
            try:
                read = go_key(key)
                if read == key or self.resolve_keys:
                    return key, read
            except (Divergence, Rejected):
                pass
        if all(_printable(c) for c in key) and self.rnd.random() < 0.5:
            return "'" + key.replace("'", "''") + "'", key
        return double_quoted(key, self.rnd), key

    # ---- flow collections (one line)

    def _flowable(self, value: Any, depth: int = 0) -> bool:
        if isinstance(value, dict | list):
            return depth < 3 and len(value) <= 4 and all(
                self._flowable(v, depth + 1) for v in (value.values() if isinstance(value, dict)
                                                       else value))
        return True

    def _flow(self, value: Any, pointer: str, line: int) -> tuple[str, Any]:
        self.lines.setdefault(pointer, line)
        if isinstance(value, dict):
            parts, read = [], {}
            for key, item in value.items():
                key_text, key_read = self._key(key)
                if key_read in read:
                    raise Rejected("duplicate key")
                child = pointer + "/" + escape_pointer_token(key_read)
                self.lines[child] = line
                text, item_read = self._flow(item, child, line)
                parts.append(f"{key_text}: {text}")
                read[key_read] = item_read
            return "{" + ", ".join(parts) + "}", read
        if isinstance(value, list):
            parts, items = [], []
            for index, item in enumerate(value):
                text, item_read = self._flow(item, f"{pointer}/{index}", line)
                parts.append(text)
                items.append(item_read)
            return "[" + ", ".join(parts) + "]", items
        return self._scalar(value, flow=True)

    # ---- block collections

    def _mapping(self, mapping: dict[str, Any], indent: int, pointer: str,
                 read: dict[str, Any], lead: str | None) -> None:
        for index, (key, value) in enumerate(mapping.items()):
            first = index == 0 and lead is not None
            if index and self.rnd.random() < 0.1:
                self._line(" " * self.rnd.randint(0, indent) + self._comment().lstrip())
            prefix = lead if first and lead is not None else " " * indent
            key_text, key_read = self._key(key)
            if key_read in read:
                raise Rejected("duplicate key")
            child = pointer + "/" + escape_pointer_token(key_read)
            line = len(self.out) + 1
            self.lines[child] = line
            head = f"{prefix}{key_text}:"
            read[key_read] = self._value(value, head, indent, child, line)

    def _value(self, value: Any, head: str, indent: int, pointer: str, line: int) -> Any:
        """Write `head` (`key:` or `-`) and the value after it; return what is read."""
        rnd = self.rnd
        sep = "" if head.endswith("- ") else " "
        if isinstance(value, dict | list) and not value:
            self._line(f"{head}{sep}{'{}' if isinstance(value, dict) else '[]'}"
                       + self._trailing())
            return {} if isinstance(value, dict) else []
        if isinstance(value, dict | list) and self._flowable(value) and rnd.random() < 0.3:
            text, flow_read = self._flow(value, pointer, line)
            self._line(f"{head}{sep}{text}{self._trailing()}")
            return flow_read
        if isinstance(value, dict):
            read: dict[str, Any] = {}
            if head.endswith("- "):
                self._mapping(value, len(head), pointer, read, lead=head)
                return read
            self._line(head + self._trailing())
            self._mapping(value, indent + self.step, pointer, read, lead=None)
            return read
        if isinstance(value, list):
            if head.endswith("- "):
                # A list in a list: compact, `- - a`.
                return self._sequence(value, len(head) - 2 + 2, pointer, lead=head)
            self._line(head + self._trailing())
            dash_indent = indent if rnd.random() < 0.5 else indent + self.step
            return self._sequence(value, dash_indent, pointer, lead=None)
        if value is None and not head.endswith("- ") and rnd.random() < 0.3:
            self._line(head + self._trailing())  # `key:` with nothing after it is null
            return None
        if isinstance(value, str) and _literal_ok(value) and rnd.random() < 0.5:
            chomp = "" if value.endswith("\n") else "-"
            self._line(f"{head}{sep}|{chomp}")
            body = value.removesuffix("\n")
            pad = " " * (indent + self.step if not head.endswith("- ") else len(head))
            for text in body.split("\n"):
                self._line(pad + text if text else "")
            return value
        text, read_value = self._scalar(value)
        self._line(f"{head}{sep}{text}{self._trailing()}")
        return read_value

    def _sequence(self, items: list[Any], indent: int, pointer: str,
                  lead: str | None) -> list[Any]:
        read = []
        for index, item in enumerate(items):
            child = f"{pointer}/{index}"
            head = lead if index == 0 and lead is not None else " " * indent
            head = head + "- "
            line = len(self.out) + 1
            self.lines[child] = line
            read.append(self._value(item, head, indent, child, line))
        return read


def dump_json(obj: Any, rnd: random.Random) -> str:
    return json.dumps(obj, ensure_ascii=rnd.random() < 0.5,
                      indent=rnd.choice([None, 2, 4]), sort_keys=rnd.random() < 0.5)
