"""JUnit XML reporter, for CI systems that show test results (GitLab, Jenkins, Azure …).

One `<testsuite>` per file; each finding is a test case that fails (active) or is skipped
(suppressed); each tool error is a test case that errors. The output validates against
both the strict Ant schema (Windy Road `JUnit.xsd`) and the Surefire one
(`junit-10.xsd`), which is why it carries fields that say nothing here: `timestamp`,
`hostname`, `time`, `package`, `id`, and empty `<properties>`, `<system-out>`,
`<system-err>`. They hold fixed values so the same report always gives the same bytes.
The strict schema allows no attributes on `<testsuites>`, so the totals live on each
suite only.

The XML is written by hand rather than through ElementTree so that escaping (newlines in
attributes, characters XML 1.0 cannot carry) and byte-for-byte output are under our
control.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TextIO

from checker.model import Finding, Report, ToolError

TOOL = "gitops-checker"
# Required by JUnit.xsd; a fixed value keeps output deterministic (no wall-clock time).
TIMESTAMP = "1970-01-01T00:00:00"
HOSTNAME = "localhost"

# Characters XML 1.0 cannot carry at all, even as character references.
_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_SPACE_RUN = re.compile(r"\s+")


@dataclass(slots=True)
class _Case:
    name: str
    classname: str
    # (element, message, type, body) or None for a passing case.
    outcome: tuple[str, str, str | None, str] | None = None


@dataclass(slots=True)
class _Suite:
    name: str
    cases: list[_Case] = field(default_factory=list)

    def count(self, element: str) -> int:
        return sum(1 for c in self.cases if c.outcome is not None and c.outcome[0] == element)


def write(report: Report, out: TextIO) -> None:
    suites = _suites(report)
    out.write('<?xml version="1.0" encoding="UTF-8"?>\n')
    out.write("<testsuites>\n")
    for suite_id, suite in enumerate(suites):
        _write_suite(out, suite, suite_id, report.tool_version)
    out.write("</testsuites>\n")


def _suites(report: Report) -> list[_Suite]:
    by_path: dict[str, _Suite] = {}

    def suite_for(path: str | None) -> _Suite:
        name = path or TOOL
        if name not in by_path:
            by_path[name] = _Suite(name)
        return by_path[name]

    # Errors first within a suite: they say part of the file went unchecked.
    for error in sorted(report.errors, key=ToolError.sort_key):
        suite = suite_for(error.path)
        suite.cases.append(_error_case(error, suite.name))
    for finding in report.findings:
        suite = suite_for(finding.location.path)
        suite.cases.append(_finding_case(finding, suite.name))

    if not by_path:
        summary = f"no findings ({report.files} files, {report.objects} objects checked)"
        by_path[TOOL] = _Suite(TOOL, [_Case(name=summary, classname=TOOL)])
    return [by_path[name] for name in sorted(by_path)]


def _finding_case(f: Finding, classname: str) -> _Case:
    loc = f.location
    if f.resource is not None:
        name = f"{f.rule_id} {f.resource.display()}"
    elif loc.line is not None:
        name = f"{f.rule_id} line {loc.line}"
    else:
        name = f.rule_id
    outcome: tuple[str, str, str | None, str]
    if f.suppressed_by is not None:
        outcome = ("skipped", f"suppressed: {f.suppressed_by}", None, f.message)
    else:
        outcome = ("failure", f.message, f.severity.value, _finding_body(f))
    return _Case(name=name, classname=classname, outcome=outcome)


def _finding_body(f: Finding) -> str:
    loc = f.location
    where = loc.path or "(no file)"
    if loc.line is not None:
        where += f":{loc.line}"
        if loc.column is not None:
            where += f":{loc.column}"
    lines = [f.message, "", f"rule: {f.rule_id} {f.rule_name} ({f.severity.value}, {f.category})"]
    if f.resource is not None:
        lines.append(f"resource: {f.resource.display()} ({f.resource.api_version})")
    lines.append(f"location: {where}")
    if loc.pointer:
        lines.append(f"field: {loc.pointer}")
    return "\n".join(lines)


def _error_case(error: ToolError, classname: str) -> _Case:
    name = f"could not check: {error.kind}"
    if error.line is not None:
        name += f" line {error.line}"
    where = (error.path or "(no file)") + (f":{error.line}" if error.line is not None else "")
    body = f"{error.message}\n\nlocation: {where}"
    return _Case(name=name, classname=classname, outcome=("error", error.message, error.kind, body))


def _write_suite(out: TextIO, suite: _Suite, suite_id: int, version: str) -> None:
    attrs = {
        "name": _token(suite.name),
        "package": _token(suite.name),
        "id": str(suite_id),
        "tests": str(len(suite.cases)),
        "failures": str(suite.count("failure")),
        "errors": str(suite.count("error")),
        "skipped": str(suite.count("skipped")),
        "time": "0",
        "timestamp": TIMESTAMP,
        "hostname": HOSTNAME,
    }
    out.write(f"  <testsuite{_attrs(attrs)}>\n")
    out.write("    <properties>\n")
    out.write(f'      <property name="tool.version"{_attrs({"value": version})}/>\n')
    out.write("    </properties>\n")
    for case in suite.cases:
        case_attrs = _attrs({"name": _token(case.name), "classname": _token(case.classname), "time": "0"})
        if case.outcome is None:
            out.write(f"    <testcase{case_attrs}/>\n")
            continue
        element, message, kind, body = case.outcome
        inner = {"message": message}
        if kind is not None:
            inner["type"] = kind
        out.write(f"    <testcase{case_attrs}>\n")
        out.write(f"      <{element}{_attrs(inner)}>{_text(body)}</{element}>\n")
        out.write("    </testcase>\n")
    out.write("    <system-out></system-out>\n")
    out.write("    <system-err></system-err>\n")
    out.write("  </testsuite>\n")


def _token(value: str) -> str:
    """Collapse whitespace the way `xs:token` would, so what we write is what is read."""
    return _SPACE_RUN.sub(" ", value).strip() or "-"


def _clean(value: str) -> str:
    """Replace characters XML 1.0 forbids with a visible `\\uXXXX` spelling."""
    return _INVALID_XML.sub(lambda m: f"\\u{ord(m.group()):04x}", value)


def _attrs(values: dict[str, str]) -> str:
    return "".join(f' {key}="{_attr(value)}"' for key, value in values.items())


def _attr(value: str) -> str:
    # Newlines and tabs as character references survive attribute-value normalisation.
    return (
        _clean(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        .replace('"', "&quot;").replace("\n", "&#10;").replace("\r", "&#13;").replace("\t", "&#9;")
    )


def _text(value: str) -> str:
    # A bare CR would be turned into LF by the parser; the reference keeps it.
    return (
        _clean(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        .replace("\r", "&#13;")
    )
