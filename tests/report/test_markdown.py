from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest

from checker.model import Location, Report, Severity, ToolError
from checker.report import markdown

from .conftest import (
    Golden,
    Render,
    build_empty_report,
    build_escaping_report,
    build_sample_report,
)


@pytest.mark.parametrize(
    "case, build",
    [("sample", build_sample_report), ("empty", build_empty_report), ("escaping", build_escaping_report)],
)
def test_golden(case: str, build: Callable[[], Report], render: Render, golden: Golden) -> None:
    golden(f"markdown/{case}.md", render(markdown, build()))


def test_output_is_deterministic(render: Render, sample_report: Report) -> None:
    assert render(markdown, sample_report) == render(markdown, build_sample_report())


def _section(text: str, heading: str) -> list[str]:
    lines = text.splitlines()
    start = lines.index(heading) + 1
    end = next((i for i in range(start, len(lines)) if lines[i].startswith("### ")), len(lines))
    return lines[start:end]


def test_status_and_counts(render: Render, sample_report: Report) -> None:
    text = render(markdown, sample_report)
    assert "❌ **4 findings**: 1 critical, 1 high, 1 medium, 1 info." in text
    assert "**1 problem left part of the input unchecked**" in text
    assert "| 🔴 critical | 1 |" in text
    assert "| 🔵 low | 0 |" in text  # the low finding is suppressed
    assert "| suppressed | 1 |" in text
    assert "<details><summary>1 suppressed finding</summary>" in text


def test_findings_table_is_most_severe_first(render: Render, sample_report: Report) -> None:
    rows = [line for line in _section(render(markdown, sample_report), "### Findings") if line.startswith("| ")]
    assert rows[0] == "| Severity | Rule | Resource | Location | Message |"
    assert rows[2:] == [
        (
            "| 🔴 critical | `SEC001` no-privileged-containers | `Deployment/payments/api` "
            "| `apps/api/deployment.yaml:18` | container 'api' runs privileged |"
        ),
        (
            "| 🟠 high | `TLS001` ingress-requires-tls | `Ingress/web/frontend` "
            "| `apps/web/ingress.yaml` | host 'shop.example.com' is served without TLS |"
        ),
        (
            "| 🟡 medium | `RES001` cpu-limits-set | `Deployment/payments/api` "
            "| `apps/api/deployment.yaml:24` | container 'api' has no CPU limit |"
        ),
        (
            "| ⚪ info | `SCH002` duplicate-document | — "
            "| `apps/web/ingress.yaml:12` | document 2 repeats document 1 |"
        ),
    ]


def test_could_not_check_section(render: Render, sample_report: Report) -> None:
    section = _section(render(markdown, sample_report), "### Could not check")
    assert "- `apps/web/broken.yaml:7` **parse**: could not parse YAML: mapping values are not allowed here" in section


def test_errors_only_is_not_a_pass(render: Render, empty_report: Report) -> None:
    report = dataclasses.replace(empty_report, errors=(ToolError("rule", "rule SEC009 crashed"),))
    text = render(markdown, report)
    assert "✅" not in text
    assert "❌ **1 problem left part of the input unchecked**" in text
    assert "- — **rule**: rule SEC009 crashed" in text


def test_empty_report(render: Render, empty_report: Report) -> None:
    text = render(markdown, empty_report)
    assert "✅ **No findings.**" in text
    assert "2 files · 5 objects checked" in text
    for heading in ("### Findings", "### Could not check", "<details>"):
        assert heading not in text


def test_row_cap(render: Render, sample_report: Report) -> None:
    base = sample_report.findings[0]
    findings = tuple(
        dataclasses.replace(base, location=Location(base.location.path, i + 1), fingerprint=f"fp{i}")
        for i in range(markdown.MAX_ROWS + 7)
    )
    text = render(markdown, dataclasses.replace(sample_report, findings=findings, errors=()))
    rows = [line for line in _section(text, "### Findings") if line.startswith("| 🔴")]
    assert len(rows) == markdown.MAX_ROWS
    assert "… and 7 more." in text


def test_character_budget(render: Render, sample_report: Report) -> None:
    base = sample_report.findings[0]
    long = "x" * 1000
    findings = tuple(
        dataclasses.replace(base, message=f"{i} {long}", fingerprint=f"fp{i}") for i in range(150)
    )
    text = render(markdown, dataclasses.replace(sample_report, findings=findings, errors=()))
    rows = [line for line in _section(text, "### Findings") if line.startswith("| 🔴")]
    assert 0 < len(rows) < 150
    assert sum(len(r) + 1 for r in rows) <= markdown.FINDINGS_BUDGET
    assert f"… and {150 - len(rows)} more." in text
    assert all(len(r) < markdown.MAX_MESSAGE + 200 for r in rows)  # long messages are shortened
    assert len(text) < 65_536


def test_severity_order_survives_the_cap(render: Render, sample_report: Report) -> None:
    base = sample_report.findings[0]
    infos = [
        dataclasses.replace(base, severity=Severity.INFO, location=Location("a.yaml", i + 1), fingerprint=f"i{i}")
        for i in range(markdown.MAX_ROWS)
    ]
    critical = dataclasses.replace(base, location=Location("z.yaml", 1), fingerprint="crit")
    text = render(markdown, dataclasses.replace(sample_report, findings=(*infos, critical), errors=()))
    rows = [line for line in _section(text, "### Findings") if line.startswith("| ")]
    assert rows[2].startswith("| 🔴 critical")
    assert "… and 1 more." in text


def test_escaping(render: Render, escaping_report: Report) -> None:
    text = render(markdown, escaping_report)
    row = next(line for line in text.splitlines() if line.startswith("| 🟠 high | `"))
    assert row == (
        "| 🟠 high | `ESC001` tricky: name, with comma | `ConfigMap/default/odd` "
        "| `apps/odd dir/we,ird:name.yaml:3` "
        "| value a\\|b &lt;c&gt; &amp; d<br>next 100% done: ok, \\`x\\` |"
    )
    assert "- `apps/odd dir/we,ird:name.yaml:9` **parse**: bad &lt;value&gt; at 50%<br>second line &amp; more" in text


def test_code_spans_survive_backticks_and_pipes() -> None:
    assert markdown._code("a`b") == "``a`b``"
    assert markdown._code("`edge") == "`` `edge ``"
    assert markdown._code("a|b") == "`a\\|b`"
    assert markdown._code("a|b", in_table=False) == "`a|b`"
