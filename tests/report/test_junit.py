from __future__ import annotations

import dataclasses
import xml.etree.ElementTree as ET
from collections.abc import Callable

import pytest
import xmlschema

from checker.model import Location, Report, ToolError
from checker.report import junit

from .conftest import (
    DATA_DIR,
    ODD_ERROR,
    ODD_MESSAGE,
    ODD_PATH,
    Golden,
    Render,
    build_empty_report,
    build_escaping_report,
    build_sample_report,
)

XSD_NAMES = ("JUnit.xsd", "junit-10.xsd")


@pytest.fixture(scope="module")
def schemas() -> list[xmlschema.XMLSchema]:
    return [xmlschema.XMLSchema(str(DATA_DIR / "junit" / name)) for name in XSD_NAMES]


def _assert_valid(schemas: list[xmlschema.XMLSchema], text: str) -> None:
    for schema in schemas:
        schema.validate(text)


def _suites(text: str) -> dict[str, ET.Element]:
    root = ET.fromstring(text.encode("utf-8"))
    assert root.tag == "testsuites"
    return {suite.get("name", ""): suite for suite in root.findall("testsuite")}


@pytest.mark.parametrize(
    "case, build",
    [("sample", build_sample_report), ("empty", build_empty_report), ("escaping", build_escaping_report)],
)
def test_golden_and_both_schemas(
    case: str, build: Callable[[], Report], render: Render, golden: Golden, schemas: list[xmlschema.XMLSchema]
) -> None:
    text = render(junit, build())
    golden(f"junit/{case}.xml", text)
    _assert_valid(schemas, text)


def test_output_is_deterministic(render: Render, sample_report: Report) -> None:
    assert render(junit, sample_report) == render(junit, build_sample_report())


def test_one_suite_per_path(render: Render, sample_report: Report) -> None:
    suites = _suites(render(junit, sample_report))
    assert list(suites) == ["apps/api/deployment.yaml", "apps/web/broken.yaml", "apps/web/ingress.yaml"]
    assert [s.get("id") for s in suites.values()] == ["0", "1", "2"]

    deployment = suites["apps/api/deployment.yaml"]
    assert (deployment.get("tests"), deployment.get("failures"), deployment.get("errors"),
            deployment.get("skipped")) == ("3", "2", "0", "1")
    cases = deployment.findall("testcase")
    assert [c.get("name") for c in cases] == [
        "SEC001 Deployment/payments/api", "RES001 Deployment/payments/api", "AVL001 Deployment/payments/api",
    ]
    assert {c.get("classname") for c in cases} == {"apps/api/deployment.yaml"}


def test_failure_details(render: Render, sample_report: Report) -> None:
    suites = _suites(render(junit, sample_report))
    case = suites["apps/api/deployment.yaml"].findall("testcase")[0]
    failure = case.find("failure")
    assert failure is not None
    assert failure.get("type") == "critical"
    assert failure.get("message") == "container 'api' runs privileged"
    body = failure.text or ""
    assert "location: apps/api/deployment.yaml:18:11" in body
    assert "field: /spec/template/spec/containers/0/securityContext/privileged" in body


def test_suppressed_is_skipped(render: Render, sample_report: Report) -> None:
    suites = _suites(render(junit, sample_report))
    case = suites["apps/api/deployment.yaml"].findall("testcase")[2]
    assert case.find("failure") is None
    skipped = case.find("skipped")
    assert skipped is not None
    assert skipped.get("message") == "suppressed: annotation: PDB is managed by the platform team"


def test_finding_without_line_or_resource(render: Render, sample_report: Report) -> None:
    suites = _suites(render(junit, sample_report))
    cases = suites["apps/web/ingress.yaml"].findall("testcase")
    assert [c.get("name") for c in cases] == ["TLS001 Ingress/web/frontend", "SCH002 line 12"]
    no_line = cases[0].find("failure")
    assert no_line is not None and "location: apps/web/ingress.yaml\n" in (no_line.text or "")


def test_tool_error_is_error_case(render: Render, sample_report: Report) -> None:
    suite = _suites(render(junit, sample_report))["apps/web/broken.yaml"]
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("1", "0", "1")
    error = suite.find("testcase/error")
    assert error is not None
    assert error.get("type") == "parse"
    assert error.get("message") == "could not parse YAML: mapping values are not allowed here"


def test_pathless_error_and_finding_use_tool_suite(
    render: Render, sample_report: Report, schemas: list[xmlschema.XMLSchema]
) -> None:
    drift = dataclasses.replace(sample_report.findings[0], location=Location(None))
    report = dataclasses.replace(
        sample_report, findings=(drift,), errors=(ToolError("cluster", "cluster unreachable"),)
    )
    text = render(junit, report)
    _assert_valid(schemas, text)
    suite = _suites(text)["gitops-checker"]
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("2", "1", "1")
    assert {c.get("classname") for c in suite.findall("testcase")} == {"gitops-checker"}


def test_empty_report_has_one_passing_case(render: Render, empty_report: Report) -> None:
    suites = _suites(render(junit, empty_report))
    assert list(suites) == ["gitops-checker"]
    cases = suites["gitops-checker"].findall("testcase")
    assert len(cases) == 1
    assert list(cases[0]) == []  # no failure/error/skipped child: it passes
    assert cases[0].get("name") == "no findings (2 files, 5 objects checked)"


def test_all_suppressed_has_no_failures(render: Render, sample_report: Report) -> None:
    report = dataclasses.replace(
        sample_report, errors=(),
        findings=tuple(dataclasses.replace(f, suppressed_by="accepted") for f in sample_report.findings),
    )
    for suite in _suites(render(junit, report)).values():
        assert suite.get("failures") == "0" and suite.get("errors") == "0"
        assert suite.get("skipped") == suite.get("tests")


def test_escaping(render: Render, escaping_report: Report, schemas: list[xmlschema.XMLSchema]) -> None:
    text = render(junit, escaping_report)
    _assert_valid(schemas, text)
    assert "&lt;c&gt; &amp; d&#13;&#10;next 100% done" in text  # attribute keeps CR/LF as references
    suite = _suites(text)[ODD_PATH]
    failure = suite.find("testcase/failure")
    assert failure is not None
    assert failure.get("message") == ODD_MESSAGE  # exact round trip through an XML parser
    assert (failure.text or "").startswith(ODD_MESSAGE)
    error = suite.find("testcase/error")
    assert error is not None and error.get("message") == ODD_ERROR


def test_characters_xml_cannot_carry_are_replaced(
    render: Render, escaping_report: Report, schemas: list[xmlschema.XMLSchema]
) -> None:
    finding = dataclasses.replace(escaping_report.findings[0], message="bell\x07 and nul\x00 here")
    text = render(junit, dataclasses.replace(escaping_report, findings=(finding,)))
    _assert_valid(schemas, text)
    failure = _suites(text)[ODD_PATH].find("testcase/failure")
    assert failure is not None and failure.get("message") == "bell\\u0007 and nul\\u0000 here"
