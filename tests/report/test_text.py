"""The text reporter: exact plain-text output when not writing to a terminal."""

from __future__ import annotations

import dataclasses
import io
import re
from collections.abc import Callable

import pytest

from checker.model import Finding, Location, Report, Severity, ToolError
from checker.report import text

from .conftest import API, Golden, Render, build_empty_report, build_sample_report

ANSI = re.compile(r"\x1b\[[0-9;]*m")


class _Terminal(io.StringIO):
    """A buffer that says it is a terminal."""

    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def _no_colour_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("FORCE_COLOR", "NO_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "COLUMNS"):
        monkeypatch.delenv(name, raising=False)


def _finding(**changes: object) -> Finding:
    base = build_sample_report().findings[0]
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def _report(*findings: Finding, errors: tuple[ToolError, ...] = ()) -> Report:
    return dataclasses.replace(build_empty_report(), findings=findings, errors=errors)


@pytest.mark.parametrize("case, build", [("sample", build_sample_report), ("empty", build_empty_report)])
def test_golden(case: str, build: Callable[[], Report], render: Render, golden: Golden) -> None:
    golden(f"text/{case}.txt", render(text, build()))


def test_output_is_deterministic(render: Render, sample_report: Report) -> None:
    assert render(text, sample_report) == render(text, build_sample_report())


def test_sample_lines(render: Render, sample_report: Report) -> None:
    lines = render(text, sample_report).splitlines()
    assert lines[0] == "apps/api/deployment.yaml"
    assert lines[1] == ("  18:11    critical SEC001 no-privileged-containers  "
                        "Deployment/payments/api: container 'api' runs privileged")
    assert lines[5] == "apps/web/ingress.yaml"
    assert lines[6].startswith("  -        high     TLS001 ")  # no line known
    assert lines[7] == "  12:1     info     SCH002 duplicate-document  document 2 repeats document 1"
    assert lines[-1] == ("3 files, 4 objects: 4 findings (1 critical, 1 high, 1 medium, 1 info), "
                         "1 suppressed; 1 input could not be checked")


def test_plain_when_not_a_terminal(render: Render, sample_report: Report) -> None:
    assert not ANSI.search(render(text, sample_report))


def test_colour_on_a_terminal(sample_report: Report) -> None:
    out = _Terminal()
    text.write(sample_report, out)
    coloured = out.getvalue()
    assert ANSI.search(coloured)
    plain = io.StringIO()
    text.write(sample_report, plain)
    assert ANSI.sub("", coloured) == plain.getvalue()


def test_colour_can_be_turned_off_on_a_terminal(render: Render, sample_report: Report) -> None:
    out = _Terminal()
    text.write(sample_report, out, color=False)
    assert out.getvalue() == render(text, sample_report)


def test_long_lines_are_not_wrapped(render: Render) -> None:
    message = "x" * 300
    output = render(text, _report(_finding(message=message)))
    assert f": {message}\n" in output
    assert output.count("\n") == 4  # path, finding, blank, summary


def test_markup_in_input_is_printed_literally(render: Render) -> None:
    finding = _finding(message="[bold]not bold[/bold] and [red]", location=Location(
        "apps/[id]/x.yaml", 3, 1))
    error = ToolError("syntax", "found [/] where [b] was expected", "apps/[id]/y.yaml", 2)
    output = render(text, _report(finding, errors=(error,)))
    assert "apps/[id]/x.yaml\n" in output
    assert ": [bold]not bold[/bold] and [red]\n" in output
    assert "  apps/[id]/y.yaml:2: syntax: found [/] where [b] was expected\n" in output


def test_positions(render: Render) -> None:
    findings = (
        _finding(location=Location("a.yaml", 12, None)),
        _finding(location=Location("b.yaml", None, 7), rule_id="SEC002"),
        _finding(location=Location(None, None, None), resource=None),
    )
    lines = render(text, _report(*findings)).splitlines()
    assert lines[0] == "(no file)"
    assert lines[1].startswith("  -        critical SEC001 no-privileged-containers  container")
    assert lines[3] == "a.yaml"
    assert lines[4].startswith("  12       critical SEC001 ")
    assert lines[6] == "b.yaml"
    assert lines[7].startswith("  -        critical SEC002 ")


def test_errors_without_path_or_line(render: Render) -> None:
    errors = (ToolError("config", "CRD path 'crds/' does not exist"),
              ToolError("binary", "binary file", "logo.yaml"))
    output = render(text, _report(errors=errors))
    assert output == (
        "Could not check\n"
        "  (input): config: CRD path 'crds/' does not exist\n"
        "  logo.yaml: binary: binary file\n"
        "\n"
        "2 files, 5 objects: no findings; 2 inputs could not be checked\n"
    )


def test_only_suppressed_findings(render: Render) -> None:
    output = render(text, _report(_finding(suppressed_by="annotation: accepted risk")))
    assert output.endswith("2 files, 5 objects: no findings, 1 suppressed\n")
    assert "(suppressed: annotation: accepted risk)" in output


@pytest.mark.parametrize("severity", list(Severity))
def test_each_severity_in_summary(severity: Severity, render: Render) -> None:
    findings = (_finding(severity=severity), _finding(severity=severity, rule_id="SEC002"))
    output = render(text, _report(*findings))
    assert output.endswith(f"2 files, 5 objects: 2 findings (2 {severity.value})\n")


def test_resource_display(render: Render) -> None:
    cluster_scoped = dataclasses.replace(API, kind="ClusterRole", namespace=None, name="admin")
    output = render(text, _report(_finding(resource=cluster_scoped)))
    assert "ClusterRole/admin: container 'api' runs privileged" in output
