"""Parser properties: an object written to a file comes back as Kubernetes reads it.

Three writers: PyYAML's `safe_dump` (with and without unicode, flow and block, wrapped and
not), a hand-written YAML style with comments, quoting, flow collections, document markers
and CRLF line ends (tests/properties/yaml_oracle.py), and JSON. The expectation is worked
out by the oracle from go-yaml v2's rules (YAML 1.1 scalars: `y` is true, `0777` is 511,
`1e3` is 1000), not by the checker's own code.

Where the checker is known to read something differently from Kubernetes, the oracle raises
`Divergence`, the property skips that example, and a strict xfail test below holds the
minimal example, so that the fix is noticed.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, reject
from hypothesis import strategies as st

from checker.discover import Candidate
from checker.load import LoadResult, load
from checker.parse import Document, parse_json, parse_yaml
from tests.properties.profile import examples
from tests.properties.strategies import k8s_objects
from tests.properties.yaml_oracle import (
    Divergence,
    HandEmitter,
    Rejected,
    dump_json,
    go_key,
    go_scalar,
    safe_dump_expectation,
    same,
)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("roundtrip")


def _load(directory: Path, name: str, text: str) -> LoadResult:
    path = directory / name
    path.write_bytes(text.encode("utf-8"))
    return load([Candidate(name, path)])


def _objects(result: LoadResult) -> list[Any]:
    assert result.errors == [], result.errors
    return [manifest.obj for manifest in result.manifests]


def _assert_same(got: list[Any], expected: list[Any]) -> None:
    assert len(got) == len(expected)
    for mine, theirs in zip(got, expected, strict=True):
        assert same(mine, theirs), f"read {mine!r}\nKubernetes reads {theirs!r}"


OBJECTS = st.lists(k8s_objects(hostile=True), min_size=1, max_size=3)


@examples(150)
@given(objects=OBJECTS, allow_unicode=st.booleans(), flow=st.sampled_from([False, None]),
       width=st.sampled_from([80, 10**6]), explicit_start=st.booleans())
def test_safe_dump_reads_back_as_kubernetes_reads_it(
        workdir: Path, objects: list[dict[str, Any]], allow_unicode: bool, flow: bool | None,
        width: int, explicit_start: bool) -> None:
    try:
        expected = [safe_dump_expectation(obj, allow_unicode=allow_unicode) for obj in objects]
    except (Divergence, Rejected):
        reject()
    text = yaml.safe_dump_all(objects, allow_unicode=allow_unicode, default_flow_style=flow,
                              width=width, explicit_start=explicit_start, sort_keys=False)
    _assert_same(_objects(_load(workdir, "dumped.yaml", text)), expected)


@examples(150)
@given(objects=OBJECTS, rnd=st.randoms(use_true_random=False))
def test_hand_written_yaml_reads_back_as_kubernetes_reads_it(
        workdir: Path, objects: list[dict[str, Any]], rnd: random.Random) -> None:
    try:
        emitted = HandEmitter(rnd).stream(objects)
    except Rejected:
        reject()
    _assert_same(_objects(_load(workdir, "written.yaml", emitted.text)), emitted.documents)


@examples(100)
@given(obj=k8s_objects(hostile=True), rnd=st.randoms(use_true_random=False))
def test_json_reads_back_exactly(workdir: Path, obj: dict[str, Any], rnd: random.Random) -> None:
    _assert_same(_objects(_load(workdir, "object.json", dump_json(obj, rnd))), [obj])


# --- the oracle agrees with docs/parsing.md -------------------------------------------------

@pytest.mark.parametrize(("text", "value"), [
    ("yes", True), ("on", True), ("y", True), ("Y", True), ("n", False), ("OFF", False),
    ("012", 10), ("0o17", 15), ("0x1F", 31), ("0b101", 5), ("1_000", 1000),
    ("1.0", 1), ("1e3", 1000), ("08", 8), ("22:22", "22:22"), ("2001-12-14", "2001-12-14"),
    ("~", None), ("null", None), ("Null", None), ("NULL", None), ("0.5", 0.5), (".5", 0.5),
])
def test_oracle_reads_the_documented_table(text: str, value: Any) -> None:
    assert same(go_scalar(text), value)
    assert same(next(iter(_documents(f"v: {text}\n")))["v"], value)


def test_oracle_keys() -> None:
    assert go_key("y") == "true" and go_key("1") == "1" and go_key("012") == "10"
    assert go_key("1e3") == "1000" and go_key("1.5") == "1.5"


def _documents(text: str) -> Iterator[Any]:
    for entry in parse_yaml(text):
        assert isinstance(entry, Document), entry
        yield entry.data


# --- known divergences from Kubernetes (checker/parse.py), minimal examples ----------------

def _read(text: str) -> Any:
    [entry] = list(parse_yaml(text))
    return getattr(entry, "data", entry)


@pytest.mark.xfail(strict=True, reason=(
    "checker/parse.py: a float mapping key is written with Python's repr of the JSON "
    "number; sigs.k8s.io/yaml writes strconv.FormatFloat(f, 'g', -1, 32): `1e6: x` is "
    "key \"1e+06\" for Kubernetes, \"1000000\" for the checker"))
def test_float_mapping_keys_are_formatted_as_go_does() -> None:
    assert _read("1e6: x\n") == {"1e+06": "x"}


@pytest.mark.xfail(strict=True, reason=(
    "checker/parse.py: `.inf: x` is the key \".inf\" for sigs.k8s.io/yaml (non-finite keys "
    "are spelled out); the checker rejects the document"))
def test_non_finite_mapping_keys_are_spelled_out() -> None:
    assert _read(".inf: x\n") == {".inf": "x"}


def test_integers_beyond_64_bits_are_not_integers() -> None:
    """go-yaml v2: past int64 and uint64, a decimal is a float and a hex number a string."""
    assert _read("a: 0X1FFFFFFFFFFFFFFFFF\n") == {"a": "0X1FFFFFFFFFFFFFFFFF"}
    assert _read("a: 18446744073709551615\n") == {"a": 2**64 - 1}
    assert same(_read("a: 99999999999999999999\n"), {"a": 1e20})


@pytest.mark.xfail(strict=True, reason=(
    "checker/parse.py: go-yaml v2 reads `1e999` as the string \"1e999\" (ParseFloat fails "
    "with ErrRange, so it is not a float); the checker says Kubernetes rejects the document "
    "(and docs/parsing.md and its message name 1e999 with .inf and .nan)"))
def test_float_overflow_is_a_string() -> None:
    assert _read("a: 1e999\n") == {"a": "1e999"}


def test_json_lone_surrogate_is_read_as_replacement_character() -> None:
    """As Go's encoding/json reads it; a lone surrogate could not be written to any report."""
    [document] = list(parse_json('{"a": "x\\ud800y"}'))
    assert getattr(document, "data", None) == {"a": "x\ufffdy"}


def test_examples_json_round_trip() -> None:
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"},
           "data": {"a": "é\u2028\x00"}}
    [document] = list(parse_json(json.dumps(obj)))
    assert getattr(document, "data", None) == obj
