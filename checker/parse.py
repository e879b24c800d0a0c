"""Read YAML and JSON the way the Kubernetes API server will see them.

kubectl and the API machinery read YAML through sigs.k8s.io/yaml, which resolves plain
scalars with go-yaml v2's YAML 1.1 rules and then converts to JSON:

- `y`, `yes`, `on` (and `n`, `no`, `off`, in their three spellings) are booleans;
- integers follow Go's `strconv.ParseInt(s, 0, 64)` after dropping `_`: `012` is octal 10,
  `0x1F` hex, `0b101` binary, `0o17` octal; no base-60 (`22:22` stays a string);
- floats match `[-+]?(\\.[0-9]+|[0-9]+(\\.[0-9]*)?)([eE][-+]?[0-9]+)?`; an integral float
  becomes an integer on the way through JSON (`replicas: 1.0` is 1, `08` is 8);
- timestamps stay strings; `~`, `null`, `Null`, `NULL` and the empty scalar are null;
- non-string mapping keys become their JSON text (`1: a` has key "1").

PyYAML's C scanner and parser do the tokenising (fast, with line marks); the resolver and
constructor below apply the rules above. Values that only YAML 1.1 reads as non-strings
(`yes`, `on`, `012`, …) are recorded as *ambiguous scalars*, so a schema that wants a
string there can say why the API server will reject the object.

Duplicate keys, unknown tags (`!!python/object` is never constructed) and alias
expansion past a fixed budget are errors with a line, and never stop the next document
of the file from being read.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import json
import math
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

import yaml
from yaml._yaml import CParser
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

STR = "tag:yaml.org,2002:str"
INT = "tag:yaml.org,2002:int"
FLOAT = "tag:yaml.org,2002:float"
BOOL = "tag:yaml.org,2002:bool"
NULL = "tag:yaml.org,2002:null"
MAP = "tag:yaml.org,2002:map"
SEQ = "tag:yaml.org,2002:seq"
MERGE = "tag:yaml.org,2002:merge"
TIMESTAMP = "tag:yaml.org,2002:timestamp"
BINARY = "tag:yaml.org,2002:binary"

MAX_ALIAS_EXPANSION = 1_000_000
"""Nodes a document may grow to once aliases are expanded (a billion-laughs guard)."""
MAX_ALIAS_EXPANSION_CHARS = 64 * 1024 * 1024
"""Characters of scalars a document may grow to once aliases are expanded: a few aliases
of one long string are a bomb too. As much as the largest file read (`load.MAX_FILE_BYTES`),
so only aliases can pass it; the API server takes requests of 3 MiB."""

_WORDS: dict[str, tuple[str, Any]] = {}
for _words, _tag, _value in (
    (("y", "Y", "yes", "Yes", "YES", "on", "On", "ON"), BOOL, True),
    (("true", "True", "TRUE"), BOOL, True),
    (("n", "N", "no", "No", "NO", "off", "Off", "OFF"), BOOL, False),
    (("false", "False", "FALSE"), BOOL, False),
    (("~", "null", "Null", "NULL"), NULL, None),
    ((".nan", ".NaN", ".NAN"), FLOAT, math.nan),
    ((".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"), FLOAT, math.inf),
    (("-.inf", "-.Inf", "-.INF"), FLOAT, -math.inf),
    (("<<",), MERGE, None),
):
    for _word in _words:
        _WORDS[_word] = (_tag, _value)

YAML11_ONLY_BOOLS = frozenset(
    ("y", "Y", "yes", "Yes", "YES", "on", "On", "ON",
     "n", "N", "no", "No", "NO", "off", "Off", "OFF")
)
"""Plain scalars that YAML 1.2 reads as strings but Kubernetes reads as booleans."""

_NUMBER_START = frozenset("0123456789+-.")
_GO_INT = re.compile(r"[-+]?(?:0[xX][0-9a-fA-F]+|0[bB][01]+|0[oO][0-7]+|0[0-7]*|[1-9][0-9]*)")
_GO_FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?")


_INT_RANGE = range(-2**63, 2**64)
"""What Go's ParseInt (int64) or, failing that, ParseUint (uint64) accepts."""


def _go_int(plain: str) -> int | None:
    """An integer literal matched by `_GO_INT`, or None when it is out of Go's range (then
    go-yaml v2 tries it as a float, else keeps the string)."""
    sign = -1 if plain[0] == "-" else 1
    digits = plain.lstrip("+-")
    if len(digits) > 1 and digits[0] == "0" and digits[1] in "xXbBoO":
        base, body = {"x": 16, "b": 2, "o": 8}[digits[1].lower()], digits[2:]
    elif len(digits) > 1 and digits[0] == "0":
        base, body = 8, digits[1:]
    else:
        base, body = 10, digits
    if base == 10 and len(body) > 20:
        return None  # past uint64, and Python refuses to convert thousands of digits
    value = sign * int(body, base)
    return value if value in _INT_RANGE else None


def _go_number(text: str) -> tuple[str, Any] | None:
    """Resolve a plain scalar as go-yaml v2 does for numbers, or None if it is a string."""
    plain = text.replace("_", "")
    if _GO_INT.fullmatch(plain):
        integer = _go_int(plain)
        if integer is not None:
            return INT, integer
    if _GO_FLOAT.fullmatch(plain):
        value = float(plain)
        return FLOAT, value
    return None


def resolve_plain(text: str) -> str:
    """The tag go-yaml v2 gives a plain (unquoted) scalar."""
    if text == "":
        return NULL
    first = text[0]
    word = _WORDS.get(text)
    if word is not None:
        return word[0]
    if first in _NUMBER_START:
        number = _go_number(text)
        if number is not None:
            return number[0]
    return STR


@dataclass(frozen=True, slots=True)
class AmbiguousScalar:
    """A plain scalar that Kubernetes reads as a non-string where YAML 1.2 would not."""

    line: int
    column: int
    text: str
    value: Any


