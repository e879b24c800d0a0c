"""YAML and JSON are read as the Kubernetes API server reads them (sigs.k8s.io/yaml)."""

from __future__ import annotations

import time

import pytest

from checker.parse import (
    Document,
    DocumentError,
    compose_documents,
    parse_json,
    parse_yaml,
    resolve_plain,
    walk_pointer,
)


def only(text: str) -> object:
    entries = list(parse_yaml(text))
    assert len(entries) == 1 and isinstance(entries[0], Document), entries
    return entries[0].data


def value(scalar: str) -> object:
    data = only(f"v: {scalar}\n")
    assert isinstance(data, dict)
    return data["v"]


@pytest.mark.parametrize(("scalar", "expected"), [
    # YAML 1.1 booleans, as go-yaml v2 reads them
    ("yes", True), ("Yes", True), ("YES", True), ("y", True), ("Y", True),
    ("on", True), ("On", True), ("ON", True), ("true", True), ("True", True),
    ("no", False), ("n", False), ("N", False), ("off", False), ("OFF", False),
    ("false", False), ("FALSE", False),
    # not booleans
    ("yES", "yES"), ("oN", "oN"), ("tRUE", "tRUE"), ("'yes'", "yes"), ('"on"', "on"),
    # integers: Go's ParseInt with base prefix, underscores dropped
    ("012", 10), ("0", 0), ("-012", -10), ("0x1F", 31), ("0b101", 5), ("0o17", 15),
    ("1_000", 1000), ("+7", 7), ("'012'", "012"),
    # floats; integral floats become integers through JSON
    ("1.5", 1.5), ("1.0", 1), ("1e3", 1000), (".5", 0.5), ("08", 8), ("09.5", 9.5),
    # no base 60, no timestamps
    ("22:22", "22:22"), ("1:20:30", "1:20:30"), ("2001-12-14", "2001-12-14"),
    ("2001-12-14t21:59:43.10-05:00", "2001-12-14t21:59:43.10-05:00"),
    # nulls
    ("~", None), ("null", None), ("Null", None), ("NULL", None), ("", None),
    # strings that look numeric-ish
    ("1.2.3", "1.2.3"), ("0x", "0x"), ("'-'", "-"), ("1Gi", "1Gi"), ("500m", "500m"),
    ("v1", "v1"), ("+", "+"),
])
def test_scalars_resolve_like_go_yaml_v2(scalar: str, expected: object) -> None:
    got = value(scalar)
    assert got == expected and type(got) is type(expected)


@pytest.mark.parametrize("word", [".nan", ".inf", "-.Inf", "+.INF", "1e999"])
def test_non_finite_numbers_are_document_errors(word: str) -> None:
    """JSON has no infinity or NaN: sigs.k8s.io/yaml, kubectl and the API server refuse the
    document, so the checker does too (with the line), instead of passing it on."""
    (entry,) = parse_yaml(f"a: 1\nv: {word}\n")
    assert isinstance(entry, DocumentError) and entry.line == 2
    assert "infinite or NaN" in entry.message
    (quoted,) = parse_yaml(f"v: '{word}'\n")
    assert isinstance(quoted, Document) and quoted.data == {"v": word}


def test_json_non_finite_numbers_are_errors() -> None:
    for text in ('{"a": NaN}', '{"a": Infinity}', '{"a": -Infinity}', '{"a": 1e999}'):
        (entry,) = parse_json(text)
        assert isinstance(entry, DocumentError) and entry.line == 1, text


@pytest.mark.parametrize("word", ["yes", "on", "off", "no", "y", "N"])
def test_yaml11_only_booleans_are_recorded_as_ambiguous(word: str) -> None:
    (doc,) = parse_yaml(f"a: {word}\nb: true\n")
    assert isinstance(doc, Document)
    assert [(s.line, s.column, s.text) for s in doc.ambiguous] == [(1, 4, word)]


def test_leading_zero_numbers_are_recorded_as_ambiguous() -> None:
    (doc,) = parse_yaml("mode: 0644\nport: 8080\nquoted: '0644'\n")
    assert isinstance(doc, Document)
    assert [(s.text, s.value) for s in doc.ambiguous] == [("0644", 420)]


