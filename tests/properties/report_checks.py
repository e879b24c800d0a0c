"""What every report format must be, whatever the report holds.

`check_all_formats(report)` renders the report in each format and asserts:

- every format renders without error, to text that UTF-8 can carry;
- JSON validates against schemas/report.schema.json and gives back every string (as JSON
  can: two lone surrogates that make a pair come back as one character);
- SARIF validates against the SARIF 2.1.0 schema, one result per finding, valid rule indexes;
- JUnit XML parses and validates against both JUnit schemas, one test case per finding and
  error;
- text holds no control character (but the line feed and the tab), line or paragraph
  separator or bidirectional override, and gives each finding, error and path one line:
  nothing from the input can forge a line or drive a terminal;
- GitHub: one workflow command per line, one per error and active finding;
- Markdown: every table row is one line.
"""

from __future__ import annotations

import io
import json
import re
import xml.etree.ElementTree as ET
from functools import cache
from itertools import groupby
from pathlib import Path
from typing import Any

import jsonschema
import xmlschema

from checker.changes import is_from_base
from checker.model import Finding, Report
from checker.report import REPORTERS, text

REPO_ROOT = Path(__file__).resolve().parent.parent.parent
DATA = REPO_ROOT / "tests" / "data"

_RAW_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


@cache
def report_validator() -> jsonschema.Draft202012Validator:
    schema = json.loads((REPO_ROOT / "schemas" / "report.schema.json").read_text("utf-8"))
    return jsonschema.Draft202012Validator(schema)


@cache
def sarif_validator() -> Any:
    schema = json.loads((DATA / "sarif" / "sarif-schema-2.1.0.json").read_text("utf-8"))
    return jsonschema.validators.validator_for(schema)(schema)


@cache
def junit_schemas() -> tuple[xmlschema.XMLSchema, ...]:
    return tuple(xmlschema.XMLSchema(str(DATA / "junit" / name))
                 for name in ("JUnit.xsd", "junit-10.xsd"))


def render(report: Report) -> dict[str, str]:
    outputs = {}
    for name, write in REPORTERS.items():
        buffer = io.StringIO()
        write(report, buffer)
        outputs[name] = buffer.getvalue()
    return outputs


def _problems(validator: Any, instance: Any) -> list[str]:
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(instance)]


def check_all_formats(report: Report) -> dict[str, str]:
    outputs = render(report)
    for name, output in outputs.items():
        output.encode("utf-8")  # raises on what no UTF-8 file can hold (lone surrogates)
        assert "\r" not in output, f"raw carriage return in the {name} report"
    _check_json(report, outputs["json"])
    _check_sarif(report, outputs["sarif"])
    _check_junit(report, outputs["junit"])
    _check_text(report, outputs["text"])
    _check_github(report, outputs["github"])
    _check_markdown(outputs["markdown"])
    return outputs


def _as_json(value: Any) -> Any:
    """`value` as JSON gives it back: two lone surrogates that make a pair come back as the
    one character they spell (JSON cannot tell them apart)."""
    return json.loads(json.dumps(value))


def _check_json(report: Report, output: str) -> None:
    data = json.loads(output)
    assert _problems(report_validator(), data) == []
    assert len(data["findings"]) == len(report.findings)
    for written, finding in zip(data["findings"], report.findings, strict=True):
        assert written["message"] == _as_json(finding.message)
        assert written["location"]["path"] == _as_json(finding.location.path)
        assert written["location"]["pointer"] == _as_json(finding.location.pointer)
        assert written["suppressed_by"] == _as_json(finding.suppressed_by)
        if finding.resource is not None:
            assert written["resource"]["name"] == _as_json(finding.resource.name)
    assert [e["message"] for e in data["errors"]] == [_as_json(e.message) for e in report.errors]


def _check_sarif(report: Report, output: str) -> None:
    log = json.loads(output)
    assert _problems(sarif_validator(), log) == []
    [run] = log["runs"]
    rules = run["tool"]["driver"]["rules"]
    assert len(run["results"]) == len(report.findings)
    for result, finding in zip(run["results"], report.findings, strict=True):
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"] == finding.rule_id
        assert result["message"]["text"] == _as_json(finding.message)
    notifications = run["invocations"][0].get("toolExecutionNotifications", [])
    assert len(notifications) == len(report.errors)
    assert run["invocations"][0]["executionSuccessful"] is not bool(report.errors)


def _check_junit(report: Report, output: str) -> None:
    root = ET.fromstring(output.encode("utf-8"))
    cases = root.findall("testsuite/testcase")
    assert len(cases) == (len(report.findings) + len(report.errors) or 1)
    for schema in junit_schemas():
        schema.validate(output)


def _check_text(report: Report, output: str) -> None:
    raw = _RAW_CONTROL.search(output)
    assert raw is None, f"raw control character {raw.group()!r} in the text report"
    shown = sorted((f for f in report.findings if not is_from_base(f)), key=Finding.sort_key)
    groups = sum(1 for _ in groupby(shown, key=lambda f: f.location.path or "(no file)"))
    lines = 2 * groups + len(shown)
    if report.errors:
        lines += 2 + len(report.errors)
    if report.base is not None:
        lines += 1 + len(report.base.fixed) + (1 + len(report.base.base_errors)
                                               if report.base.base_errors else 0)
    lines += 1  # the summary
    assert output.endswith("\n")
    assert output.count("\n") == lines, "something in the input broke a line"
    for path in {f.location.path or "(no file)" for f in shown}:
        # rich expands a tab (no control character worth escaping) to the next tab stop
        header = " *".join(re.escape(part) for part in text.printable(path).split("\t"))
        assert re.search(f"^{header} *$", output, re.MULTILINE), path


def _check_github(report: Report, output: str) -> None:
    commands = output.split("\n")
    assert commands[-1] == ""
    commands = commands[:-1]
    assert len(commands) == len(report.errors) + len(report.active_findings)
    for command in commands:
        assert command.startswith(("::error ", "::warning ", "::notice ")), command
        assert _RAW_CONTROL.search(command) is None, command


def _check_markdown(output: str) -> None:
    in_table = False
    for line in output.split("\n"):
        if line.startswith("| ") and line.endswith(" |"):
            in_table = True
        elif in_table:
            assert line == "", f"a table row was broken: {line!r}"
            in_table = False
