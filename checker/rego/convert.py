"""Rewrite Rego v0 modules as Rego v1, the only dialect the embedded OPA parses.

Gatekeeper's policy library and many conftest policies are v0: bodies without `if`,
partial sets written `deny[msg] { ... }`, deprecated built-ins. `to_v1` rewrites exactly
those spots and leaves every other byte alone.

How it works: a small lexer turns the module into tokens (strings with escapes, raw strings,
template strings, comments, numbers, identifiers, operators, brackets), brackets are paired,
and a top-level parser walks the statements (`package`, `import`, `default`, rules with
their `else` chains and chained bodies). Bodies and values are skipped as balanced groups, so
a `{` inside a string, a comment, a set or an object literal is never taken for a rule body.
The result is a list of small text edits applied to the original source.

Line numbers are preserved: no edit adds or removes a newline, so an OPA error in the
converted module points at the user's line. No `import rego.v1` is added either: OPA v1
parses `if`/`contains`/`in`/`every` as keywords without it, and it still accepts (and
ignores) `import future.keywords...`, so those lines are kept as they are.

What is rewritten:

- `name[x] { ... }` and body-less `name[x]` (a v0 partial set: one bracket, no value, not a
  function) become `name contains x if { ... }` / `name contains x`;
- every `{ body }` that follows a rule head or an `else` gets `if` in front of it; that covers
  complete rules (`p = v {`, `p {`), partial objects (`p[k] = v {`), ref heads (`a.b[x] {`;
  v0 and v1 both read those as objects), functions and `else` / `else = v`. A chained body
  (`p { a } { b }`) needs no `if`: OPA v1 accepts it after the first body;
- deprecated built-ins, where the replacement is exact: `re_match` -> `regex.match`,
  `net.cidr_overlap` -> `net.cidr_contains`, and `any`, `all` and `set_diff` when their
  argument is a literal or a plain reference (see `_Converter._deprecated`).

What is refused (`RegoConversionError`, naming path and line): a v1 keyword (`if`,
`contains`, `in`, `every`) used as an identifier in a module that did not import it, other
deprecated built-ins (`cast_*`, or `any`/`all`/`set_diff` over arbitrary expressions),
`else` on a partial set, and anything the top-level parser does not recognise.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TypeGuard

__all__ = ["RegoConversionError", "is_v1", "to_v1"]

V1_KEYWORDS = frozenset({"if", "contains", "in", "every"})

# Binary operators that may continue a head value (`p := a + b`).
_INFIX = frozenset({"==", "!=", "<", ">", "<=", ">=", "+", "-", "*", "/", "%", "&", "|"})
# A token after which an expression obviously goes on (used for one-line `if` bodies).
_CONTINUES = _INFIX | {":=", "=", ",", ".", ":", ";"}
_CONTINUES_WORDS = frozenset({"not", "some", "in", "with", "as", "every", "if"})
_NUMBER = re.compile(r"\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?")
_TWO_CHAR_OPS = (":=", "==", "!=", "<=", ">=")
_ONE_CHAR_OPS = "=<>+-*/%&|.,;:"

# Deprecated built-ins that OPA v1 removed and that have no exact replacement here.
_REFUSED_BUILTINS = {
    "cast_array": "use the value directly or build an array with a comprehension",
    "cast_set": "use a set comprehension, e.g. {x | some x in xs}",
    "cast_string": "check is_string(x) and use x",
    "cast_boolean": "check is_boolean(x) and use x",
    "cast_null": "check is_null(x) and use x",
    "cast_object": "check is_object(x) and use x",
}


class RegoConversionError(Exception):
    """A construct `to_v1` cannot convert safely, located in the user's source."""

    def __init__(self, message: str, path: str | None, line: int | None) -> None:
        self.message = message
        self.path = path
        self.line = line
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.path or "<rego>"
        if self.line is not None:
            where = f"{where}:{self.line}"
        return f"{where}: {self.message}"


@dataclass(frozen=True, slots=True)
class _Tok:
    kind: str  # ident | string | number | op | open | close
    text: str
    start: int
    end: int
    line: int
    gap: bool  # whitespace or a comment separates it from the previous token
    newline: bool  # ... and that separation holds a line break


