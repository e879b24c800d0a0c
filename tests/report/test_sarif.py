from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any

import jsonschema
import pytest

from checker.model import Finding, Report, Severity, ToolError
from checker.report import sarif

from .conftest import (
    DATA_DIR,
    ODD_ERROR,
    ODD_MESSAGE,
    TOOL_VERSION,
    Golden,
    Render,
    build_empty_report,
    build_escaping_report,
    build_sample_report,
)

SCHEMA_PATH = DATA_DIR / "sarif" / "sarif-schema-2.1.0.json"


@pytest.fixture(scope="module")
def validator() -> jsonschema.protocols.Validator:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)  # the schema declares draft-04
    cls.check_schema(schema)
    return cls(schema)


def _log(render: Render, report: Report) -> dict[str, Any]:
    log: dict[str, Any] = json.loads(render(sarif, report))
    return log


def _assert_valid(validator: jsonschema.protocols.Validator, log: dict[str, Any]) -> None:
    problems = sorted(validator.iter_errors(log), key=lambda e: list(e.absolute_path))
    assert not problems, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in problems)


@pytest.mark.parametrize(
    "case, build",
    [("sample", build_sample_report), ("empty", build_empty_report), ("escaping", build_escaping_report)],
)
def test_golden_and_schema(
    case: str, build: Callable[[], Report], render: Render, golden: Golden, validator: jsonschema.protocols.Validator
) -> None:
    text = render(sarif, build())
    golden(f"sarif/{case}.sarif", text)
    _assert_valid(validator, json.loads(text))


def test_output_is_deterministic(render: Render, sample_report: Report) -> None:
    assert render(sarif, sample_report) == render(sarif, build_sample_report())


def test_driver_and_rules(render: Render, sample_report: Report) -> None:
    run = _log(render, sample_report)["runs"][0]
    driver = run["tool"]["driver"]
    assert driver["name"] == "gitops-checker"
    assert driver["version"] == TOOL_VERSION
    assert "informationUri" not in driver
    ids = [rule["id"] for rule in driver["rules"]]
    assert ids == sorted(sample_report.rules)
    sec = driver["rules"][ids.index("SEC001")]
    assert sec["name"] == "no-privileged-containers"
    assert sec["shortDescription"]["text"] == "no-privileged-containers"
    assert sec["fullDescription"]["text"].startswith("Containers must not run privileged")
    assert sec["help"]["text"] == "Remove securityContext.privileged or set it to false."
    assert sec["helpUri"] == "https://example.invalid/rules/SEC001"
    assert sec["defaultConfiguration"] == {"level": "error"}
    assert sec["properties"] == {"category": "security", "security-severity": "9.5", "tags": ["security"]}
    schema_rule = driver["rules"][ids.index("SCH002")]
    assert "help" not in schema_rule  # no remediation text
    assert schema_rule["defaultConfiguration"] == {"level": "note"}
    assert schema_rule["properties"]["security-severity"] == "1.0"


