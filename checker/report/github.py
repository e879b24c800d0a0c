"""GitHub Actions workflow commands: one annotation per active finding and tool error.

GitHub shows only a limited number of annotations of each level per step, so tool errors
come first, then findings from most to least severe (report order within a severity).
Suppressed findings are left out. Paths are the report's, relative to the scanned root;
annotations land on the right file only when that root is the repository root.
"""

from __future__ import annotations

from typing import TextIO

from checker.model import Finding, Report, Severity, ToolError
from checker.report.text import printable

_COMMAND = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "notice",
    Severity.INFO: "notice",
}


def write(report: Report, out: TextIO) -> None:
    out.writelines(_error_line(e) for e in sorted(report.errors, key=ToolError.sort_key))
    active = report.active_findings
    order = sorted(range(len(active)), key=lambda i: (-active[i].severity.rank, i))
    out.writelines(_finding_line(active[i]) for i in order)


def _finding_line(f: Finding) -> str:
    loc = f.location
    props: list[tuple[str, str]] = []
    if loc.path:
        props.append(("file", loc.path))
        if loc.line is not None:
            props.append(("line", str(loc.line)))
            if loc.column is not None:
                props.append(("col", str(loc.column)))
    props.append(("title", f"{f.rule_id} {f.rule_name}"))
    message = f"{f.resource.display()}: {f.message}" if f.resource is not None else f.message
    return _command(_COMMAND[f.severity], props, message)


def _error_line(error: ToolError) -> str:
    props: list[tuple[str, str]] = []
    if error.path:
        props.append(("file", error.path))
        if error.line is not None:
            props.append(("line", str(error.line)))
    props.append(("title", f"gitops-checker could not check ({error.kind})"))
    return _command("error", props, error.message)


def _command(name: str, props: list[tuple[str, str]], message: str) -> str:
    rendered = ",".join(f"{key}={escape_property(value)}" for key, value in props)
    return f"::{name} {rendered}::{escape_data(message)}\n"


def escape_data(value: str) -> str:
    """Escape a command's message so it stays on one line and decodes back exactly."""
    escaped = value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    # Other control characters (ESC…) could drive the log viewer: make them visible.
    return printable(escaped)


def escape_property(value: str) -> str:
    """Escape a property value; `:` and `,` would otherwise end it early."""
    return escape_data(value).replace(":", "%3A").replace(",", "%2C")
