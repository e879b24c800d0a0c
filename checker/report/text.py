"""Human-readable output: findings grouped by file, colours on a terminal, then a summary."""

from __future__ import annotations

import re
from itertools import groupby
from typing import TextIO

from rich.console import Console
from rich.markup import escape
from rich.text import Text

from checker.model import BaseComparison, Finding, Report, Severity

_STYLE = {
    Severity.CRITICAL: "bold white on red",
    Severity.HIGH: "bold red",
    Severity.MEDIUM: "yellow",
    Severity.LOW: "cyan",
    Severity.INFO: "dim",
}


def write(report: Report, out: TextIO, *, color: bool | None = None, width: int = 100) -> None:
    is_tty = out.isatty() if color is None else color
    # No emoji codes either: `:warning:` in a message is printed as written.
    console = Console(file=out, force_terminal=is_tty, no_color=not is_tty, emoji=False,
                      highlight=False, soft_wrap=True, width=width if not is_tty else None)
    # In pull-request mode what the base already had is counted, not listed.
    findings = sorted((f for f in report.findings if not _from_base(f)), key=Finding.sort_key)
    for path, group in groupby(findings, key=lambda f: f.location.path or "(no file)"):
        console.print(Text(printable(path), style="bold underline"))
        for f in group:
            console.print(_finding_line(f))
        console.print()
    if report.errors:
        console.print(Text("Could not check", style="bold red underline"))
        for e in report.errors:
            where = e.path or "(input)"
            if e.line:
                where += f":{e.line}"
            console.print(f"  {escape(printable(where))}: "
                          f"[red]{escape(printable(e.kind))}[/red]: "
                          f"{escape(printable(e.message))}")
        console.print()
    if report.base is not None:
        console.print(_comparison(report.base))
    console.print(_summary(report))


def _from_base(finding: Finding) -> bool:
    from checker.changes import is_from_base

    return is_from_base(finding)


def _comparison(base: BaseComparison) -> Text:
    text = Text(f"Compared with the merge base of {base.ref} ({base.commit[:12]}): ")
    text.append(f"{base.new} new", style="bold")
    text.append(f", {len(base.fixed)} fixed, {base.unchanged} already "
                "there (not listed)")
    for f in base.fixed:
        where = f.location.path or "(no file)"
        subject = f"{f.resource.display()}: " if f.resource is not None else ""
        text.append(f"\n  fixed: {printable(where)} {f.rule_id} {printable(subject)}"
                    f"{printable(f.message)}", style="green")
    if base.base_errors:
        text.append(f"\n  the base could not be fully checked ({len(base.base_errors)} "
                    "problem(s)): some findings may be reported as new that are not",
                    style="yellow")
        for e in base.base_errors:
            text.append(f"\n    {printable(e.path or '(input)')}: {printable(e.message)}",
                        style="yellow")
    return text


_CONTROL = re.compile(
    r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
"""Control characters (the tab excepted), line and paragraph separators, bidirectional
overrides and lone surrogates (a file name that is not UTF-8)."""


def printable(text: str) -> str:
    """Input-derived text with control characters shown as escapes (no terminal tricks, no
    forged lines, nothing UTF-8 cannot carry)."""
    return _CONTROL.sub(_escape_control, text)


def _escape_control(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def _finding_line(f: Finding) -> Text:
    line = Text("  ")
    where = f":{f.location.line}" if f.location.line else ""
    if f.location.line and f.location.column:
        where += f":{f.location.column}"
    line.append(f"{where.lstrip(':') or '-':<8} ")
    line.append(f"{f.severity.value:<8}", style=_STYLE[f.severity])
    line.append(f" {printable(f.rule_id)} ", style="bold")
    line.append(f"{printable(f.rule_name)}  ", style="dim")
    if f.resource is not None:
        line.append(f"{printable(f.resource.display())}: ", style="blue")
    line.append(printable(f.message))
    rendered_by = f.details.get("rendered_by")
    if isinstance(rendered_by, str):
        line.append(printable(f"  [{rendered_by}]"), style="dim")
    if f.suppressed_by:
        line.append(f"  (suppressed: {printable(f.suppressed_by)})", style="dim")
    return line


def _summary(report: Report) -> Text:
    counts = report.count_by_severity()
    active = sum(counts.values())
    suppressed = sum(1 for f in report.findings
                     if f.suppressed_by is not None and not _from_base(f))
    text = Text()
    text.append(f"{_plural(report.files, 'file')}, {_plural(report.objects, 'object')}: ")
    if active == 0:
        text.append("no findings", style="bold green")
    else:
        text.append(f"{active} finding{'s' if active != 1 else ''}", style="bold")
        parts = [f"{n} {sev}" for sev, n in counts.items() if n]
        text.append(f" ({', '.join(parts)})")
    if suppressed:
        text.append(f", {suppressed} suppressed", style="dim")
    if report.errors:
        n = len(report.errors)
        text.append(f"; {n} input{'s' if n != 1 else ''} could not be checked",
                    style="bold red")
    return text


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"
