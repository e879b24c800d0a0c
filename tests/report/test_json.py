from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from checker.model import Report
from checker.report import json_report

from .conftest import (
    Golden,
    Render,
    build_empty_report,
    build_escaping_report,
    build_sample_report,
)


@pytest.mark.parametrize(
    "case, build",
    [("sample", build_sample_report), ("empty", build_empty_report),
     ("escaping", build_escaping_report)],
)
def test_golden(case: str, build: Callable[[], Report], render: Render, golden: Golden) -> None:
    golden(f"json/{case}.json", render(json_report, build()))


def test_summary_counts_exclude_suppressed(render: Render, sample_report: Report) -> None:
    data = json.loads(render(json_report, sample_report))
    suppressed = [f for f in data["findings"] if f["suppressed_by"] is not None]
    assert data["summary"]["suppressed"] == len(suppressed) >= 1
    assert data["summary"]["findings"] == len(data["findings"]) - len(suppressed)
    assert sum(data["summary"]["by_severity"].values()) == data["summary"]["findings"]
