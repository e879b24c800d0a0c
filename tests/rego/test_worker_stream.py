"""`WorkerEngine.query_each`: many inputs answered back to back by the OPA worker, each with
its own timeout and failure, in order, and never mixed up with a later query's answers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from checker.rego.engine import RegoError, RegoTimeout
from checker.rego.worker import WorkerEngine

MODULE = """package t

import rego.v1

doubled := input.n * 2

parsed := to_number(input.text)

slow if {
\tinput.slow
\tcount([1 | some i in numbers.range(1, 100000); some j in numbers.range(1, 100000)]) > 0
}
"""


@pytest.fixture
def engine() -> Any:
    worker = WorkerEngine()
    assert worker.load({"t.rego": MODULE}, {}) == []
    yield worker
    worker.close()


def test_answers_come_in_order_and_equal_single_queries(engine: WorkerEngine) -> None:
    inputs = [{"n": n} for n in range(50)]
    streamed = list(engine.query_each("x := data.t.doubled", inputs))
    single = [engine.query("x := data.t.doubled", item) for item in inputs]
    assert streamed == single
    assert [rows[0]["x"] for rows in streamed] == [2 * n for n in range(50)]  # type: ignore[index]


def test_a_failing_input_is_answered_by_its_error(engine: WorkerEngine) -> None:
    answers = list(engine.query_each("x := data.t.parsed",
                                     [{"text": "1"}, {"text": "not a number"}, {"text": "3"}]))
    assert answers[0] == [{"x": 1}] and answers[2] == [{"x": 3}]
    assert isinstance(answers[1], RegoError)


def test_a_runaway_input_times_out_alone(engine: WorkerEngine) -> None:
    inputs = [{"slow": False}, {"slow": True}, {"slow": False}, {"slow": False}]
    answers = list(engine.query_each("x := data.t.slow", inputs, timeout=1))
    assert isinstance(answers[1], RegoTimeout)
    assert answers[0] == []  # `slow` undefined: no binding
    assert answers[2] == answers[0] and answers[3] == answers[0]
    assert engine.restarts == 1  # the worker was replaced once, for the rest


def test_a_stream_read_to_its_last_answer_keeps_the_worker(engine: WorkerEngine) -> None:
    """Closing a stream whose every answer was read (as `zip` leaves it) must not stop
    the worker: restarting means loading the data again, for every batch."""
    process = engine._process
    stream = engine.query_each("x := data.t.doubled", [{"n": n} for n in range(3)])
    assert [next(stream) for _ in range(3)] == [[{"x": 0}], [{"x": 2}], [{"x": 4}]]
    stream.close()
    assert engine.query("x := data.t.doubled", {"n": 5}) == [{"x": 10}]
    assert engine._process is process and engine.restarts == 0


def test_leaving_a_stream_early_never_mixes_answers(engine: WorkerEngine) -> None:
    stream = engine.query_each("x := data.t.doubled", [{"n": n} for n in range(200)])
    assert next(stream) == [{"x": 0}]
    stream.close()
    assert engine.query("x := data.t.doubled", {"n": 21}) == [{"x": 42}]


def test_a_rule_slow_on_every_object_times_out_once(tmp_path: Path) -> None:
    """Objects asked together: the first timeout switches the rule off for the rest of
    the batch too (not one timeout, and one worker restart, per object)."""
    import json
    import shutil
    import subprocess
    import sys

    fixtures = Path(__file__).resolve().parent.parent / "fixtures" / "rego"
    shutil.copytree(fixtures / "slow", tmp_path / "slow")
    estate = tmp_path / "estate"
    estate.mkdir()
    (estate / "deployments.yaml").write_text("".join(
        f"---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: d{i}, namespace: a}}\n"
        "spec:\n  selector: {matchLabels: {app: x}}\n  template:\n"
        "    metadata: {labels: {app: x}}\n    spec: {containers: [{name: c, image: 'x:1'}]}\n"
        for i in range(6)) + "---\napiVersion: v1\nkind: Service\nmetadata: {name: s}\n"
                             "spec: {ports: [{port: 80}]}\n")
    done = subprocess.run(
        [sys.executable, "-m", "checker", "check", "estate", "--policy", "slow",
         "--rule-timeout", "1", "--no-bundled-packs", "--format", "json", "--no-progress",
         "--no-cache"], cwd=tmp_path, capture_output=True, text=True, timeout=300,
        check=False)
    report = json.loads(done.stdout)
    timeouts = [e for e in report["errors"] if "SLOW001" in e["message"]]
    assert len(timeouts) == 1, timeouts
    assert [f["resource"]["name"] for f in report["findings"]
            if f["rule_id"] == "QUICK001"] == ["s"]


def _answers(answers: list[Any]) -> list[Any]:
    return [(type(a).__name__, a.kind, [str(p) for p in a.problems])
            if isinstance(a, RegoError) else a for a in answers]


@pytest.mark.parametrize("query", ["x := data.t.doubled", "x := data.t.parsed",
                                   "x := input"])
def test_a_request_made_ahead_is_answered_as_one_sent_then(engine: WorkerEngine,
                                                           query: str) -> None:
    """Made ahead, inputs go as JSON text (or, when they cannot be written, as they are):
    the answers, errors included, are those of the inputs sent as Python objects."""
    inputs: list[Any] = [{"n": n, "text": str(n)} for n in range(3)] + [
        {"n": 1.5, "text": "x"}, {"text": "é \u2028 \x00", "n": 2**70},
        {"text": "\udcff lone surrogate", "n": 1}, {"n": 1, "text": b"bytes"},
        {"n": float("nan"), "text": "1"}, [1, "not an object"], "plain", None]
    ahead = list(engine.query_each(query, inputs, encoded=engine.encode_each(query, inputs)))
    assert _answers(ahead) == _answers(list(engine.query_each(query, inputs)))
    assert ahead[0] == [{"x": 0 if query.endswith("doubled") else
                         0.0 if query.endswith("parsed") else {"n": 0, "text": "0"}}]


def test_json_text_inputs_read_as_objects_do() -> None:
    from checker.rego.engine import InProcessEngine

    engine = InProcessEngine()
    assert engine.load({"t.rego": MODULE}, {}) == []
    for value in ({"n": 21, "text": "4.5"}, {"n": "x", "text": "y"}, {"nested": [{"a": None}]}):
        text = json.dumps(value, ensure_ascii=False).encode("utf-8")
        for query in ("x := data.t.doubled", "x := data.t.parsed", "x := input"):
            try:
                expected: Any = engine.query(query, value)
            except RegoError as exc:
                expected = (exc.kind, exc.problems)
            try:
                found: Any = engine.query_json(query, text)
            except RegoError as exc:
                found = (exc.kind, exc.problems)
            assert found == expected, (value, query)


@pytest.mark.parametrize("chunk", [1, 2, 4, 64])
def test_batches_made_ready_ahead_follow_the_rules_switched_off(tmp_path: Path,
                                                                chunk: int) -> None:
    """The next batch is made ready while the worker answers the current one; when a rule
    times out meanwhile, it is made again without it: the rule times out for one object
    only, and every other rule still answers for every object, in order."""
    from checker.config import Config
    from checker.discover import discover
    from checker.load import load
    from checker.packs import RuleSources, load_rules
    from checker.rego.evaluate import RegoChecker

    fixtures = Path(__file__).resolve().parent.parent / "fixtures" / "rego" / "slow"
    # Services (quick) then Deployments (slow): with 4 to a batch, the next batch is made
    # ready and could be asked ahead before the first Deployment times out.
    services = (0, 1, 2, 6, 7, 8)
    (tmp_path / "objects.yaml").write_text("".join(
        f"---\napiVersion: {'v1' if i in services else 'apps/v1'}\n"
        f"kind: {'Service' if i in services else 'Deployment'}\nmetadata: {{name: o{i}}}\n"
        for i in range(9)))
    candidates, _ = discover([str(tmp_path / "objects.yaml")], tmp_path)
    manifests = load(candidates).manifests
    rules = load_rules(RuleSources.for_config(Config(bundled_packs=False), tmp_path,
                                              [fixtures]), root=tmp_path)
    worker = WorkerEngine(default_timeout=1)
    checker = RegoChecker(worker, rules.rego, timeout=1)
    try:
        assert checker.start({}, {}) == []
        results = list(checker.check_many(((m, []) for m in manifests), chunk=chunk))
    finally:
        worker.close()
    errors = [e for _, found in results for e in found]
    assert len(errors) == 1 and "SLOW001" in errors[0].message
    # Killed by the batch's timeout and by asking the rule alone (which switches it off),
    # never again: a batch made ready before would have asked it once more.
    assert worker.restarts == 2
    assert [[o.manifest.resource.name for o in outcomes] for outcomes, _ in results] == \
        [[f"o{i}"] if i in services else [] for i in range(9)]
