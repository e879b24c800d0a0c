"""The night-to-night history: new, fixed and still-open findings, and how long each has
been there, in a real SQLite file."""

from __future__ import annotations

import datetime as dt
import multiprocessing
from pathlib import Path

import pytest

from checker.nightly.history import History, HistoryError, Observation

NIGHT = dt.datetime(2026, 11, 20, 2, 30, tzinfo=dt.UTC)


def _night(n: int) -> dt.datetime:
    return NIGHT + dt.timedelta(days=n)


def _seen(*fingerprints: str) -> list[Observation]:
    return [Observation(fp, "DRF003", "high", "drift", f"Deployment/erp/{fp}")
            for fp in fingerprints]


def test_the_first_run_has_everything_new(tmp_path: Path) -> None:
    history = History(tmp_path / "h.sqlite")
    first = history.record("estate", _night(0), "0.1", _seen("a", "b"), drift=2, errors=0)
    assert first.previous is None
    assert first.new == {"a", "b"} and first.fixed == () and first.still_open == frozenset()
    assert first.since == {"a": _night(0), "b": _night(0)}


def test_new_fixed_and_open_since_the_previous_run(tmp_path: Path) -> None:
    history = History(tmp_path / "h.sqlite")
    history.record("estate", _night(0), "0.1", _seen("a", "b"), drift=2, errors=0)
    second = history.record("estate", _night(1), "0.1", _seen("b", "c"), drift=2, errors=0)
    assert second.previous is not None and second.previous.at == _night(0)
    assert second.new == {"c"} and second.still_open == {"b"}
    assert [o.fingerprint for o in second.fixed] == ["a"]
    assert second.fixed[0].subject == "Deployment/erp/a"
    assert second.since == {"b": _night(0), "c": _night(1)}


def test_age_counts_the_unbroken_stretch_only(tmp_path: Path) -> None:
    history = History(tmp_path / "h.sqlite")
    for n, seen in enumerate([("a",), ("a",), (), ("a",), ("a",)]):
        result = history.record("estate", _night(n), "0.1", _seen(*seen), drift=len(seen),
                                errors=0)
    assert result.since == {"a": _night(3)}  # fixed on night 2: back on 3 is a new stretch


def test_scopes_do_not_mix(tmp_path: Path) -> None:
    history = History(tmp_path / "h.sqlite")
    history.record("estate@prod", _night(0), "0.1", _seen("a"), drift=1, errors=0)
    other = history.record("estate@nonprod", _night(1), "0.1", _seen("b"), drift=1, errors=0)
    assert other.previous is None and other.new == {"b"} and other.fixed == ()
    assert [r.at for r in history.runs("estate@prod")] == [_night(0)]


def test_trend_holds_the_last_n_runs_oldest_first(tmp_path: Path) -> None:
    history = History(tmp_path / "h.sqlite")
    for n in range(10):
        result = history.record("estate", _night(n), "0.1", _seen(*"abc"[: n % 3 + 1]),
                                drift=1, errors=n % 2, nights=4)
    assert [r.at for r in result.trend] == [_night(n) for n in range(6, 10)]
    assert [(r.findings, r.drift, r.errors) for r in result.trend] == \
        [(1, 1, 0), (2, 1, 1), (3, 1, 0), (1, 1, 1)]


def test_a_file_that_is_not_a_history_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(HistoryError, match="not a gitops-checker history, or damaged"):
        History(path).record("estate", _night(0), "0.1", [], drift=0, errors=0)


def test_naive_times_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        History(tmp_path / "h.sqlite").record("e", dt.datetime(2026, 1, 1), "0.1", [],
                                              drift=0, errors=0)


def _writer(path: str, offset: int) -> None:
    history = History(Path(path))
    for n in range(15):
        history.record("estate", _night(offset + n), "0.1", _seen(f"w{offset}-{n}"), drift=1,
                       errors=0)


def test_overlapping_jobs_each_record_whole_runs(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite"
    context = multiprocessing.get_context("spawn")
    writers = [context.Process(target=_writer, args=(str(path), offset))
               for offset in (0, 100)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(timeout=120)
        assert writer.exitcode == 0
    runs = History(path).runs("estate")
    assert len(runs) == 30 and len({r.id for r in runs}) == 30
    assert all(r.findings == 1 for r in runs)