def _lex(src: str, path: str | None) -> list[_Tok]:
    """Tokens of a Rego module; whitespace and comments only show up as `gap`/`newline`."""
    toks: list[_Tok] = []
    n = len(src)
    i = 1 if src.startswith("\ufeff") else 0
    line = 1
    gap = newline = False
    while i < n:
        c = src[i]
        if c == "\n":
            line += 1
            i += 1
            gap = newline = True
            continue
        if c in " \t\r\f\v":
            i += 1
            gap = True
            continue
        if c == "#":
            j = src.find("\n", i)
            i = n if j < 0 else j
            gap = True
            continue
        start, start_line = i, line
        if c == '"':
            kind, i = "string", _scan_string(src, i, path, line)
        elif c == "`":
            j = src.find("`", i + 1)
            if j < 0:
                raise RegoConversionError("raw string (`) is never closed", path, line)
            kind, i = "string", j + 1
        elif c == "$" and src[i + 1 : i + 2] in ('"', "`"):
            kind, i = "string", _scan_template(src, i, path, line)
        elif c.isdigit() or (
            c == "." and src[i + 1 : i + 2].isdigit() and (not toks or toks[-1].kind == "op")
        ):
            m = _NUMBER.match(src, i)
            assert m is not None
            kind, i = "number", m.end()
        elif c == "_" or c.isalpha():
            j = i + 1
            while j < n and (src[j] == "_" or src[j].isalnum()):
                j += 1
            kind, i = "ident", j
        elif c in "([{":
            kind, i = "open", i + 1
        elif c in ")]}":
            kind, i = "close", i + 1
        elif src.startswith(_TWO_CHAR_OPS, i):
            kind, i = "op", i + 2
        elif c in _ONE_CHAR_OPS:
            kind, i = "op", i + 1
        else:
            raise RegoConversionError(f"unexpected character {c!r}", path, line)
        line += src.count("\n", start, i)
        toks.append(_Tok(kind, src[start:i], start, i, start_line, gap, newline))
        gap = newline = False
    return toks


def _scan_string(src: str, i: int, path: str | None, line: int) -> int:
    """End offset of the double-quoted string starting at `i`."""
    j = i + 1
    while j < len(src):
        ch = src[j]
        if ch == "\\":
            j += 2
        elif ch == '"':
            return j + 1
        elif ch == "\n":
            break
        else:
            j += 1
    raise RegoConversionError("string is never closed on its line", path, line)


def _scan_template(src: str, i: int, path: str | None, line: int) -> int:
    """End offset of a template string `$"... {expr} ..."` (or `$`...``) starting at `i`."""
    quote = src[i + 1]
    j = i + 2
    depth = 0
    while j < len(src):
        ch = src[j]
        if depth == 0:
            if ch == "\\" and quote == '"':
                j += 2
                continue
            if ch == quote:
                return j + 1
            if ch == "\n" and quote == '"':
                break
            if ch == "{":
                depth = 1
            j += 1
            continue
        if ch == '"':
            j = _scan_string(src, j, path, line + src.count("\n", i, j))
            continue
        if ch == "`":
            k = src.find("`", j + 1)
            if k < 0:
                break
            j = k + 1
            continue
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        j += 1
    raise RegoConversionError("template string is never closed", path, line)


def _pair_brackets(toks: list[_Tok], path: str | None) -> dict[int, int]:
    """Index of the matching bracket for every bracket token (both directions)."""
    opener = {")": "(", "]": "[", "}": "{"}
    stack: list[int] = []
    match: dict[int, int] = {}
    for idx, t in enumerate(toks):
        if t.kind == "open":
            stack.append(idx)
        elif t.kind == "close":
            if not stack or toks[stack[-1]].text != opener[t.text]:
                hint = ""
                if stack:
                    o = toks[stack[-1]]
                    hint = f" (the {o.text!r} opened on line {o.line} is still open)"
                raise RegoConversionError(f"unexpected {t.text!r}{hint}", path, t.line)
            o_idx = stack.pop()
            match[o_idx] = idx
            match[idx] = o_idx
    if stack:
        o = toks[stack[-1]]
        raise RegoConversionError(f"{o.text!r} is never closed", path, o.line)
    return match