def test_non_string_keys_become_their_json_text() -> None:
    assert only("1: a\ntrue: b\n1.5: c\n") == {"1": "a", "true": "b", "1.5": "c"}


def test_yaml11_boolean_keys_become_true_and_false() -> None:
    # `y:` and `on:` keys are booleans to go-yaml v2, so the API server sees "true".
    assert only("y: 1\noff: 2\n") == {"true": 1, "false": 2}


def test_null_key_is_an_error() -> None:
    (error,) = parse_yaml("~: a\n")
    assert isinstance(error, DocumentError) and error.line == 1


def test_merge_keys_apply_and_explicit_keys_win() -> None:
    data = only("base: &b {a: 1, b: 2}\nthing:\n  <<: *b\n  b: 3\n")
    assert data == {"base": {"a": 1, "b": 2}, "thing": {"a": 1, "b": 3}}


def test_merge_of_a_list_of_mappings() -> None:
    data = only("x: &x {a: 1}\ny: &y {a: 2, b: 2}\nz:\n  <<: [*x, *y]\n")
    assert isinstance(data, dict) and data["z"] == {"a": 1, "b": 2}


def test_documents_keep_their_start_lines_and_indexes() -> None:
    text = "# header\na: 1\n---\nb: 2\n---\n\n\nc: 3\n"
    docs = list(parse_yaml(text))
    assert [(d.index, d.line) for d in docs if isinstance(d, Document)] == [
        (0, 2), (1, 4), (2, 8)]


def test_duplicate_key_is_an_error_with_line_and_next_document_still_read() -> None:
    entries = list(parse_yaml("a: 1\nb:\n  c: 1\n  c: 2\n---\nok: true\n"))
    error, doc = entries
    assert isinstance(error, DocumentError) and error.kind == "duplicate-key"
    assert error.line == 4 and "first at line 3" in error.message
    assert isinstance(doc, Document) and doc.data == {"ok": True}


def test_syntax_error_resumes_at_next_document() -> None:
    text = "a: [1,\n---\nb: 1\n---\nc: 'x\n---\nd: 2\n"
    entries = list(parse_yaml(text))
    kinds = [e.kind if isinstance(e, DocumentError) else e.data for e in entries]
    assert kinds == ["syntax", {"b": 1}, "syntax", {"d": 2}]
    assert [e.line for e in entries if isinstance(e, DocumentError)] == [2, 6]


def test_python_tags_are_never_constructed() -> None:
    (error,) = parse_yaml("a: !!python/object/apply:os.system ['echo hacked']\n")
    assert isinstance(error, DocumentError) and error.kind == "yaml-tag"
    assert error.line == 1


def test_alias_bomb_is_an_error_and_fast() -> None:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 10):
        prev, cur = chr(ord("a") + i - 1), chr(ord("a") + i)
        lines.append(f"{cur}: &{cur} [" + ",".join([f"*{prev}"] * 9) + "]")
    started = time.monotonic()
    (error,) = parse_yaml("\n".join(lines) + "\n")
    assert time.monotonic() - started < 5  # bound: a billion nodes are never built
    assert isinstance(error, DocumentError) and error.kind == "alias-bomb"


def test_modest_alias_use_is_fine() -> None:
    data = only("x: &x {a: 1}\nz: [*x, *x]\n")
    assert data == {"x": {"a": 1}, "z": [{"a": 1}, {"a": 1}]}


def test_recursive_alias_is_an_error() -> None:
    (error,) = parse_yaml("a: &a [*a]\n")
    assert isinstance(error, DocumentError)


def test_json_uses_json_rules_and_rejects_duplicates() -> None:
    (doc,) = parse_json('{"a": "yes", "b": 012}'.replace("012", "12"))
    assert isinstance(doc, Document) and doc.data == {"a": "yes", "b": 12}
    (error,) = parse_json('{\n  "a": 1,\n  "a": 2\n}')
    assert isinstance(error, DocumentError) and error.kind == "duplicate-key" and error.line == 3
    (syntax,) = parse_json('{\n  "a": 1,\n}')
    assert isinstance(syntax, DocumentError) and syntax.line == 3


