from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest

from checker.model import Location, Report, Severity, ToolError
from checker.report import github

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
    golden(f"github/{case}.txt", render(github, build()))


def test_output_is_deterministic(render: Render, sample_report: Report) -> None:
    assert render(github, sample_report) == render(github, build_sample_report())


def test_sample_lines(render: Render, sample_report: Report) -> None:
    lines = render(github, sample_report).splitlines()
    assert lines == [
        (
            "::error file=apps/web/broken.yaml,line=7,title=gitops-checker could not check (parse)"
            "::could not parse YAML: mapping values are not allowed here"
        ),
        (
            "::error file=apps/api/deployment.yaml,line=18,col=11,title=SEC001 no-privileged-containers"
            "::Deployment/payments/api: container 'api' runs privileged"
        ),
        (
            "::error file=apps/web/ingress.yaml,title=TLS001 ingress-requires-tls"
            "::Ingress/web/frontend: host 'shop.example.com' is served without TLS"
        ),
        (
            "::warning file=apps/api/deployment.yaml,line=24,col=13,title=RES001 cpu-limits-set"
            "::Deployment/payments/api: container 'api' has no CPU limit"
        ),
        (
            "::notice file=apps/web/ingress.yaml,line=12,col=1,title=SCH002 duplicate-document"
            "::document 2 repeats document 1"
        ),
    ]


def test_suppressed_findings_are_omitted(render: Render, sample_report: Report) -> None:
    text = render(github, sample_report)
    assert "AVL001" not in text
    assert len(text.splitlines()) == len(sample_report.active_findings) + len(sample_report.errors)


@pytest.mark.parametrize(
    "severity, command",
    [
        (Severity.CRITICAL, "error"), (Severity.HIGH, "error"), (Severity.MEDIUM, "warning"),
        (Severity.LOW, "notice"), (Severity.INFO, "notice"),
    ],
)
def test_level_mapping(severity: Severity, command: str, render: Render, sample_report: Report) -> None:
    finding = dataclasses.replace(sample_report.findings[0], severity=severity)
    text = render(github, dataclasses.replace(sample_report, findings=(finding,), errors=()))
    assert text.startswith(f"::{command} file=")


def test_no_path_means_no_file_property(render: Render, sample_report: Report) -> None:
    finding = dataclasses.replace(sample_report.findings[0], location=Location(None, 5, 2))
    report = dataclasses.replace(sample_report, findings=(finding,), errors=(ToolError("rule", "crashed"),))
    assert render(github, report).splitlines() == [
        "::error title=gitops-checker could not check (rule)::crashed",
        "::error title=SEC001 no-privileged-containers::Deployment/payments/api: container 'api' runs privileged",
    ]


def test_empty_report_prints_nothing(render: Render, empty_report: Report) -> None:
    assert render(github, empty_report) == ""


def test_escaping(render: Render, escaping_report: Report) -> None:
    lines = render(github, escaping_report).splitlines()
    assert lines == [
        (
            "::error file=apps/odd dir/we%2Cird%3Aname.yaml,line=9,title=gitops-checker could not check (parse)"
            "::bad <value> at 50%25%0Asecond line & more"
        ),
        (
            "::error file=apps/odd dir/we%2Cird%3Aname.yaml,line=3,col=5,title=ESC001 tricky%3A name%2C with comma"
            "::ConfigMap/default/odd: value a|b <c> & d%0D%0Anext 100%25 done: ok, `x`"
        ),
    ]


def test_escape_helpers() -> None:
    assert github.escape_data("50%\r\n: ,") == "50%25%0D%0A: ,"
    assert github.escape_property("50%\r\n: ,") == "50%25%0D%0A%3A %2C"
    # `%` first, so an escape sequence already in the text is not decoded by the runner.
    assert github.escape_data("%0A") == "%250A"