@dataclass(frozen=True, slots=True)
class Document:
    """One parsed YAML document; `line` is 1-based, where the document's content starts."""

    index: int
    line: int
    data: Any
    ambiguous: tuple[AmbiguousScalar, ...] = ()
    chunk: tuple[int, int, int] = (0, 0, 0)
    """(char offset, line offset, index) of the document within the part of the stream it
    was read from; a stream is read in parts when a syntax error forces a restart."""
    plain_dates: bool = False
    """An unquoted date (`2001-12-14`): a string here, as for kubectl, but a timestamp for a
    YAML 1.2 reader such as Kustomize, whose output then holds `2001-12-14T00:00:00Z`."""
    fast: bool = field(default=False, compare=False)
    """Read by the fast path (its stream can be located with `LinePositions`)."""


@dataclass(frozen=True, slots=True)
class DocumentError:
    """A document (or the rest of a stream) that could not be read."""

    index: int
    line: int | None
    column: int | None
    kind: str
    message: str


_PLAIN_DATE = re.compile(r"[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}([Tt \t]|$)")


class _KubeResolver:
    """Mixin replacing PyYAML's resolver with go-yaml v2's rules (see module docstring)."""

    def resolve(self, kind: type[Node], value: Any, implicit: tuple[bool, bool]) -> str:
        if kind is ScalarNode:
            return resolve_plain(value) if implicit[0] else STR
        if kind is SequenceNode:
            return SEQ
        return MAP

    # The C parser calls these; nothing path-based is needed.
    def descend_resolver(self, current_node: Any, current_index: Any) -> None:
        return None

    def ascend_resolver(self) -> None:
        return None


class _KubeConstructor(yaml.constructor.BaseConstructor):
    """Builds plain dict/list/str/int/float/bool/None, as JSON would hold them."""

    yaml_constructors: ClassVar[dict[Any, Any]] = {}

    def __init__(self) -> None:
        super().__init__()
        self.ambiguous: list[AmbiguousScalar] = []
        self.plain_dates = False

    def _note_ambiguous(self, node: ScalarNode, value: Any) -> None:
        mark = node.start_mark
        self.ambiguous.append(AmbiguousScalar(mark.line + 1, mark.column + 1, node.value, value))

    def construct_null(self, node: ScalarNode) -> None:
        if node.value not in ("", "~", "null", "Null", "NULL"):
            # go-yaml v2 refuses `!!null x` (the value is not quoted back: it may be a secret).
            raise ConstructorError(None, None, "a value tagged !!null is not null",
                                   node.start_mark)

    def construct_str(self, node: ScalarNode) -> str:
        if not node.style and _PLAIN_DATE.match(node.value):
            self.plain_dates = True
        return str(node.value)

    def construct_bool(self, node: ScalarNode) -> bool:
        text = node.value
        word = _WORDS.get(text)
        if word is None or word[0] != BOOL:
            # The value itself is not quoted back: it may be a secret.
            raise ConstructorError(None, None, "a value tagged !!bool is not a boolean",
                                   node.start_mark)
        if not node.style and text in YAML11_ONLY_BOOLS:
            self._note_ambiguous(node, word[1])
        return bool(word[1])

    def construct_number(self, node: ScalarNode) -> int | float:
        text = node.value
        word = _WORDS.get(text)
        number = (FLOAT, word[1]) if word is not None and word[0] == FLOAT else _go_number(text)
        if number is None:
            raise ConstructorError(None, None, "a value tagged as a number is not a number",
                                   node.start_mark)
        value = number[1]
        if isinstance(value, float) and not math.isfinite(value):
            # sigs.k8s.io/yaml converts to JSON, which has no infinity or NaN: kubectl and the
            # API server refuse the whole document.
            raise ConstructorError(None, None, "an infinite or NaN number (.inf, .nan, 1e999) "
                                   "cannot be represented in JSON; Kubernetes rejects the "
                                   "document (quote it if a string is meant)", node.start_mark)
        if isinstance(value, float) and value.is_integer() and abs(value) < 2**63:
            value = int(value)  # what JSON makes of an integral float
        plain = text.lstrip("+-").replace("_", "")
        if not node.style and len(plain) > 1 and plain[0] == "0" and plain[1].isdigit():
            self._note_ambiguous(node, value)
        return value

    def construct_timestamp(self, node: ScalarNode) -> str:
        return str(node.value)

    def construct_binary(self, node: ScalarNode) -> str:
        # sigs.k8s.io/yaml hands base64 text through as a string; keep the text.
        return "".join(str(node.value).split())

    def construct_seq(self, node: SequenceNode) -> Iterator[list[Any]]:
        data: list[Any] = []
        yield data
        data.extend(self.construct_object(child, deep=True) for child in node.value)

    def construct_map(self, node: MappingNode) -> Iterator[dict[str, Any]]:
        data: dict[str, Any] = {}
        yield data
        self._flatten_merges(node)
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, str):
                key = _json_key(key, key_node)
            if key in seen and not getattr(key_node, "_merged", False):
                raise ConstructorError(
                    "while reading a mapping", node.start_mark,
                    f"duplicate key {key!r} (first at line {seen[key]})", key_node.start_mark,
                )
            seen.setdefault(key, key_node.start_mark.line + 1)
            data[key] = self.construct_object(value_node, deep=True)

    def _flatten_merges(self, node: MappingNode) -> None:
        """Apply `<<` merge keys in place: merged keys come first, explicit keys override."""
        merged: list[tuple[Node, Node]] = []
        own: list[tuple[Node, Node]] = []
        for key_node, value_node in node.value:
            if key_node.tag == MERGE:
                sources = value_node.value if isinstance(value_node, SequenceNode) else [value_node]
                for source in sources:
                    if not isinstance(source, MappingNode):
                        raise ConstructorError(
                            "while reading a merge key", node.start_mark,
                            "a merge key needs a mapping or a list of mappings", source.start_mark,
                        )
                    self._flatten_merges(source)
                    merged.extend(source.value)
            else:
                own.append((key_node, value_node))
        if not merged:
            return
        own_keys = {k.value for k, _ in own if isinstance(k, ScalarNode)}
        kept: dict[Any, tuple[Node, Node]] = {}
        for key_node, value_node in merged:
            if isinstance(key_node, ScalarNode) and key_node.value not in own_keys:
                kept.setdefault(key_node.value, (key_node, value_node))
        flattened = []
        for key_node, value_node in kept.values():
            marked = ScalarNode(key_node.tag, key_node.value, key_node.start_mark, key_node.end_mark)
            marked._merged = True  # type: ignore[attr-defined]
            flattened.append((marked, value_node))
        node.value = flattened + own

    def construct_merge_word(self, node: ScalarNode) -> str:
        """`<<` is a merge key only as a key; as a value it is the string "<<"."""
        return str(node.value)

    def construct_undefined(self, node: Node) -> Any:
        """Local tags (`!foo`) are ignored, as go-yaml v2 does; other tags are refused, so
        nothing like `!!python/object` is ever constructed."""
        if node.tag.startswith("!") and not node.tag.startswith("!!"):
            if isinstance(node, ScalarNode):
                return str(node.value)
            if isinstance(node, SequenceNode):
                return [self.construct_object(child, deep=True) for child in node.value]
            if isinstance(node, MappingNode):
                return {str(self.construct_object(key, deep=True)):
                        self.construct_object(value, deep=True) for key, value in node.value}
        raise ConstructorError(
            None, None,
            f"unsupported YAML tag {node.tag!r}: Kubernetes objects use plain YAML only",
            node.start_mark,
        )


