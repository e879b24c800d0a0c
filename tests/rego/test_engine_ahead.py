"""Modules checked ahead (`check`: parsed and compiled by the spare worker while the estate
loads), then loaded with the data: the problems and the answers are those of a plain load,
whether every module compiles or not."""

from __future__ import annotations

import pytest

from checker.rego.engine import InProcessEngine
from checker.rego.worker import WorkerEngine

GOOD = "package good\n\nimport rego.v1\n\ndoubled := input.n * 2\n\nlimit := data.limits.n\n"
OTHER = "package other\n\nimport rego.v1\n\nbig if input.n > data.limits.n\n"
SYNTAX_ERROR = "package broken\n\ndeny contains msg if {\n\tmsg := \"never closed\"\n"
UNSAFE_VAR = "package unsafe\n\nimport rego.v1\n\nallow if x == 1\n"
DATA = {"limits": {"n": 10}}
QUERIES = [("a := data.good.doubled", {"n": 21}), ("b := data.good.limit", {}),
           ("c := [x | x := data.other.big]", {"n": 11}),
           ("a := data.good.doubled; b := [x | x := data.other.big]", {"n": 3})]

CASES = {
    "all compile": {"good.rego": GOOD, "other.rego": OTHER},
    "one does not parse": {"good.rego": GOOD, "broken.rego": SYNTAX_ERROR},
    "one does not compile": {"good.rego": GOOD, "unsafe.rego": UNSAFE_VAR,
                             "other.rego": OTHER},
    "none compiles": {"unsafe.rego": UNSAFE_VAR},
}


def _answers(engine: object) -> list[object]:
    answers: list[object] = []
    for query, given in QUERIES:
        try:
            answers.append(engine.query(query, given))  # type: ignore[attr-defined]
        except Exception as exc:  # noqa: BLE001 - what fails must fail alike
            answers.append(type(exc).__name__)
    return answers


@pytest.mark.parametrize("case", list(CASES))
def test_modules_checked_ahead_load_alike(case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """`check` (the spare worker, while the estate loads) then `load` of the same modules:
    the same problems and answers as a load alone, and the modules are not compiled
    twice; a load of other modules does not use what was checked."""
    plain, ahead = InProcessEngine(), InProcessEngine()
    compiled: list[int] = []
    real = InProcessEngine._compiled
    monkeypatch.setattr(InProcessEngine, "_compiled", lambda self, modules: (
        compiled.append(1) if self is ahead else None) or real(self, modules))
    try:
        expected = plain.load(CASES[case], DATA)
        compiled.clear()
        ahead.check(CASES[case])
        assert ahead.load(CASES[case], DATA) == expected
        assert len(compiled) == 1
        assert _answers(ahead) == _answers(plain)
        ahead.check({"good.rego": GOOD})
        assert ahead.load(CASES["one does not compile"], DATA) == \
            plain.load(CASES["one does not compile"], DATA)
        assert len(compiled) == 3  # checked, then compiled again for other modules
        assert _answers(ahead) == _answers(plain)
    finally:
        plain.close()
        ahead.close()


def test_the_spare_worker_checks_ahead() -> None:
    from checker.rego.worker import discard_spare, preload_spare, start_spare

    discard_spare()
    start_spare()
    engine, plain = WorkerEngine(), InProcessEngine()
    try:
        preload_spare(CASES["one does not compile"])
        assert engine.load(CASES["one does not compile"], DATA) == \
            plain.load(CASES["one does not compile"], DATA)
        assert _answers(engine) == _answers(plain)
    finally:
        engine.close()
        plain.close()
        discard_spare()


def test_modules_that_do_not_parse_or_compile_leave_the_others_loaded() -> None:
    """One engine: a module that does not parse is refused as it is added, one that does
    not compile is dropped at the first query, each named with its line; the rest answer."""
    engine = InProcessEngine()
    try:
        problems = engine.load({"broken.rego": SYNTAX_ERROR, "good.rego": GOOD,
                                "unsafe.rego": UNSAFE_VAR, "other.rego": OTHER}, DATA)
        assert sorted({p.path for p in problems}) == ["broken.rego", "unsafe.rego"]
        assert all(p.line for p in problems)
        assert engine.query("a := data.good.doubled", {"n": 2}) == [{"a": 4}]
        assert engine.query("c := [x | x := data.other.big]", {"n": 11}) == [{"c": [True]}]
    finally:
        engine.close()
