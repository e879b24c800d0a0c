"""The fast path (yaml-rs) reads every stream exactly as the reference path (libyaml with
go-yaml v2's rules) does, or declines it: documents, their lines and values, errors.

Each test compares `parse_yaml(text)` with `parse_yaml(text, fast=False)` whole (a Document
is compared with its line, values, ambiguous scalars, chunk and plain-date flag), over the
repository's own YAML, a generated estate, constructs chosen to tempt the two readers apart,
and random streams. The go-yaml oracle properties (tests/properties) run through the fast
path as well, since it is the default.
"""

from __future__ import annotations

import random
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, reject
from hypothesis import strategies as st

from checker.parse import (
    Document,
    LinePositions,
    _read_fast,
    compose_documents,
    parse_yaml,
    walk_pointer,
)
from tests.properties.profile import examples
from tests.properties.strategies import k8s_objects
from tests.properties.yaml_oracle import HandEmitter, Rejected

REPO_ROOT = Path(__file__).resolve().parents[2]


def _same_reading(text: str) -> bool:
    """Both paths read `text` alike; True when the fast path took it."""
    reference = list(parse_yaml(text, fast=False))
    assert list(parse_yaml(text)) == reference, text[:2000]
    return _read_fast(text) is not None


def _yaml_files(*roots: Path) -> list[Path]:
    return sorted(p for root in roots for p in root.rglob("*")
                  if p.suffix in (".yaml", ".yml") and p.is_file())


def test_the_repository_yaml_reads_alike() -> None:
    files = _yaml_files(*(REPO_ROOT / d for d in ("fixtures", "rules", "docs", "tests",
                                                   "deploy")))
    assert len(files) > 200
    taken = sum(_same_reading(p.read_text(encoding="utf-8", errors="replace"))
                for p in files)
    assert taken > len(files) // 2


@pytest.mark.slow
def test_a_generated_estate_reads_alike_and_fast(tmp_path: Path) -> None:
    subprocess.run([sys.executable, str(REPO_ROOT / "bench" / "generate_estate.py"),
                    "--documents", "1500", "--out", str(tmp_path)], check=True,
                   capture_output=True, timeout=120)
    files = _yaml_files(tmp_path)
    taken = sum(_same_reading(p.read_text()) for p in files)
    assert taken >= 0.9 * len(files)  # the point of it: realistic estates take the fast path