def _json_key(key: Any, node: Node) -> str:
    """A mapping key as sigs.k8s.io/yaml writes it to JSON (a null key is an error there)."""
    if isinstance(key, bool):
        return "true" if key else "false"
    if isinstance(key, (int, float)):
        return json.dumps(key)
    raise ConstructorError(None, None, "a mapping key must be a string, number or boolean",
                           node.start_mark)


_CONSTRUCTORS: tuple[tuple[str | None, Any], ...] = (
    (NULL, _KubeConstructor.construct_null),
    (STR, _KubeConstructor.construct_str),
    (BOOL, _KubeConstructor.construct_bool),
    (INT, _KubeConstructor.construct_number),
    (FLOAT, _KubeConstructor.construct_number),
    (TIMESTAMP, _KubeConstructor.construct_timestamp),
    (BINARY, _KubeConstructor.construct_binary),
    (SEQ, _KubeConstructor.construct_seq),
    (MAP, _KubeConstructor.construct_map),
    (MERGE, _KubeConstructor.construct_merge_word),
    (None, _KubeConstructor.construct_undefined),
)
for _constructor_tag, _fn in _CONSTRUCTORS:
    _KubeConstructor.add_constructor(_constructor_tag, _fn)  # type: ignore[type-var,arg-type]


class KubeLoader(CParser, _KubeConstructor, _KubeResolver):  # type: ignore[misc]
    """PyYAML's C parser with Kubernetes' scalar rules."""

    def __init__(self, stream: str) -> None:
        CParser.__init__(self, stream)
        _KubeConstructor.__init__(self)


class ComposeLoader(CParser, _KubeResolver):  # type: ignore[misc]
    """Node trees only (with marks), for finding the line of a field."""

    def __init__(self, stream: str) -> None:
        CParser.__init__(self, stream)

    def resolve(self, kind: type[Node], value: Any, implicit: tuple[bool, bool]) -> str:
        # Fields are found by the text of their keys; what a scalar means is not needed,
        # and resolving every scalar was a third of the cost of locating findings.
        if kind is ScalarNode:
            return STR
        return SEQ if kind is SequenceNode else MAP


def _expanded_size(root: Node, limit: int,
                   char_limit: int = MAX_ALIAS_EXPANSION_CHARS) -> tuple[int, int]:
    """(nodes, characters of scalars) the document would have with every alias expanded;
    stops past `limit` nodes or `char_limit` characters."""
    sizes: dict[int, tuple[int, int]] = {}
    active: set[int] = set()

    def size(node: Node) -> tuple[int, int]:
        known = sizes.get(id(node))
        if known is not None:
            return known
        if id(node) in active:
            raise ConstructorError(None, None, "recursive alias", node.start_mark)
        active.add(id(node))
        total, chars = 1, 0
        if isinstance(node, ScalarNode):
            chars = len(node.value)
        else:
            children = node.value if isinstance(node, SequenceNode) else \
                [child for pair in node.value for child in pair]
            for child in children:
                child_total, child_chars = size(child)
                total += child_total
                chars += child_chars
        active.discard(id(node))
        if total > limit:
            raise ConstructorError(
                None, None,
                f"alias expansion exceeds {limit:,} nodes (a YAML alias bomb?)",
                node.start_mark,
            )
        if chars > char_limit:
            raise ConstructorError(
                None, None,
                f"alias expansion exceeds {char_limit:,} characters (a YAML alias bomb?)",
                node.start_mark,
            )
        sizes[id(node)] = total, chars
        return total, chars

    return size(root)


_DOC_START = re.compile(r"^---(?:[ \t]|\r?$)", re.MULTILINE)
_DOC_START_ROW = re.compile(r"\n(?=---(?:[ \t\n]|$))")
"""`_DOC_START` after the first row, led by its line break (which the engine finds fast);
the match ends where the marker's row starts. For LF-only texts."""
_OTHER_BREAKS = re.compile("\r(?!\n)|[\x85\u2028\u2029]")
"""Line breaks besides LF and CRLF that libyaml (and go-yaml) count: CR, NEL, LS, PS."""


def _line_view(text: str) -> str:
    """`text` with every line break libyaml counts written as LF: the same length, so that
    offsets agree, and the same lines as libyaml's marks for `count("\n")` and `^---`."""
    if not any(c in text for c in "\r\x85\u2028\u2029") or _OTHER_BREAKS.search(text) is None:
        return text  # (the common case, checked at C speed first)
    return _OTHER_BREAKS.sub("\n", text)


