"""Many objects are judged by one OPA worker per core, each on its share: the report must
be exactly the one a single worker gives."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

import checker.pipeline
from checker.config import find_config, load_config

ESTATE = Path(__file__).resolve().parents[2] / "fixtures" / "estates" / "odoo-finance"


def _report(monkeypatch: pytest.MonkeyPatch, threshold: int) -> object:
    monkeypatch.setattr(checker.pipeline, "PARALLEL_REGO_OBJECTS", threshold)
    config = load_config(find_config(ESTATE))
    return checker.pipeline.run_check([str(ESTATE)], root=ESTATE, config=config).report


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="one core: one worker")
def test_shared_out_objects_give_the_single_worker_report(
        monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[int] = []
    real = checker.pipeline.WorkerEngine

    def counted(*args: object, **kwargs: object) -> object:
        started.append(1)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(checker.pipeline, "WorkerEngine", counted)
    single = _report(monkeypatch, 10**9)
    assert len(started) == 1
    shared = _report(monkeypatch, 10)
    assert len(started) >= 3  # one more worker per core
    assert shared == single
    assert any(f.engine == "rego" for f in shared.findings)  # type: ignore[attr-defined]


def test_a_worker_thread_that_fails_early_does_not_hang_the_run(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Outcomes are handed over as they come; a thread that fails before its first object
    (here: its engine cannot be made) must still say it is done, so the run ends with the
    error instead of waiting for answers that never come."""

    def broken(*args: object, **kwargs: object) -> object:
        raise RuntimeError("no engine")

    monkeypatch.setattr(checker.pipeline, "WorkerEngine", broken)
    raised: list[BaseException] = []

    def run() -> None:
        try:
            _report(monkeypatch, 10)
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            raised.append(exc)

    # In a thread, so that a hang fails this test instead of stalling the suite.
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(120)
    assert not thread.is_alive(), "the run waited for a Rego thread that had failed"
    assert len(raised) == 1 and isinstance(raised[0], RuntimeError)
    assert "no engine" in str(raised[0])
