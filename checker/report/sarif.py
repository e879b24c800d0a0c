"""SARIF 2.1.0 reporter, shaped for GitHub code scanning and other SARIF consumers.

One run, one `rules` entry per rule id, one result per finding (suppressed findings
included, marked with `suppressions`). Things the tool could not check become
`toolExecutionNotifications` and flip `executionSuccessful` to false, so a consumer
never mistakes a partial run for a clean one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TextIO
from urllib.parse import quote

from checker.model import (
    Finding,
    Location,
    Report,
    Resource,
    RuleInfo,
    Severity,
    ToolError,
)
from checker.report import jsontext
from checker.report.json_report import escape_surrogates

SCHEMA_URI = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
SRCROOT = "%SRCROOT%"
FINGERPRINT_KEY = "gitopsChecker/v1"
BASELINE_STATES = frozenset({"new", "unchanged", "updated", "absent"})

_LEVEL = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
    Severity.INFO: "note",
}

# GitHub reads `security-severity` (a number as a string) to rank alerts.
_SECURITY_SEVERITY = {
    Severity.CRITICAL: "9.5",
    Severity.HIGH: "8.0",
    Severity.MEDIUM: "5.5",
    Severity.LOW: "3.0",
    Severity.INFO: "1.0",
}


def level(severity: Severity) -> str:
    return _LEVEL[severity]


def write(report: Report, out: TextIO) -> None:
    out.write(escape_surrogates(jsontext.dumps(build(report), allow_nan=True)))
    out.write("\n")


def build(report: Report) -> dict[str, Any]:
    """The SARIF log as plain data (what `write` serialises)."""
    rules = _collect_rules(report)
    index = {rule.id: i for i, rule in enumerate(rules)}
    errors = sorted(report.errors, key=ToolError.sort_key)

    invocation: dict[str, Any] = {"executionSuccessful": not errors}
    if errors:
        invocation["toolExecutionNotifications"] = [_notification(e) for e in errors]

    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "gitops-checker",
                "version": report.tool_version,
                "rules": [_rule(rule) for rule in rules],
            }
        },
        "invocations": [invocation],
        # Lines and columns come from a Python parser, so columns count code points.
        "columnKind": "unicodeCodePoints",
        "results": [_result(f, index[f.rule_id]) for f in report.findings],
        "properties": {"files": report.files, "objects": report.objects},
    }
    return {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]}


def _collect_rules(report: Report) -> list[RuleInfo]:
    """Every rule a result can point at, sorted by id.

    `report.rules` should cover every finding; a finding whose rule is missing still gets
    an entry built from the finding itself, so `ruleIndex` is always valid.
    """
    rules: dict[str, RuleInfo] = dict(report.rules)
    for f in report.findings:
        if f.rule_id not in rules:
            rules[f.rule_id] = RuleInfo(
                id=f.rule_id, name=f.rule_name, severity=f.severity, category=f.category,
                description="", engine=f.engine,
            )
    return [rules[rule_id] for rule_id in sorted(rules)]


def _rule(rule: RuleInfo) -> dict[str, Any]:
    description = rule.description or rule.name
    entry: dict[str, Any] = {
        "id": rule.id,
        "name": rule.name,
        "shortDescription": {"text": rule.name or rule.id},
        "fullDescription": {"text": description or rule.id},
    }
    if rule.remediation:
        entry["help"] = {"text": rule.remediation}
    if rule.help_uri:
        entry["helpUri"] = rule.help_uri
    entry["defaultConfiguration"] = {"level": level(rule.severity)}
    entry["properties"] = {
        "category": rule.category,
        "security-severity": _SECURITY_SEVERITY[rule.severity],
        "tags": [rule.category],
    }
    return entry


def _result(f: Finding, rule_index: int) -> dict[str, Any]:
    result: dict[str, Any] = {
        "ruleId": f.rule_id,
        "ruleIndex": rule_index,
        "level": level(f.severity),
        "message": {"text": f.message},
    }
    location = _location(f.location, f.resource)
    if location:
        result["locations"] = [location]
    result["partialFingerprints"] = {FINGERPRINT_KEY: f.fingerprint}
    state = _baseline_state(f.details)
    if state is not None:
        result["baselineState"] = state
    if f.suppressed_by is not None:
        # In the object's annotations or the policy's own exception: in source; config
        # exceptions and baselines live elsewhere.
        in_source = f.suppressed_by.startswith(("annotation", "conftest exception"))
        result["suppressions"] = [{"kind": "inSource" if in_source else "external",
                                   "justification": f.suppressed_by}]
    properties: dict[str, Any] = {"severity": f.severity.value, "category": f.category}
    if f.location.pointer:
        properties["pointer"] = f.location.pointer
    result["properties"] = properties
    return result


def _baseline_state(details: Mapping[str, Any]) -> str | None:
    """`details["baseline_state"]` when it is a value SARIF allows; anything else is dropped
    rather than producing a log that fails schema validation."""
    state = details.get("baseline_state")
    return state if isinstance(state, str) and state in BASELINE_STATES else None


def _location(loc: Location, resource: Resource | None) -> dict[str, Any]:
    location: dict[str, Any] = {}
    physical = _physical(loc.path, loc.line, loc.column)
    if physical:
        location["physicalLocation"] = physical
    if resource is not None:
        location["logicalLocations"] = [{
            "name": resource.name,
            "fullyQualifiedName": resource.display(),
            "kind": "resource",
        }]
    return location


def _physical(path: str | None, line: int | None, column: int | None) -> dict[str, Any]:
    if not path:
        return {}
    physical: dict[str, Any] = {"artifactLocation": {"uri": artifact_uri(path), "uriBaseId": SRCROOT}}
    if line is not None and line >= 1:
        region: dict[str, Any] = {"startLine": line}
        if column is not None and column >= 1:
            region["startColumn"] = column
        physical["region"] = region
    return physical


def artifact_uri(path: str) -> str:
    """A relative POSIX path as a URI reference: `/` kept, everything a URI would misread
    (spaces, `%`, `#`, `?`, `:`, non-ASCII) percent-encoded. A name that is not UTF-8 (read
    with `surrogateescape`) is encoded as its original bytes."""
    try:
        raw = path.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a lone surrogate that no byte stands for
        raw = path.encode("utf-8", "surrogatepass")
    return quote(raw, safe="/")


def _notification(error: ToolError) -> dict[str, Any]:
    notification: dict[str, Any] = {
        "level": "error",
        "message": {"text": error.message},
        "descriptor": {"id": error.kind},
    }
    physical = _physical(error.path, error.line, None)
    if physical:
        notification["locations"] = [{"physicalLocation": physical}]
    return notification