def parse_yaml(text: str, *, fast: bool = True) -> Iterator[Document | DocumentError]:
    """Every document of a YAML stream, in order; errors never end the stream early.

    After a syntax error the stream is resumed at the next `---` line, so the documents
    after a broken one are still read. Lines are counted as libyaml counts them (a CR, NEL,
    LS or PS is a line break too), so that they agree with its marks.

    `fast`: read streams whose meaning cannot differ with the Rust reader first (see
    `_read_fast`); what it declines is read here.
    """
    documents = _read_fast(text) if fast else None
    if documents is not None:
        yield from documents
        return
    text, blanked = _blank_unreadable_documents(text)
    lines = _line_view(text)
    index = 0
    offset_line = 0
    offset_char = 0
    remaining, remaining_lines = text, lines
    may_have_anchors = "&" in text
    while True:
        loader = KubeLoader(remaining)
        chunk_start = index
        error: DocumentError | None = None
        read_to = 0  # 1-based line (in this part) where the next document may start
        try:
            while True:
                try:
                    if not loader.check_node():
                        break
                    node: Node = loader.get_node()  # type: ignore[assignment]
                except RecursionError:
                    error = DocumentError(index, None, None, "nesting", "nesting too deep to read")
                    break
                read_to = node.end_mark.line + 1
                start = node.start_mark.line + 1 + offset_line
                failed = blanked.pop(start, None)
                if failed is not None:
                    # A document emptied by _blank_unreadable_documents: report it instead.
                    yield DocumentError(index, failed.line, None, "syntax", failed.message)
                    index += 1
                    continue
                loader.ambiguous = []
                loader.plain_dates = False
                try:
                    if may_have_anchors:
                        _expanded_size(node, MAX_ALIAS_EXPANSION)
                    data = loader.construct_document(node)
                    chunk = (offset_char, offset_line, index - chunk_start)
                    ambiguous = tuple(
                        AmbiguousScalar(s.line + offset_line, s.column, s.text, s.value)
                        for s in loader.ambiguous)
                    yield Document(index, start, data, ambiguous, chunk, loader.plain_dates)
                except ConstructorError as exc:
                    loader.constructed_objects.clear()
                    loader.recursive_objects.clear()
                    loader.state_generators = []
                    yield _constructor_error(index, exc, offset_line)
                except RecursionError:
                    yield DocumentError(index, start, None, "nesting", "nesting too deep to read")
                index += 1
        except yaml.MarkedYAMLError as exc:
            error = _syntax_error(index, exc, offset_line)
        except yaml.reader.ReaderError as exc:
            # libyaml reports a byte offset into the UTF-8 text it was given.
            before = remaining.encode("utf-8")[:exc.position].decode("utf-8", "ignore")
            line = _line_view(before).count("\n") + 1 + offset_line
            error = DocumentError(index, line, None, "syntax", f"{exc.reason} "
                                  f"(character #x{exc.character:04x})"
                                  if isinstance(exc.character, int) else exc.reason)
        except (yaml.YAMLError, ValueError) as exc:
            error = DocumentError(index, None, None, "syntax", str(exc))
        finally:
            loader.dispose()
        if error is None:
            return
        yield error
        index += 1
        # Without a line, resume after the last document read (never before it: the
        # documents already yielded must not be read twice).
        error_line = error.line - offset_line if error.line is not None else read_to
        resume = _next_document_start(remaining_lines, error_line)
        if resume is None:
            return
        resume_line, resume_offset = resume
        offset_line += resume_line
        offset_char += resume_offset
        remaining = remaining[resume_offset:]
        remaining_lines = remaining_lines[resume_offset:]