TEMPTING = [
    # numbers: YAML 1.1 (Go) and 1.2 (Rust) part ways
    "a: 012", "a: -012", "a: 0o17", "a: 0x1F", "a: 0X1F", "a: -0x1F", "a: 0b101", "a: 1_000",
    "a: +12", "a: 1.", "a: .5", "a: +.5", "a: -.5e-3", "a: 1e3", "a: 1E3", "a: 1.0",
    "a: 0.", "a: 08", "a: 09.5", "a: 12345678901234567890", "a: 123456789012345678901234",
    "a: 9223372036854775808", "a: 18446744073709551616", "a: 1e400", "a: -0", "a: 0",
    "a: .inf", "a: -.Inf", "a: .NaN", "a: inf", "a: nan", "a: infinity", "a: 22:22",
    "a: 1:20:30", "a: 0.1.2", "a: 1e", "a: e3", "a: 0x", "a: '012'", 'a: "0x1F"',
    # booleans and nulls
    "a: yes", "a: Yes", "a: on", "a: OFF", "a: y", "a: n", "a: 'yes'", 'a: "on"', "on: 1",
    "y: x", "a: true", "a: True", "a: TRUE", "a: tRUE", "a: ~", "a: null", "a: Null",
    "a: NULL", "a:", "a: ''", "~: a", "null: a", "true: a", "1: a", "1.5: a", "[a]: b",
    "{a: 1}: b", "? a\n: b", "? |\n  long\n: v",
    # dates (Kustomize reads plain ones as timestamps)
    "a: 2001-12-14", "a: '2001-12-14'", "a: 2001-12-14t21:59:43.10-05:00", "a: 2001-1-1",
    "a: x 2001-12-14", "2001-12-14: a", "a: [2001-12-14]",
    # strings, escapes and quoting
    'a: "\\x41\\u00e9\\U0001F600\\N\\_\\L\\P\\e\\a\\b\\v\\f\\0\\ \\/\\t\\"\\\\"',
    'a: "line\\\n  continued"', "a: 'it''s'", "a: it's", "a: \"multi\n  line\"",
    "a: 'multi\n\n  line'", "a: plain\n  continued\n\n  again", "a: x # comment",
    "a: x#not-comment", "a: '#'", "a: -", "a: - x", "a: ':'", "a: a:b", "a: http://x:80/y",
    "a: !foo x", "a: !!str 12", "a: !!int '12'", "a: !!python/object x", "a: !!binary aGk=",
    "a: !!null ''", "a: &x 1\nb: *x", "a: *x", "a: &x\n  b: 1\nc:\n  <<: *x\n  d: 2",
    # block scalars
    "a: |\n  x\n  y\n", "a: |-\n  x\n", "a: |+\n  x\n\n", "a: >\n  folded\n  text\n\n  p\n",
    "a: |2\n    indented\n", "a: |\n  # not a comment\n  --- not a marker\n",
    "a: |\n  tab\there\n", "a: >-\n  a\n   b\n  c\n",
    # documents, markers, comments
    "", "\n", "# only a comment\n", "---\n", "--- \n", "---\n---\n", "a: 1\n---\nb: 2\n",
    "a: 1\n...\n---\nb: 2\n", "--- {a: 1}\n--- [1, 2]\n", "--- |\n  text\n", "--- >\n x\n",
    "---  # c\n\n  # d\nb: 2\n", "%YAML 1.1\n---\na: 1\n", "%TAG ! tag:x,2000:\n---\na: 1\n",
    "a: 1\n--- # end\n", "---a: 1\n", "a: 1\n----\n", "- a\n- b\n", "x\n", "'x'\n",
    "a: 1\r\nb: 2\r\n", "a: 1\rb: 2", "a: x\x85b: y", "a: x\u2028y", "\ufeffa: 1",
    "a:\tb", "a: 1\n\tb: 2", "a: [1, 2,]", "a: {b: 1, c}", "a: [a, b]\nb: {c: d}",
    # errors and duplicates
    "a: 1\na: 2", "a: [1", "a: 'x", "a: b: c", "- a\nb: 1", "a:\n- b\n c", "]", "a: @x",
    "a: `x", "{a: 1, a: 2}", "a: 1\n---\na: 1\na: 2\n---\nb: 3\n",
    # keys
    "'a b': 1", '"a\\tb": 1', "a.b/c: 1", "a:b: 1", "-a: 1", "? \n: 1", "'': 1",
    "k" * 1100 + ": 1", "'" + "k" * 1100 + "': 1",
    # nesting
    "a:\n" + "".join(" " * (i + 1) + "a:\n" for i in range(300)),
    "[" * 300 + "]" * 300, "a: " + "[" * 250 + "1" + "]" * 250,
]


@pytest.mark.parametrize("text", TEMPTING, ids=range(len(TEMPTING)))
def test_tempting_constructs_read_alike(text: str) -> None:
    _same_reading(text)


def test_the_fast_path_takes_ordinary_manifests() -> None:
    """Not vacuous: plain Kubernetes YAML, quoted oddities included, goes the fast way."""
    text = ("---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n"
            "  annotations:\n    rotated-at: \"2024-04-12\"\n    cron: '*/5 * * * *'\n"
            "    mode: \"0644\"\n    cmd: \"a && b \\\\ c\"\nspec:\n  replicas: 3\n"
            "  template:\n    spec:\n      containers:\n        - name: web\n"
            "          image: \"registry/web:1.2\"\n          args: [\"--x=1\", '--y']\n"
            "          resources: {limits: {cpu: 500m, memory: 1Gi}, requests: {cpu: 0.5}}\n")
    assert _same_reading(text)
    document = next(iter(parse_yaml(text)))
    assert document.line == 2
    assert document.data["spec"]["template"]["spec"]["containers"][0]["resources"][
        "requests"]["cpu"] == 0.5


OBJECTS = st.lists(k8s_objects(hostile=True), min_size=1, max_size=3)


@examples(150)
@given(objects=OBJECTS, rnd=st.randoms(use_true_random=False))
def test_hand_written_streams_read_alike(objects: list[dict[str, Any]],
                                         rnd: random.Random) -> None:
    try:
        emitted = HandEmitter(rnd).stream(objects)
    except Rejected:
        reject()
    _same_reading(emitted.text)


@examples(100)
@given(objects=OBJECTS, flow=st.sampled_from([False, None]), unicode=st.booleans(),
       explicit_start=st.booleans())
