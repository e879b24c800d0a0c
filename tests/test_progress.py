"""The progress bar appears only on a terminal, and only once a run has taken a while."""

from __future__ import annotations

import io

import pytest

from checker import cli


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_no_bar_when_not_a_terminal() -> None:
    stream = io.StringIO()
    with cli._progress(enabled=True, stream=stream) as update:
        assert update is None
    assert stream.getvalue() == ""


def test_no_bar_for_a_quick_run() -> None:
    stream = FakeTerminal()
    with cli._progress(enabled=True, stream=stream) as update:
        assert update is not None
        update(1, 2)  # type: ignore[operator]
    assert stream.getvalue() == ""


def test_bar_after_the_delay(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli, "PROGRESS_DELAY_SECONDS", 0.0)
    stream = FakeTerminal()
    with cli._progress(enabled=True, stream=stream) as update:
        update(3, 10)  # type: ignore[operator]
    assert "checking files" in stream.getvalue()


def test_disabled_by_flag() -> None:
    with cli._progress(enabled=False, stream=FakeTerminal()) as update:
        assert update is None