def test_results(render: Render, sample_report: Report) -> None:
    run = _log(render, sample_report)["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    results = run["results"]
    assert len(results) == len(sample_report.findings)  # suppressed included, marked
    for result, finding in zip(results, sample_report.findings, strict=True):
        assert result["ruleId"] == finding.rule_id
        assert rules[result["ruleIndex"]]["id"] == finding.rule_id
        assert result["message"]["text"] == finding.message
        assert result["partialFingerprints"] == {"gitopsChecker/v1": finding.fingerprint}
    assert [r["level"] for r in results] == ["error", "warning", "note", "error", "note"]

    privileged = results[0]
    location = privileged["locations"][0]
    assert location["physicalLocation"] == {
        "artifactLocation": {"uri": "apps/api/deployment.yaml", "uriBaseId": "%SRCROOT%"},
        "region": {"startLine": 18, "startColumn": 11},
    }
    assert location["logicalLocations"] == [
        {"name": "api", "fullyQualifiedName": "Deployment/payments/api", "kind": "resource"}
    ]
    assert privileged["properties"]["severity"] == "critical"
    assert "suppressions" not in privileged


def test_suppressed_result(render: Render, sample_report: Report) -> None:
    results = _log(render, sample_report)["runs"][0]["results"]
    suppressed = [r for r in results if "suppressions" in r]
    assert len(suppressed) == 1
    assert suppressed[0]["ruleId"] == "AVL001"
    assert suppressed[0]["suppressions"] == [
        {"kind": "inSource", "justification": "annotation: PDB is managed by the platform team"}
    ]


def test_unknown_line_omits_region_and_missing_resource_omits_logical(
    render: Render, sample_report: Report
) -> None:
    results = {r["ruleId"]: r for r in _log(render, sample_report)["runs"][0]["results"]}
    no_line = results["TLS001"]["locations"][0]
    assert no_line["physicalLocation"] == {
        "artifactLocation": {"uri": "apps/web/ingress.yaml", "uriBaseId": "%SRCROOT%"}
    }
    no_resource = results["SCH002"]["locations"][0]
    assert "logicalLocations" not in no_resource
    assert no_resource["physicalLocation"]["region"] == {"startLine": 12, "startColumn": 1}


def test_tool_errors_become_notifications(render: Render, sample_report: Report) -> None:
    invocation = _log(render, sample_report)["runs"][0]["invocations"][0]
    assert invocation["executionSuccessful"] is False
    assert invocation["toolExecutionNotifications"] == [{
        "level": "error",
        "message": {"text": "could not parse YAML: mapping values are not allowed here"},
        "descriptor": {"id": "parse"},
        "locations": [{"physicalLocation": {
            "artifactLocation": {"uri": "apps/web/broken.yaml", "uriBaseId": "%SRCROOT%"},
            "region": {"startLine": 7},
        }}],
    }]


def test_error_without_path_has_no_location(
    render: Render, empty_report: Report, validator: jsonschema.protocols.Validator
) -> None:
    report = dataclasses.replace(empty_report, errors=(ToolError("rule", "rule SEC009 crashed"),))
    log = _log(render, report)
    _assert_valid(validator, log)
    notification = log["runs"][0]["invocations"][0]["toolExecutionNotifications"][0]
    assert "locations" not in notification


def test_empty_report(render: Render, empty_report: Report) -> None:
    run = _log(render, empty_report)["runs"][0]
    assert run["results"] == []
    assert run["tool"]["driver"]["rules"] == []
    assert run["invocations"] == [{"executionSuccessful": True}]


def test_baseline_state(
    render: Render, sample_report: Report, validator: jsonschema.protocols.Validator
) -> None:
    states = ["new", "unchanged", "updated", "absent", "bogus"]
    findings = tuple(
        dataclasses.replace(f, details={"baseline_state": state})
        for f, state in zip(sample_report.findings, states, strict=True)
    )
    log = _log(render, dataclasses.replace(sample_report, findings=findings))
    _assert_valid(validator, log)
    got = [r.get("baselineState") for r in log["runs"][0]["results"]]
    assert got == ["new", "unchanged", "updated", "absent", None]
    plain = _log(render, sample_report)["runs"][0]["results"]
    assert all("baselineState" not in r for r in plain)


def test_rule_missing_from_report_rules_still_indexed(
    render: Render, sample_report: Report, validator: jsonschema.protocols.Validator
) -> None:
    rules = {k: v for k, v in sample_report.rules.items() if k != "TLS001"}
    log = _log(render, dataclasses.replace(sample_report, rules=rules))
    _assert_valid(validator, log)
    run = log["runs"][0]
    tls = next(r for r in run["results"] if r["ruleId"] == "TLS001")
    rule = run["tool"]["driver"]["rules"][tls["ruleIndex"]]
    assert rule["id"] == "TLS001"
    assert rule["name"] == "ingress-requires-tls"
    assert rule["defaultConfiguration"] == {"level": "error"}


def test_escaping(render: Render, escaping_report: Report) -> None:
    text = render(sarif, escaping_report)
    assert "\r" not in text and text.count("\n") == len(text.splitlines())
    run = json.loads(text)["runs"][0]
    result = run["results"][0]
    assert result["message"]["text"] == ODD_MESSAGE  # JSON round-trips every character
    uri = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert uri == "apps/odd%20dir/we%2Cird%3Aname.yaml"
    assert result["properties"]["pointer"] == "/data/a|b"
    notification = run["invocations"][0]["toolExecutionNotifications"][0]
    assert notification["message"]["text"] == ODD_ERROR


@pytest.mark.parametrize(
    "severity, level",
    [
        (Severity.CRITICAL, "error"), (Severity.HIGH, "error"), (Severity.MEDIUM, "warning"),
        (Severity.LOW, "note"), (Severity.INFO, "note"),
    ],
)
def test_level_mapping(severity: Severity, level: str, render: Render, sample_report: Report) -> None:
    finding: Finding = dataclasses.replace(sample_report.findings[0], severity=severity)
    result = _log(render, dataclasses.replace(sample_report, findings=(finding,)))["runs"][0]["results"][0]
    assert result["level"] == level
