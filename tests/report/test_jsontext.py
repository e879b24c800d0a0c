"""The reports' JSON writer gives exactly the text of `json.dumps(..., indent=2,
ensure_ascii=False)`, for every value it is handed (the unusual ones through json itself)."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from checker.report import jsontext

SCALARS = (st.none() | st.booleans() | st.integers() | st.integers(min_value=-2**80,
                                                                      max_value=2**80)
           | st.floats(allow_nan=False, allow_infinity=False) | st.text())
VALUES = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8),
                                                                      children, max_size=5),
    max_leaves=40)


def _reference(value: Any, allow_nan: bool = False) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, allow_nan=allow_nan)


@given(VALUES)
def test_the_text_is_the_standard_librarys(value: Any) -> None:
    assert jsontext.dumps(value) == _reference(value)


@pytest.mark.parametrize("value", [
    {"a": [1, 2.5, None, True, False, "é\u2028\"\\\n\t\x00"], "b": {}, "c": [], "d": {"e": {}}},
    {1: "non-string key", None: 2, 2.5: 3, False: 4},
    [(1, 2), ("tuple",)],
    {"surrogate": "\udcff"},
    [{"nested": [[[[]]]]}],
    10**30,
    -0.0,
    1e16,
])
def test_unusual_values_read_alike(value: Any) -> None:
    assert jsontext.dumps(value) == _reference(value)


def test_non_finite_floats_follow_allow_nan() -> None:
    for value in (math.nan, math.inf, -math.inf):
        with pytest.raises(ValueError):
            jsontext.dumps({"x": value})
        assert jsontext.dumps({"x": value}, allow_nan=True) == _reference({"x": value}, True)


def test_other_types_are_refused_as_json_refuses_them() -> None:
    with pytest.raises(TypeError):
        jsontext.dumps({"x": {1, 2}})
    circular: list[Any] = []
    circular.append(circular)
    with pytest.raises(ValueError, match="Circular"):
        jsontext.dumps(circular)