_UNREADABLE = re.compile(
    "[^\t\n\r\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


# --- the fast path --------------------------------------------------------------------------

try:
    import yaml_rs
except ImportError:  # pragma: no cover - a declared dependency; without it, every stream
    yaml_rs = None  # type: ignore[assignment]  # streams are read by the reference path

_ZERO_LED = re.compile(r"0[0-9_bBoOxX]")
_DATE_TAIL = re.compile(r"-[0-9]{1,2}-[0-9]")
_INDICATOR = re.compile(r"[!&*?]")
_NODE_BEFORE = frozenset(" \t\n\r\x0b\x0c[{,")
_TOKEN_BEFORE = frozenset(" \n[{,")


def _declined(text: str) -> bool:
    """Whether the text holds what the fast path must leave to the reference path: tabs,
    line breaks besides LF, a BOM, merge keys, directives, document end markers, tags,
    anchors, aliases, explicit keys, numbers YAML 1.1 and 1.2 (or Go and Rust) read apart
    (leading zeros, octal in 1.1; base prefixes; `_` between digits), dates (timestamps to
    Kustomize). Anywhere but in quoted scalars that end on their line: in comments and block
    scalars too (conservative: the reference path reads what it finds)."""
    if any(c in text for c in "\r\x85\u2028\u2029\ufeff"):
        return True  # line breaks to YAML 1.1 only (in quoted scalars too), a BOM
    return _risky("\n" + text) and _risky("\n" + _unquoted(text))


def _risky(text: str) -> bool:
    if "\t" in text or "<<" in text or "\n%" in text or "\n..." in text:
        return True
    for match in _ZERO_LED.finditer(text):
        at = match.start() - (text[match.start() - 1] in "+-")
        if text[at - 1] in _TOKEN_BEFORE or text[at - 1] in ":-?\t":
            return True
    if "_" in text and re.search(r"[0-9]_", text):
        return True
    for match in _DATE_TAIL.finditer(text):
        at = match.start() - 4
        if text[at:match.start()].isdigit() and text[at - 1] in _TOKEN_BEFORE:
            return True
    for match in _INDICATOR.finditer(text):
        if text[match.start() - 1] not in _NODE_BEFORE:
            continue
        indicator, after = match.group(), text[match.end():match.end() + 1]
        if indicator == "!" or (indicator == "?" and after in ("", " ", "\n")) or (
                indicator in "&*" and after not in ("", " ", "\n", "]", "}", ",")):
            return True
    return False


_QUOTED_ON_ONE_LINE = re.compile(
    r"""(?m)(?:^[ ]*|[:?-][ ]+|[\[{,][ ]*)("(?:[^"\\\n]|\\.)*"|'(?:[^'\n]|'')*')""")
"""A quoted scalar that ends on the line where it starts, where one can start (so not a
quote inside a plain scalar such as `it's`): always a string, whatever it holds."""


def _unquoted(text: str) -> str:
    return _QUOTED_ON_ONE_LINE.sub(lambda m: m.group()[:m.start(1) - m.start()] + '""', text)


_DEEP_ITEMS = re.compile(r"(?:-[ ]+){64}")
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _deep_blocks(text: str) -> bool:
    """Block nesting the fast path leaves alone: yaml-rs recurses on the native stack (100,000
    `- ` crash the process); flow nesting it refuses past 255 levels by itself. (Substring
    and literal-led searches first: these run over every file.)"""
    return "\n" + " " * 400 in text or (
        re.search(r"- +-", text) is not None and _DEEP_ITEMS.search(text) is not None)


def _unreadable(text: str) -> bool:
    """`_UNREADABLE.search(text)`, cheaper for ASCII text (most manifests)."""
    if text.isascii():
        return _CONTROL.search(text) is not None
    return _UNREADABLE.search(text) is not None


_MAX_FAST_DEPTH = 200
_FAST_POLICY = yaml_rs.DuplicateKeyPolicy.Error if yaml_rs is not None else None


def _read_fast(text: str) -> list[Document] | None:
    """The stream read by yaml-rs (Rust, ~10× faster than libyaml plus Python), or None
    when it might read it otherwise than the reference path.

    yaml-rs reads YAML 1.2 with some 1.1 habits (`0b101`, `1_000` are numbers) and gives no
    positions. It is used only where its reading provably agrees: the text holds nothing
    `_declined` names, every document reads without error (a duplicate key is one), and
    the values hold no string YAML 1.1 reads as a boolean, no key that is not a string, no
    number outside JSON's range, and no deeper nesting than `_MAX_FAST_DEPTH`. Then the
    documents, their lines (from the `---` markers and the first content line) and values
    equal the reference's; tests/properties/test_parse_fast.py compares the two over every
    YAML file of the repository, a generated estate and random streams (docs/parsing.md).
    """
    if yaml_rs is None or _unreadable(text) or _deep_blocks(text) or _declined(text):
        return None
    documents: list[Document] = []
    for start, end, first_row, content_row in _document_spans(text):
        region = text[start:end]
        try:
            data = yaml_rs.loads(region, parse_datetime=False,
                                 duplicate_key_policy=_FAST_POLICY)
        except (ValueError, RecursionError, OverflowError):
            return None
        if content_row is None:
            if data is not None:
                return None
            where = first_row + 1 + region.count("\n")  # libyaml: where the next token starts
        else:
            where = content_row + 1
            if data is None or not _agrees(data):
                return None
        index = len(documents)
        documents.append(Document(index, where, data, chunk=(0, 0, index), fast=True))
    return documents


def _document_spans(text: str) -> Iterator[tuple[int, int, int, int | None]]:
    """(start, end) characters, first row and content row (0-based; None: no content) of
    each document of a stream, split at its `---` lines; comments before the first `---`
    are no document. (Texts the fast path reads: LF breaks only.)"""
    starts = [0] if _DOC_START.match(text) else []
    starts += [m.end() for m in _DOC_START_ROW.finditer(text)]
    regions: list[tuple[int, int, bool]] = []  # (start, end, explicit)
    if not starts or starts[0] != 0:
        regions.append((0, starts[0] if starts else len(text), False))
    regions += [(start, end, True) for start, end in
                zip(starts, [*starts[1:], len(text)], strict=False)]
    row = 0
    for start, end, explicit in regions:
        region = text[start:end]
        first = _first_content_line(region, explicit)
        if first is not None or explicit:
            yield start, end, row, None if first is None else row + first
        row += region.count("\n")


_CONTENT = re.compile(r"^[ ]*[^ \n#]", re.MULTILINE)
_CONTENT_ROW = re.compile(r"\n[ ]*[^ \n#]")
"""A row that is not blank or a comment, with the break before it."""


def _first_content_line(region: str, explicit: bool) -> int | None:
    """0-based line of the region where its content starts, None if it has none."""
    start = 0
    if explicit:
        first_break = region.find("\n")
        head = region[3:first_break if first_break >= 0 else len(region)].lstrip(" ")
        if head and not head.startswith("#"):
            return 0
        if first_break < 0:
            return None
        start = first_break + 1
    found = _CONTENT.search(region, start)
    return None if found is None else region.count("\n", 0, found.start())


def _agrees(data: Any) -> bool:
    """Whether the reference would read the same values; integral floats are made integers
    in place, as the reference does (what JSON makes of them). (Type identity, not
    isinstance: yaml-rs builds plain dicts, lists and scalars; this walks every value.)"""
    bools = YAML11_ONLY_BOOLS
    stack: list[tuple[Any, int]] = [(data, 0)]
    push, pop = stack.append, stack.pop
    while stack:
        node, depth = pop()
        if depth > _MAX_FAST_DEPTH:
            return False
        kind = type(node)
        if kind is dict:
            items: Any = node.items()
        elif kind is list:
            items = enumerate(node)
        else:
            return _scalar_agrees(node)
        for key, value in items:
            if kind is dict and (type(key) is not str or key in bools or len(key) > 1000):
                return False
            of = type(value)
            if of is str:
                if value in bools:
                    return False
            elif of is dict or of is list:
                push((value, depth + 1))
            elif of is float and value.is_integer() and abs(value) < 2**63:
                node[key] = int(value)
            elif not _scalar_agrees(value):
                return False
    return True


def _scalar_agrees(value: Any) -> bool:
    if isinstance(value, str):
        return value not in YAML11_ONLY_BOOLS
    if type(value) is float:
        return math.isfinite(value)
    if type(value) is int:
        return value in _INT_RANGE
    return value is None or isinstance(value, bool)


def _blank_unreadable_documents(text: str) -> tuple[str, dict[int, DocumentError]]:
    """Empty each document holding a character YAML forbids, keeping every character
    offset and every line in place.

    libyaml rejects such a character before it has read anything, which would lose every
    document of the file; blanking only the document that holds it keeps the others. The
    document becomes `~` (null) padded with spaces to its length, its line breaks kept, so
    that offsets into the original text (used to locate fields later) stay right.
    Returns the new text and, by the 1-based line where each emptied document now starts,
    the error to report in its place.
    """
    errors: dict[int, DocumentError] = {}
    if _UNREADABLE.search(text) is None:
        return text, errors
    lines = _line_view(text)
    starts = [0] + [m.start() for m in _DOC_START.finditer(lines) if m.start() > 0]
    pieces = []
    for number, begin in enumerate(starts):
        end = starts[number + 1] if number + 1 < len(starts) else len(text)
        piece = text[begin:end]
        bad = _UNREADABLE.search(piece)
        if bad is None:
            pieces.append(piece)
            continue
        view = lines[begin:end]
        marker = 3 if _DOC_START.match(view) else 0
        body = ["\n" if c == "\n" else " " for c in view[marker:]]
        # `~` goes where the first space is (after the separator that follows `---`):
        # the bad character itself is one, so there always is such a place.
        first = next(i for i, c in enumerate(body) if c == " " and (i or not marker))
        body[first] = "~"
        errors[lines.count("\n", 0, begin + marker + first) + 1] = DocumentError(
            number, lines.count("\n", 0, begin + bad.start()) + 1, None, "syntax",
            f"character #x{ord(bad.group()):04x} is not allowed in YAML")
        pieces.append(view[:marker] + "".join(body))
    return "".join(pieces), errors


def _next_document_start(text: str, error_line: int) -> tuple[int, int] | None:
    """(line index, char offset) of the first `---` line on or after 1-based `error_line`.

    `text` is a `_line_view`. Never the start of `text` itself, so every restart makes
    progress.
    """
    line = 0
    counted_to = 0
    for match in _DOC_START.finditer(text):
        line += text.count("\n", counted_to, match.start())
        counted_to = match.start()
        if match.start() == 0:
            continue
        if line + 1 >= error_line:
            return line, match.start()
    return None


_CONSTRUCTOR_ERROR_KINDS = (
    ("duplicate key", "duplicate-key"),
    ("alias expansion exceeds", "alias-bomb"),
    ("recursive alias", "alias-bomb"),
    ("unsupported YAML tag", "yaml-tag"),
)


def _constructor_error(index: int, exc: ConstructorError, offset_line: int) -> DocumentError:
    mark = exc.problem_mark or exc.context_mark
    message = exc.problem or str(exc)
    kind = next((k for prefix, k in _CONSTRUCTOR_ERROR_KINDS if message.startswith(prefix)),
                "yaml")
    if mark is None:
        return DocumentError(index, None, None, kind, message)
    return DocumentError(index, mark.line + 1 + offset_line, mark.column + 1, kind, message)


def _syntax_error(index: int, exc: yaml.MarkedYAMLError, offset_line: int) -> DocumentError:
    mark = exc.problem_mark or exc.context_mark
    parts = [p for p in (exc.context, exc.problem) if p]
    message = "; ".join(parts) or str(exc)
    if mark is None:
        return DocumentError(index, None, None, "syntax", message)
    return DocumentError(index, mark.line + 1 + offset_line, mark.column + 1, "syntax", message)


class NonFiniteNumber(ValueError):
    """Python's json reads NaN, Infinity and 1e999; JSON and Kubernetes do not."""


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise NonFiniteNumber(text)
    return value


def _json_int(text: str) -> int | float:
    """An integer as Kubernetes decodes it: int64 or uint64, else a float64 (infinite past
    its range, which Kubernetes refuses). Thousands of digits are never converted."""
    if len(text.lstrip("-")) <= 20:
        value = int(text)
        if value in _INT_RANGE:
            return value
    return _finite_float(text)


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
_SURROGATE = re.compile("[\ud800-\udfff]")


def _without_surrogates(value: Any) -> Any:
    """Lone UTF-16 surrogates (`"\\ud800"` without its pair) as Go's JSON decoder reads them:
    U+FFFD. Python keeps them, and they cannot be written as UTF-8 (reports, OPA)."""
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [_without_surrogates(item) for item in value]
    if isinstance(value, dict):
        return {_without_surrogates(k): _without_surrogates(v) for k, v in value.items()}
    return value


def parse_json(text: str) -> Iterator[Document | DocumentError]:
    """A JSON file is one document, read with JSON's own rules (duplicate keys rejected)."""

    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key, value in pairs:
            if key in result:
                raise ValueError(f"duplicate key {key!r}")
            result[key] = value
        return result

    def no_constants(word: str) -> Any:
        raise NonFiniteNumber(word)

    stripped = text.lstrip()
    first_line = text.count("\n", 0, len(text) - len(stripped)) + 1
    try:
        data = json.loads(text, object_pairs_hook=no_duplicates, parse_constant=no_constants,
                          parse_float=_finite_float, parse_int=_json_int)
        if _SURROGATE_ESCAPE.search(text):
            data = _without_surrogates(data)
    except NonFiniteNumber as exc:
        needle = str(exc)
        position = text.find(needle)
        line = text.count("\n", 0, position) + 1 if position >= 0 else None
        if needle in ("NaN", "Infinity", "-Infinity"):
            problem = f"{needle} is not JSON (Kubernetes rejects infinite and NaN numbers)"
        else:
            shown = needle if len(needle) <= 24 else f"{needle[:12]}… ({len(needle):,} digits)"
            problem = f"the number {shown} is past the range of a 64-bit float: Kubernetes " \
                      "rejects it"
        yield DocumentError(0, line, None, "syntax", problem)
        return
    except json.JSONDecodeError as exc:
        yield DocumentError(0, exc.lineno, exc.colno, "syntax", exc.msg)
        return
    except ValueError as exc:
        line = _json_duplicate_line(text, str(exc))
        yield DocumentError(0, line, None, "duplicate-key", str(exc))
        return
    except RecursionError:
        yield DocumentError(0, first_line, None, "nesting", "nesting too deep to read")
        return
    yield Document(0, first_line, data)


def _json_duplicate_line(text: str, message: str) -> int | None:
    match = re.search(r"duplicate key '(.*)'", message)
    if not match:
        return None
    needle = json.dumps(match.group(1))
    positions = [m.start() for m in re.finditer(re.escape(needle) + r"\s*:", text)]
    if len(positions) < 2:
        return None
    return text.count("\n", 0, positions[1]) + 1


class DocumentComposer:
    """Node trees (with marks) of the documents of a stream, composed in order as far as
    asked: a finding in the first document of a file does not compose the rest."""

    def __init__(self, text: str, *, is_json: bool = False) -> None:
        if is_json:
            # Same length, so marks stay right; JSON allows tabs where YAML does not, and
            # surrogate escapes, which YAML refuses (only positions are wanted here).
            text = _SURROGATE_ESCAPE.sub(r"\\ufffd", text.replace("\t", " "))
        else:
            # As parse_yaml read it (the same length and lines): the documents after one
            # with a character YAML forbids are composed too.
            text, _ = _blank_unreadable_documents(text)
        self._loader: ComposeLoader | None = ComposeLoader(text)
        self.nodes: list[Node] = []

    def node(self, index: int) -> Node | None:
        """Document `index`, or None past the last one (or the first that fails)."""
        while len(self.nodes) <= index and self._loader is not None:
            try:
                if self._loader.check_node():
                    self.nodes.append(self._loader.get_node())  # type: ignore[arg-type]
                    continue
            except (yaml.YAMLError, RecursionError):
                pass
            self.close()
        return self.nodes[index] if index < len(self.nodes) else None

    def close(self) -> None:
        if self._loader is not None:
            self._loader.dispose()
            self._loader = None


def compose_documents(text: str, *, is_json: bool = False) -> list[Node]:
    """Node trees (with marks) of the documents of a stream, up to the first that fails."""
    composer = DocumentComposer(text, is_json=is_json)
    composer.node(sys.maxsize)
    return composer.nodes


def pointer_tokens(pointer: str) -> list[str]:
    """The unescaped tokens (`~1` is `/`, `~0` is `~`) of a JSON pointer; none for ""."""
    if not pointer:
        return []
    return [t.replace("~1", "/").replace("~0", "~") for t in pointer.lstrip("/").split("/")]


def pointer_exists(root: Node, pointer: str) -> bool:
    """Whether every token of the pointer is in the document."""
    node = root
    for token in pointer_tokens(pointer):
        if isinstance(node, MappingNode):
            for key_node, value_node in node.value:
                if isinstance(key_node, ScalarNode) and key_node.value == token:
                    node = value_node
                    break
            else:
                return False
        elif isinstance(node, SequenceNode) and token.isdigit() and int(token) < len(node.value):
            node = node.value[int(token)]
        else:
            return False
    return True


def walk_pointer(root: Node, pointer: str, *, value: bool = False) -> Node:
    """The node a JSON pointer names, else the deepest ancestor that exists.

    For a mapping member this is its key (where a person looks for the field), or its value
    with `value=True`.
    """
    node = root
    if not pointer:
        return node
    tokens = pointer_tokens(pointer)
    for position, token in enumerate(tokens):
        last = position == len(tokens) - 1
        if isinstance(node, MappingNode):
            for key_node, value_node in node.value:
                if isinstance(key_node, ScalarNode) and key_node.value == token:
                    node = key_node if last and not value else value_node
                    break
            else:
                return node
        elif isinstance(node, SequenceNode) and token.isdigit() and int(token) < len(node.value):
            node = node.value[int(token)]
        else:
            return node
    return node


# --- positions without composing --------------------------------------------------------------

_PLAIN_KEY = re.compile(
    r"""[^\s'"#\-\[\]{},?:|>!&*%@`][^\n]*?(?=:(?: |$))"""  # not starting with an indicator
    r"""|-[^\s\n][^\n]*?(?=:(?: |$))""")  # or with a `-` that is not an item's
"""A plain key, up to the first `:` followed by a space or the end of the line."""
_QUOTED_KEY = re.compile(r""""([^"\\\n]*)"(?=[ ]*:(?: |$))|'([^'\n]*)'(?=[ ]*:(?: |$))""")
"""A quoted key without escapes (or `''`): the text between its quotes."""


class LinePositions:
    """Where the fields of a stream the fast path read are, found from its lines.

    Block mappings and sequences are followed by indentation (the fast path leaves out
    tabs, anchors, tags, explicit keys and other line breaks); each collection walked must
    hold, in order, the keys or the number of items the document's data has (read again by
    yaml-rs, document by document), else the answer is None and the caller composes the
    document instead. Flow collections, keys with escapes and null values are not walked
    into (None). Positions are libyaml's: a key where its text starts, a block mapping at its
    first key, a block sequence at its first `-`, a scalar where its text (or quote, or `|`)
    starts; lines and columns 1-based.
    """

    def __init__(self, text: str) -> None:
        """`text`: a stream `parse_yaml` read by the fast path."""
        self._text = text
        self._lines = text.split("\n")
        # Where each row starts (and where the text ends, as if one more row followed).
        self._offsets = list(itertools.accumulate(map((1).__add__, map(len, self._lines)),
                                                  initial=0))
        self._spans = list(_document_spans(text))
        self._ends = [self._spans[i + 1][2] if i + 1 < len(self._spans) else len(self._lines)
                      for i in range(len(self._spans))]
        self._data: dict[int, Any] = {}
        self._entries: dict[tuple[int, int, int], Any] = {}

    def position(self, index: int, pointer: str, *, value: bool = False,
                 data: Any = None) -> tuple[int, int] | None:
        """`data`: the document's values when the caller holds them (else they are read
        again); anything else only makes the answer None."""
        if index >= len(self._spans) or yaml_rs is None:
            return None
        start, end, _, content_row = self._spans[index]
        if content_row is None:
            return None
        if data is None:
            data = self._data.get(index)
        if data is None:
            try:
                data = self._data[index] = yaml_rs.loads(self._text[start:end],
                                                         parse_datetime=False)
            except (ValueError, RecursionError, OverflowError):
                return None
        line = self._lines[content_row]
        if not isinstance(data, dict | list) or line.startswith("---"):
            return None
        node: tuple[int, int] | None = (content_row, len(line) - len(line.lstrip(" ")))
        stop = self._ends[index]
        tokens = pointer_tokens(pointer)
        for step, token in enumerate(tokens):
            last = step == len(tokens) - 1
            if isinstance(data, dict):
                entries = self._mapping(node, stop)
                if entries is None or entries.keys != list(data):
                    return None
                if token not in data:
                    return _one_based(node)  # the deepest ancestor that exists
                found = entries.keys.index(token)
                if last and not value:
                    return entries.rows[found] + 1, entries.column + 1
                node, stop = entries.value(found, self)
                data = data[token]
            elif isinstance(data, list):
                items = self._sequence(node, stop)
                if items is None or len(items) != len(data):
                    return None
                if not token.isdigit() or int(token) >= len(data):
                    return _one_based(node)
                node, stop = items[int(token)]
                data = data[int(token)]
            else:
                return _one_based(node)  # a scalar: the field is not there
            if node is None:
                return None  # a null value: libyaml's mark for it is not worked out here
        return _one_based(node)

    # A node is (row, column) of where its text starts; a block collection at that place
    # spans the rows up to `stop`.

    def _row(self, offset: int) -> int:
        return bisect.bisect_right(self._offsets, offset) - 1

    def _first_row(self, start: int, stop: int) -> tuple[int, int] | None:
        """(row, indentation) of the first row in [start, stop) that is not blank or a
        comment."""
        found = _CONTENT_ROW.search(self._text, self._offsets[start] - 1, self._offsets[stop])
        if found is None:
            return None
        row = self._row(found.end() - 1)
        return row, found.end() - 1 - self._offsets[row]

    def _rows_at(self, column: int, start: int, stop: int) -> list[int] | None:
        """The rows in [start, stop) whose content starts at `column`, or None when one
        starts left of it (comments and blank rows aside). Regular expressions led by the
        line break (which the engine finds fast), not a loop over rows: this runs for every
        collection a finding's path crosses. (`start` > 0: a row break comes before it.)"""
        text, begin, end = self._text, self._offsets[start] - 1, self._offsets[stop]
        if column and _shallower(column).search(text, begin, end) is not None:
            return None
        return [self._row(m.end()) for m in _at_column(column).finditer(text, begin, end)]

    def _mapping(self, node: tuple[int, int] | None, stop: int) -> _Entries | None:
        """A block mapping's keys and the rows they are on (where each value is, only when
        asked: a finding's path crosses one entry of each mapping it walks)."""
        if node is None:
            return None
        memo = (node[0], node[1], stop)
        if memo in self._entries:
            return self._entries[memo]  # type: ignore[no-any-return]
        row, column = node
        rows = self._rows_at(column, row + 1, stop)
        if rows is None:
            self._entries[memo] = None
            return None
        starts = [row, *(other for other in rows if not _is_item(self._lines[other], column))]
        keys: list[str] = []
        colons: list[int] = []
        for start in starts:
            key = self._key(start, column)
            if key is None:
                self._entries[memo] = None
                return None
            keys.append(key[0])
            colons.append(key[1])
        entries = self._entries[memo] = _Entries(keys, starts, colons, column, stop)
        return entries

    def _key(self, row: int, column: int) -> tuple[str, int] | None:
        """A key's text and the column of its `:`."""
        line = self._lines[row]
        quoted = _QUOTED_KEY.match(line, column)
        if quoted is not None:
            text = quoted[1] if quoted[1] is not None else quoted[2]
            return text, line.index(":", quoted.end())
        plain = _PLAIN_KEY.match(line, column)
        if plain is None or " #" in plain.group() or plain.group() != plain.group().rstrip():
            return None
        return plain.group(), plain.end()

    def _sequence(self, node: tuple[int, int] | None, stop: int
                  ) -> list[tuple[tuple[int, int] | None, int]] | None:
        """(item position, item end) of a block sequence's items."""
        if node is None or not _is_item(self._lines[node[0]], node[1]):
            return None
        memo = (node[0], -1 - node[1], stop)
        if memo in self._entries:
            return self._entries[memo]  # type: ignore[no-any-return]
        row, column = node
        rows = self._rows_at(column, row + 1, stop)
        if rows is None or not all(_is_item(self._lines[other], column) for other in rows):
            self._entries[memo] = None
            return None
        starts = [row, *rows]
        items: list[tuple[tuple[int, int] | None, int]] = []
        for number, start in enumerate(starts):
            end = starts[number + 1] if number + 1 < len(starts) else stop
            rest = self._lines[start][column + 1:]
            content = column + 1 + len(rest) - len(rest.lstrip(" "))
            rest = rest.strip(" ")
            items.append(((start, content), end) if rest and not rest.startswith("#") else
                         (self._first_row(start + 1, end), end))
        self._entries[memo] = items
        return items


class _Entries:
    """A block mapping's entries: each key's text, row and `:` column."""

    __slots__ = ("colons", "column", "keys", "rows", "stop")

    def __init__(self, keys: list[str], rows: list[int], colons: list[int], column: int,
                 stop: int) -> None:
        self.keys, self.rows, self.colons, self.column, self.stop = \
            keys, rows, colons, column, stop

    def value(self, number: int, lines: LinePositions) -> tuple[tuple[int, int] | None, int]:
        """(where the value of entry `number` starts, the row its span ends before)."""
        start = self.rows[number]
        end = self.rows[number + 1] if number + 1 < len(self.rows) else self.stop
        after = self.colons[number]
        rest = lines._lines[start][after + 1:]
        value_column = after + 1 + len(rest) - len(rest.lstrip(" "))
        rest = rest.strip(" ")
        at = (start, value_column) if rest and not rest.startswith("#") else \
            lines._first_row(start + 1, end)
        return at, end


@functools.cache
def _shallower(column: int) -> re.Pattern[str]:
    """A row whose content (not a comment) starts left of `column`, with the break
    before it."""
    return re.compile(f"\\n {{0,{column - 1}}}[^ \\n#]")


@functools.cache
def _at_column(column: int) -> re.Pattern[str]:
    """A row whose content (not a comment) starts at `column`, with the break before it
    (the match ends where the row starts)."""
    return re.compile(f"\\n(?= {{{column}}}[^ \\n#])")


def _is_item(line: str, column: int) -> bool:
    return line.startswith("-", column) and line[column + 1:column + 2] in ("", " ")


def _one_based(node: tuple[int, int] | None) -> tuple[int, int] | None:
    return (node[0] + 1, node[1] + 1) if node is not None else None