_IMPORT_REGO_V1_LINE = re.compile(r"^import[ \t]+rego\.v1[ \t]*(?:#[^\n]*)?$", re.MULTILINE)


def _plainly_declares_rego_v1(source: str) -> bool:
    """`import rego.v1` on a line of its own before any raw string: a line that starts with
    `import` there is code (a comment starts with `#`, a quoted string cannot span lines,
    only a raw string can). Lexing a whole module to find it costs a millisecond or two."""
    found = _IMPORT_REGO_V1_LINE.search(source)
    return found is not None and "`" not in source[:found.start()]


def _declares_rego_v1(toks: list[_Tok]) -> bool:
    """`import rego.v1` anywhere in the token stream (never in a comment or string)."""
    for i in range(len(toks) - 3):
        a, b, c, d = toks[i : i + 4]
        if (a.text, b.text, c.text, d.text) == ("import", "rego", ".", "v1") and a.kind == "ident":
            return True
    return False


class _Converter:
    """One pass over a module: find the edits that make it v1, or raise.

    `keywords` are the v1 keywords that are keywords in this reading of the module: all of
    them when checking whether the source already is v1, else only those the module
    imported from `future.keywords`.
    """

    def __init__(
        self, src: str, toks: list[_Tok], match: dict[int, int], path: str | None,
        keywords: frozenset[str], *, v1_reading: bool,
    ) -> None:
        self.src = src
        self.toks = toks
        self.match = match
        self.path = path
        self.kw = keywords
        self.v1_reading = v1_reading
        self.i = 0
        self.edits: list[tuple[int, int, str]] = []
        self.syntax_edits = 0  # `if`/`contains` rewrites (deprecated built-ins not counted)
        self.rule_names: set[str] = set()
        self.import_names: set[str] = set()

    # -- helpers -------------------------------------------------------------------------

    def _error(self, tok: _Tok | None, message: str) -> RegoConversionError:
        line = tok.line if tok is not None else self.src.count("\n") + 1
        return RegoConversionError(message, self.path, line)

    def _peek(self, k: int = 0) -> _Tok | None:
        j = self.i + k
        return self.toks[j] if j < len(self.toks) else None

    @staticmethod
    def _is(tok: _Tok | None, kind: str, text: str | None = None) -> TypeGuard[_Tok]:
        return tok is not None and tok.kind == kind and (text is None or tok.text == text)

    def _edit(self, start: int, end: int, text: str) -> None:
        self.edits.append((start, end, text))

    def _skip_group(self) -> None:
        """Step over the bracket group that starts at the current token."""
        self.i = self.match[self.i] + 1

    # -- module --------------------------------------------------------------------------

    def run(self) -> None:
        if not self.v1_reading:
            self._check_keyword_identifiers()
        while self.i < len(self.toks):
            t = self.toks[self.i]
            if t.kind == "ident" and t.text in ("package", "import"):
                self._package_or_import()
            elif t.kind == "ident" and t.text == "default":
                self._default()
            elif t.kind == "ident" and t.text in ("else", "some", "not", "with", "as"):
                raise self._error(t, f"unexpected `{t.text}` at the top level: expected a "
                                  "package, an import or a rule")
            elif t.kind == "ident":
                self._rule()
            else:
                raise self._error(
                    t, f"unexpected {t.text!r} at the top level: expected a package, "
                    "an import or a rule")
        self._deprecated()

    def _package_or_import(self) -> None:
        keyword = self.toks[self.i]
        self.i += 1
        segments = self._path(keyword)
        if keyword.text == "import":
            alias = segments[-1]
            if self._is(self._peek(), "ident", "as"):
                self.i += 1
                tok = self._peek()
                if not self._is(tok, "ident"):
                    raise self._error(keyword, "expected a name after `as`")
                alias = tok.text
                self.i += 1
            self.import_names.add(alias)

    def _path(self, keyword: _Tok) -> list[str]:
        """A dotted path like `data.lib["x"].y`; returns its segments."""
        tok = self._peek()
        if not self._is(tok, "ident"):
            raise self._error(keyword, f"expected a path after `{keyword.text}`")
        segments = [tok.text]
        self.i += 1
        while True:
            nxt, after = self._peek(), self._peek(1)
            if self._is(nxt, "op", ".") and not nxt.gap and self._is(after, "ident"):
                segments.append(after.text)
                self.i += 2
            elif self._is(nxt, "open", "[") and not nxt.gap:
                inner = self.toks[self.i + 1]
                segments.append(inner.text.strip('"`'))
                self._skip_group()
            else:
                return segments

    def _default(self) -> None:
        keyword = self.toks[self.i]
        self.i += 1
        if not self._is(self._peek(), "ident"):
            raise self._error(keyword, "expected a rule name after `default`")
        name, _, _ = self._head_ref()
        self.rule_names.add(name.text)
        if self._is(self._peek(), "open", "("):
            self._skip_group()
        tok = self._peek()
        if not (self._is(tok, "op", "=") or self._is(tok, "op", ":=")):
            raise self._error(keyword, "expected `=` or `:=` in a default rule")
        self.i += 1
        self._expr(keyword)

    def _head_ref(self) -> tuple[_Tok, list[int], bool]:
        """The rule head reference: name token, indices of `[` groups, whether it has dots."""
        name = self.toks[self.i]
        if name.text in V1_KEYWORDS:
            raise self._error(
                name, f"`{name.text}` is a keyword in Rego v1 and cannot name a rule; "
                "rename the rule")
        self.i += 1
        brackets: list[int] = []
        dotted = False
        while True:
            nxt, after = self._peek(), self._peek(1)
            if self._is(nxt, "op", ".") and not nxt.gap and self._is(after, "ident"):
                dotted = True
                self.i += 2
            elif self._is(nxt, "open", "[") and not nxt.gap:
                brackets.append(self.i)
                self._skip_group()
            else:
                return name, brackets, dotted

    def _rule(self) -> None:
        name, brackets, dotted = self._head_ref()
        self.rule_names.add(name.text)
        function = False
        nxt = self._peek()
        if self._is(nxt, "open", "(") and not nxt.gap:
            function = True
            self._skip_group()
        uses_contains = has_value = False
        nxt = self._peek()
        if self._is(nxt, "ident", "contains") and "contains" in self.kw:
            uses_contains = True
            self.i += 1
            self._expr(name)
        elif self._is(nxt, "op", "=") or self._is(nxt, "op", ":="):
            has_value = True
            self.i += 1
            self._expr(name)
        partial_set = (not function and not has_value and not uses_contains
                       and not dotted and len(brackets) == 1)
        has_if = self._is(self._peek(), "ident", "if") and "if" in self.kw
        has_body = self._body(name)
        if partial_set and not has_if:
            # v0 `p[x]` is a partial set; v1 reads `p[x] if` as an object, so say `contains`.
            # (`p[x] if` in a v0 module with `future.keywords.if` already meant the object.)
            open_idx = brackets[0]
            open_tok, close_tok = self.toks[open_idx], self.toks[self.match[open_idx]]
            self._edit(open_tok.start, open_tok.end, " contains ")
            self._edit(close_tok.start, close_tok.end, "")
            self.syntax_edits += 1
        while True:
            nxt = self._peek()
            if has_body and self._is(nxt, "open", "{"):
                self._skip_group()  # chained body: `p { a } { b }`
            elif self._is(nxt, "ident", "else"):
                if partial_set or uses_contains:
                    raise self._error(nxt, "`else` cannot follow a partial set rule")
                self.i += 1
                after = self._peek()
                if self._is(after, "op", "=") or self._is(after, "op", ":="):
                    self.i += 1
                    self._expr(nxt)
                has_body = self._body(nxt)
            else:
                return

    def _body(self, owner: _Tok) -> bool:
        """An optional rule body after a head or `else`; adds `if` where it is missing."""
        tok = self._peek()
        if self._is(tok, "ident", "if") and "if" in self.kw:
            self.i += 1
            if self._is(self._peek(), "open", "{"):
                self._skip_group()
            else:
                self._one_line_body(owner)
            return True
        if self._is(tok, "open", "{"):
            before = self.src[tok.start - 1] if tok.start else "\n"
            self._edit(tok.start, tok.start, "if " if before.isspace() else " if ")
            self.syntax_edits += 1
            self._skip_group()
            return True
        return False

    def _one_line_body(self, owner: _Tok) -> None:
        """`p if expr`: the literal runs to the end of its line, `else`, or brackets close."""
        if self.i >= len(self.toks):
            raise self._error(owner, "expected a rule body after `if`")
        prev: _Tok | None = None
        while self.i < len(self.toks):
            t = self.toks[self.i]
            if prev is not None:
                if self._is(t, "ident", "else"):
                    return
                if t.newline and t.kind == "ident" and t.text not in ("with", "as", "in") and not (
                    (prev.kind == "op" and prev.text in _CONTINUES)
                    or (prev.kind == "ident" and prev.text in _CONTINUES_WORDS)
                ):
                    return
            if t.kind == "open":
                self._skip_group()
                prev = self.toks[self.i - 1]
            else:
                self.i += 1
                prev = t

    def _expr(self, owner: _Tok) -> None:
        """A head value or key: operands joined by infix operators."""
        self._operand(owner)
        while True:
            tok = self._peek()
            if (self._is(tok, "op") and tok.text in _INFIX) or (
                    self._is(tok, "ident", "in") and "in" in self.kw):
                self.i += 1
                self._operand(owner)
            else:
                return

    def _operand(self, owner: _Tok) -> None:
        while self._is(self._peek(), "op", "-"):
            self.i += 1
        tok = self._peek()
        if tok is None:
            raise self._error(owner, "expected a value, found the end of the module")
        if tok.kind == "open":
            self._skip_group()
        elif tok.kind in ("ident", "string", "number"):
            self.i += 1
        else:
            raise self._error(tok, f"expected a value, found {tok.text!r}")
        while True:
            nxt, after = self._peek(), self._peek(1)
            if nxt is None or nxt.gap:
                return
            if self._is(nxt, "op", ".") and self._is(after, "ident"):
                self.i += 2
            elif nxt.kind == "open" and nxt.text in "[(":
                self._skip_group()
            else:
                return

    # -- identifiers and built-ins -------------------------------------------------------

    def _check_keyword_identifiers(self) -> None:
        """v1 keywords the module did not import are identifiers in v0, and break in v1."""
        for idx, t in enumerate(self.toks):
            if t.kind != "ident" or t.text not in V1_KEYWORDS or t.text in self.kw:
                continue
            prev = self.toks[idx - 1] if idx else None
            if prev is not None and prev.text == "." and prev.kind == "op" and not t.gap:
                continue  # a field like `input.in` is fine in v1
            nxt = self.toks[idx + 1] if idx + 1 < len(self.toks) else None
            if t.text == "contains" and self._is(nxt, "open", "(") and not nxt.gap:
                continue  # the `contains(haystack, needle)` built-in
            raise self._error(
                t, f"`{t.text}` is used as an identifier, but it is a keyword in Rego v1; "
                "rename it")

    def _call_args(self, open_idx: int) -> list[tuple[int, int]]:
        """Token ranges [a, b) of the comma-separated arguments of the call at `open_idx`."""
        close = self.match[open_idx]
        args: list[tuple[int, int]] = []
        start = j = open_idx + 1
        while j < close:
            t = self.toks[j]
            if t.kind == "open":
                j = self.match[j] + 1
                continue
            if self._is(t, "op", ","):
                args.append((start, j))
                start = j + 1
            j += 1
        if start < close or args:
            args.append((start, close))
        return args

    def _arg_shape(self, a: int, b: int) -> str:
        """`array`/`set` for a literal or comprehension, `ref` for a plain reference
        (`x`, `input.a["b"]`, which can be repeated without changing its meaning), else
        `other`."""
        first = self.toks[a]
        if first.kind == "open" and self.match[a] == b - 1:
            if first.text == "[":
                return "array"
            if first.text == "{" and b - a > 2:
                j = a + 1
                while j < b - 1:
                    t = self.toks[j]
                    if t.kind == "open":
                        j = self.match[j] + 1
                        continue
                    if self._is(t, "op", ":"):
                        return "other"  # an object
                    j += 1
                return "set"
            return "other"
        if first.kind != "ident" or first.text in V1_KEYWORDS:
            return "other"
        j = a + 1
        while j < b:
            t = self.toks[j]
            if t.gap:
                return "other"
            if self._is(t, "op", ".") and j + 1 < b and self.toks[j + 1].kind == "ident" \
                    and not self.toks[j + 1].gap:
                j += 2
            elif self._is(t, "open", "[") and self.match[j] == j + 2 and \
                    self.toks[j + 1].kind in ("string", "number"):
                j += 3
            else:
                return "other"
        return "ref"

    def _text(self, a: int, b: int) -> str:
        return self.src[self.toks[a].start : self.toks[b - 1].end]

    def _deprecated(self) -> None:
        """Rewrite or refuse calls of built-ins that OPA v1 removed.

        The rewrites keep v0's results, and where v0 had none because an argument had the
        wrong type (`any` of an object, `set_diff` of an array), the rewrite has none either:
        `any(x)` becomes `true in x` with `x` looked up through `type_name(x)`, and so on.
        (Under strict built-in errors v0 raised a type error there; the rewrite is then
        undefined instead.) A guard repeats its argument, so it is only used when the
        argument is a plain reference; array and set literals need no guard. A call of a
        name the module defines or imports is the module's own and is left alone.
        """
        shadowed = self.rule_names | self.import_names
        toks = self.toks
        for idx, t in enumerate(toks):
            if t.kind != "ident" or t.text in shadowed:
                continue
            if idx and toks[idx - 1].text == "." and not t.gap:
                continue  # a field, or a call like data.lib.any(...)
            if t.text == "net" and idx + 3 < len(toks):
                dot, name, paren = toks[idx + 1 : idx + 4]
                if (dot.text, name.text, paren.text) == (".", "cidr_overlap", "(") and not (
                        dot.gap or name.gap or paren.gap):
                    self._edit(name.start, name.end, "cidr_contains")
                continue
            paren_idx = idx + 1
            if paren_idx >= len(toks) or toks[paren_idx].text != "(" or toks[paren_idx].gap:
                continue
            paren = toks[paren_idx]
            close = toks[self.match[paren_idx]]
            if t.text == "re_match":
                self._edit(t.start, t.end, "regex.match")
            elif t.text in _REFUSED_BUILTINS:
                raise self._error(
                    t, f"deprecated built-in `{t.text}` was removed in Rego v1 and has no "
                    f"exact replacement; {_REFUSED_BUILTINS[t.text]}")
            elif t.text in ("any", "all", "set_diff"):
                self._rewrite_collection_builtin(t, paren_idx, paren, close)

    def _rewrite_collection_builtin(
            self, t: _Tok, paren_idx: int, paren: _Tok, close: _Tok) -> None:
        args = self._call_args(paren_idx)
        head = (t.start, paren.end)
        if t.text in ("any", "all"):
            if len(args) != 1:
                raise self._error(
                    t, f"deprecated built-in `{t.text}` is called with {len(args)} arguments; "
                    "only the one-argument form can be converted")
            a, b = args[0]
            shape = self._arg_shape(a, b)
            x = self._text(a, b)
            if t.text == "any" and shape in ("array", "set"):
                self._edit(*head, "(true in ")
                return
            if t.text == "any" and shape == "ref":
                self._edit(*head, f'(true in {{"array": {x}, "set": {x}}}[type_name(')
                self._edit(close.start, close.end, ")])")
                return
            if shape in ("array", "set"):
                self._edit(*head, "(count([1 | ")
                self._edit(self.toks[b - 1].end, self.toks[b - 1].end, "[_] != true]) == 0")
                return
            if shape == "ref":
                self._edit(*head, f"(count([1 | {x}[_] != true]) == "
                                  'count({"array": [], "set": []}[type_name(')
                self._edit(close.start, close.end, ")]))")
                return
            raise self._error(
                t, f"deprecated built-in `{t.text}` was removed in Rego v1; its argument is "
                "neither a literal nor a plain reference, so it is not converted: write "
                + ("`true in xs`" if t.text == "any" else "`every x in xs { x == true }`"))
        # set_diff(a, b) is a - b on sets; a number in `a` must stay an error (undefined).
        if len(args) != 2:
            raise self._error(
                t, f"deprecated built-in `set_diff` is called with {len(args)} arguments; "
                "only set_diff(a, b) can be converted (write `a - b`)")
        (a, b), _second = args
        comma = self.toks[b]
        shape = self._arg_shape(a, b)
        if shape == "set":
            self._edit(*head, "((")
        elif shape == "ref":
            self._edit(*head, f'({{"set": {self._text(a, b)}}}[type_name(')
        else:
            raise self._error(
                t, "deprecated built-in `set_diff` was removed in Rego v1; its first argument "
                "is neither a set literal nor a plain reference, so it is not converted: "
                "write `a - b`")
        self._edit(comma.start, comma.end, ")] - (" if shape == "ref" else ") - (")
        self._edit(close.start, close.end, "))")