def test_walk_pointer_names_the_key_of_a_field() -> None:
    text = "a:\n  b:\n    - x\n    - y: 1\n      z: 2\n"
    (root,) = compose_documents(text)
    node = walk_pointer(root, "/a/b/1/z")
    assert (node.start_mark.line + 1, node.start_mark.column + 1) == (5, 7)
    missing = walk_pointer(root, "/a/b/1/nope")
    assert missing.start_mark.line + 1 == 4  # deepest existing ancestor
    assert walk_pointer(root, "/a/b/0").start_mark.line + 1 == 3


def test_resolve_plain_tags() -> None:
    assert resolve_plain("yes").endswith(":bool")
    assert resolve_plain("0777").endswith(":int")
    assert resolve_plain("1e5").endswith(":float")
    assert resolve_plain("hello").endswith(":str")


def test_blanked_document_keeps_offsets_so_later_fields_are_located() -> None:
    """A document emptied for a character YAML forbids keeps its length and lines: the
    documents after it are composed again at the same offsets (their fields' own lines)."""
    text = 'a: "x\x00y"\nb: 2\n---\nc: 1\nd:\n  e: 3\n'
    entries = list(parse_yaml(text))
    assert [(e.kind, e.line) if isinstance(e, DocumentError) else e.data for e in entries] \
        == [("syntax", 1), {"c": 1, "d": {"e": 3}}]
    nodes = compose_documents(text)
    assert walk_pointer(nodes[1], "/d/e").start_mark.line + 1 == 6


@pytest.mark.parametrize("brk", ["\x85", "\u2028", "\u2029", "\r"])
def test_lines_are_counted_as_yaml_counts_them(brk: str) -> None:
    """NEL, LS, PS and a lone CR end a line for libyaml and go-yaml: after a syntax error
    the next document is still found (it was lost), at the line YAML gives it."""
    text = f'a: "x{brk}y"\n---\nb: [\n---\nc: 1\n'
    entries = list(parse_yaml(text))
    assert isinstance(entries[-1], Document) and entries[-1].data == {"c": 1}
    assert entries[-1].line == 6 and entries[1].line == 5


def test_integers_out_of_go_range_follow_go_yaml() -> None:
    """Past int64/uint64, go-yaml reads a decimal as a float (infinite: refused, with its
    line) and keeps hex or binary as a string; thousands of digits never reach int()."""
    assert value("18446744073709551615") == 18446744073709551615
    assert value("18446744073709551616") == 1.8446744073709552e19
    assert value("0x" + "f" * 5000) == "0x" + "f" * 5000
    (error,) = parse_yaml("a: 1\nv: " + "9" * 5000 + "\n")
    assert isinstance(error, DocumentError) and error.line == 2 and "infinite" in error.message


def test_null_tag_on_a_value_that_is_not_null_is_an_error() -> None:
    (error,) = parse_yaml("v: !!null x\n")
    assert isinstance(error, DocumentError) and error.line == 1
    assert value("!!null ~") is None


def test_aliases_of_a_long_string_are_a_bomb_too() -> None:
    text = 's: &s "' + "x" * 1024 * 1024 + '"\nrefs: [' + ", ".join(["*s"] * 100) + "]\n"
    (error,) = parse_yaml(text)
    assert isinstance(error, DocumentError) and error.kind == "alias-bomb" and error.line == 2


def test_json_numbers_past_float_and_lone_surrogates() -> None:
    (error,) = parse_json('{"a": 1,\n "b": ' + "9" * 5000 + "}")
    assert isinstance(error, DocumentError) and error.line == 2
    assert "64-bit float" in error.message and len(error.message) < 200
    (doc,) = parse_json('{"a": "x\\ud800", "b": ["\\udfff"], "c": "\\ud83d\\ude00"}')
    assert isinstance(doc, Document)
    assert doc.data == {"a": "x\ufffd", "b": ["\ufffd"], "c": "\U0001f600"}
    (nested,) = parse_json("\n" + "[" * 100_000 + "]" * 100_000)
    assert isinstance(nested, DocumentError) and nested.line == 2