def test_dumped_streams_read_alike(objects: list[dict[str, Any]], flow: bool | None,
                                   unicode: bool, explicit_start: bool) -> None:
    _same_reading(yaml.safe_dump_all(objects, default_flow_style=flow,
                                      allow_unicode=unicode, explicit_start=explicit_start,
                                      sort_keys=False))


@pytest.mark.parametrize("text", ["a: '\x85'\n", "a: \"x\u2028y\"\n", "a: 'x\ry'\n",
                                  "a: \"\u2029\"\n"])
def test_line_breaks_of_yaml_1_1_in_quotes_are_left_to_the_reference(text: str) -> None:
    """Found by the property above: NEL in a quoted scalar is a line break to libyaml."""
    assert not _same_reading(text)


# --- positions found from lines ---------------------------------------------------------------


def _pointers(data: Any, prefix: str = "") -> Iterator[str]:
    """Every node's pointer, and one past the end of each collection (not there)."""
    yield prefix
    if isinstance(data, dict):
        for key, value in data.items():
            yield from _pointers(value, prefix + "/" + key.replace("~", "~0").replace("/", "~1"))
        yield prefix + "/not-there"
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from _pointers(value, f"{prefix}/{index}")
        yield f"{prefix}/{len(data)}"


def _same_positions(text: str) -> tuple[int, int]:
    """LinePositions agrees with walking the composed document wherever it answers:
    (answers, questions)."""
    if _read_fast(text) is None:
        return 0, 0
    lines = LinePositions(text)
    roots = compose_documents(text)
    answered = asked = 0
    for index, document in enumerate(parse_yaml(text)):
        assert isinstance(document, Document)
        for pointer in _pointers(document.data):
            for value in (False, True):
                asked += 1
                found = lines.position(index, pointer, value=value)
                if found is None:
                    continue
                answered += 1
                node = walk_pointer(roots[index], pointer, value=value)
                assert found == (node.start_mark.line + 1, node.start_mark.column + 1), (
                    index, pointer, value, text[:2000])
    return answered, asked


@pytest.mark.slow
def test_line_positions_agree_over_the_repository_yaml() -> None:
    files = _yaml_files(*(REPO_ROOT / d for d in ("fixtures", "rules", "docs", "tests",
                                                   "deploy")))
    answered, asked = map(sum, zip(*(_same_positions(p.read_text(encoding="utf-8",
                                                                  errors="replace"))
                                     for p in files), strict=True))
    assert answered > 0.6 * asked  # test fixtures are rich in flow style and nulls


@pytest.mark.slow
def test_line_positions_agree_over_a_generated_estate(tmp_path: Path) -> None:
    subprocess.run([sys.executable, str(REPO_ROOT / "bench" / "generate_estate.py"),
                    "--documents", "800", "--out", str(tmp_path)], check=True,
                   capture_output=True, timeout=120)
    answered, asked = map(sum, zip(*(_same_positions(p.read_text())
                                     for p in _yaml_files(tmp_path)), strict=True))
    assert answered > 0.8 * asked


@pytest.mark.parametrize("text", [
    "a:\n- x\n- y\nb: 1\n", "a:\n  - x\n  -\n    k: v\n  - - n\n    - m\n",
    "a: {b: 1}\nc: [1, 2]\nd:\n  e: |\n    f: g\n    - h\n  i: 'j'\n",
    "'q': 1\n\"r s\": 2\nt: # c\n  u: 3\n# c\nv:\n\n  # c\n  w: 4\n",
    "a: x\n  continued: not a key\nb: 2\n", "- a: 1\n  b: 2\n- c: 3\n", "- - - x\n",
    "a: 1\n---\nb:\n  c: 2\n---\n- d\n", "--- |\n  x\n", "a:\nb: 1\n", "a: \"x\n  y\"\nb: 1\n",
    "k.a/b-c: 1\n-x: 2\n", "a :\n  b: 1\n", "a: b # c: d\n", "a#b: 1\nc: 2\n",
])
def test_line_positions_of_tricky_layouts(text: str) -> None:
    _same_positions(text)


@examples(150)
@given(objects=OBJECTS, rnd=st.randoms(use_true_random=False))
def test_line_positions_of_hand_written_streams(objects: list[dict[str, Any]],
                                                rnd: random.Random) -> None:
    try:
        emitted = HandEmitter(rnd).stream(objects)
    except Rejected:
        reject()
    _same_positions(emitted.text)