def _future_keywords(toks: list[_Tok]) -> frozenset[str]:
    """Keywords imported with `import future.keywords` / `import future.keywords.X`."""
    found: set[str] = set()
    for i, t in enumerate(toks):
        if not (t.kind == "ident" and t.text == "import"):
            continue
        seq = [x.text for x in toks[i + 1 : i + 6]]
        if seq[:3] != ["future", ".", "keywords"]:
            continue
        if len(seq) >= 5 and seq[3] == "." and seq[4] in V1_KEYWORDS and not toks[i + 5].gap:
            found.add(seq[4])
        elif len(seq) < 4 or seq[3] != ".":
            found |= V1_KEYWORDS
    return frozenset(found)


def _apply(src: str, edits: list[tuple[int, int, str]]) -> str:
    out: list[str] = []
    pos = 0
    for start, end, text in sorted(edits, key=lambda e: (e[0], e[1])):
        if start < pos:
            raise AssertionError("overlapping Rego edits")  # a bug here, not in the policy
        out.append(src[pos:start])
        out.append(text)
        pos = end
    out.append(src[pos:])
    return "".join(out)


def _read_as_v1(src: str, toks: list[_Tok], match: dict[int, int],
                 path: str | None) -> _Converter | None:
    """The module read with all v1 keywords, or None when that reading does not parse."""
    conv = _Converter(src, toks, match, path, V1_KEYWORDS, v1_reading=True)
    try:
        conv.run()
    except RegoConversionError:
        return None
    return conv


