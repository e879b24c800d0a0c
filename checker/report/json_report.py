"""The JSON report: a stable contract for other tools (schemas/report.schema.json)."""

from __future__ import annotations

import re
from typing import Any, TextIO

from checker.model import Finding, Report, ToolError
from checker.report import jsontext

SCHEMA_VERSION = 1


def to_dict(report: Report) -> dict[str, Any]:
    suppressed = sum(1 for f in report.findings if f.suppressed_by is not None)
    document = {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "gitops-checker", "version": report.tool_version},
        "summary": {
            "files": report.files,
            "objects": report.objects,
            "findings": len(report.findings) - suppressed,
            "suppressed": suppressed,
            "errors": len(report.errors),
            "by_severity": report.count_by_severity(),
        },
        "findings": [_finding(f) for f in report.findings],
        "errors": [_error(e) for e in report.errors],
        "base": None,
    }
    if report.base is not None:
        base = report.base
        document["base"] = {
            "ref": base.ref, "commit": base.commit, "new": base.new,
            "unchanged": base.unchanged, "fixed": [_finding(f) for f in base.fixed],
            "errors": [_error(e) for e in base.base_errors],
        }
    return document


def _finding(f: Finding) -> dict[str, Any]:
    resource = None
    if f.resource is not None:
        resource = {"apiVersion": f.resource.api_version, "kind": f.resource.kind,
                    "namespace": f.resource.namespace, "name": f.resource.name}
    return {
        "rule_id": f.rule_id,
        "rule_name": f.rule_name,
        "severity": f.severity.value,
        "category": f.category,
        "message": f.message,
        "resource": resource,
        "location": {"path": f.location.path, "line": f.location.line,
                     "column": f.location.column, "pointer": f.location.pointer},
        "engine": f.engine,
        "fingerprint": f.fingerprint,
        "suppressed_by": f.suppressed_by,
        "details": dict(f.details),
    }


def _error(e: ToolError) -> dict[str, Any]:
    return {"path": e.path, "line": e.line, "kind": e.kind, "message": e.message}


def write(report: Report, out: TextIO) -> None:
    out.write(escape_surrogates(jsontext.dumps(to_dict(report))))
    out.write("\n")


_SURROGATE = re.compile(r"[\ud800-\udfff]")


def escape_surrogates(text: str) -> str:
    """JSON text with lone surrogates (a file name that is not UTF-8, read with
    `surrogateescape`) written as `\\udcff` escapes: they can only be inside strings, and
    UTF-8 cannot carry them raw. Everything else stays as `ensure_ascii=False` wrote it."""
    return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