def is_v1(source: str) -> bool:
    """True when the source needs no conversion: it declares `import rego.v1`, or, read with
    all v1 keywords active, every rule body already has `if`, every partial set uses
    `contains` and no deprecated built-in is called. A module with no rule bodies at all
    (only constants) is both v0 and v1 and counts as v1."""
    if _plainly_declares_rego_v1(source):
        return True
    try:
        toks = _lex(source, None)
        if _declares_rego_v1(toks):
            return True
        conv = _read_as_v1(source, toks, _pair_brackets(toks, None), None)
    except RegoConversionError:
        return False
    return conv is not None and not conv.edits


def to_v1(source: str, path: str | None = None) -> str:
    """Return an equivalent Rego v1 module, with the same line numbers as `source`.

    Sources that are already v1 (`import rego.v1`, or v1 syntax throughout: see `is_v1`) are
    returned unchanged, except that deprecated built-ins in v1-syntax modules are still
    rewritten. Raises `RegoConversionError` naming `path` and the line for constructs it
    cannot convert safely.
    """
    if _plainly_declares_rego_v1(source):
        return source
    toks = _lex(source, path)
    if _declares_rego_v1(toks):
        return source
    match = _pair_brackets(toks, path)
    as_v1 = _read_as_v1(source, toks, match, path)
    if as_v1 is not None and as_v1.syntax_edits == 0:
        return _apply(source, as_v1.edits) if as_v1.edits else source
    conv = _Converter(source, toks, match, path, _future_keywords(toks), v1_reading=False)
    conv.run()
    return _apply(source, conv.edits)
