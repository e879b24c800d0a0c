"""Markdown summary for a pull-request comment (GitHub-flavoured tables).

The reporter does not know the `--fail-on` threshold, so the status line states counts
rather than a verdict on them; anything left unchecked is called out as a failure,
because the run fails closed on it.

GitHub rejects comments over 65,536 characters, so every list is cut at a row count and
at a character budget, whichever comes first, with an "… and N more" line. The findings
table is ordered most severe first so the cut drops the least important rows.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TextIO

from checker.model import BaseComparison, Finding, Location, Report, Severity, ToolError

MAX_ROWS = 200
FINDINGS_BUDGET = 40_000
SUPPRESSED_BUDGET = 8_000
ERRORS_BUDGET = 8_000
MAX_MESSAGE = 500

_ICON = {
    Severity.CRITICAL: "🔴",
    Severity.HIGH: "🟠",
    Severity.MEDIUM: "🟡",
    Severity.LOW: "🔵",
    Severity.INFO: "⚪",
}

# Characters that Markdown would read as formatting inside running text.
_MD_SPECIAL = re.compile(r"([\\`*_\[\]~|])")
_NEWLINES = re.compile(r"\r\n|\r|\n")
_BACKTICKS = re.compile(r"`+")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
"""Lone surrogates (a file name that is not UTF-8): shown as `\\udcff`, UTF-8 cannot carry
them."""


def write(report: Report, out: TextIO) -> None:
    out.write("\n".join(_lines(report)))
    out.write("\n")


def _lines(report: Report) -> list[str]:
    from checker.changes import is_from_base

    active = report.active_findings
    suppressed = [f for f in report.findings
                  if f.suppressed_by is not None and not is_from_base(f)]
    errors = sorted(report.errors, key=ToolError.sort_key)
    counts = report.count_by_severity()

    lines = ["## gitops-checker", ""]
    lines.append(_status(len(active), counts, len(errors)))
    lines.append("")
    if report.base is not None:
        lines += _comparison(report.base)
    lines.append(
        f"<sub>gitops-checker {_text(report.tool_version)} · {_plural(report.files, 'file')} · "
        f"{_plural(report.objects, 'object')} checked</sub>"
    )
    lines += ["", "| Severity | Findings |", "| --- | ---: |"]
    for severity in Severity:
        lines.append(f"| {_ICON[severity]} {severity.value} | {counts[severity.value]} |")
    if suppressed:
        lines.append(f"| suppressed | {len(suppressed)} |")

    if active:
        ordered = sorted(enumerate(active), key=lambda item: (-item[1].severity.rank, item[0]))
        lines += ["", "### Findings", ""]
        lines += ["| Severity | Rule | Resource | Location | Message |", "| --- | --- | --- | --- | --- |"]
        lines += _capped((_finding_row(f) for _, f in ordered), len(active), FINDINGS_BUDGET)

    if errors:
        lines += ["", "### Could not check", ""]
        lines += _capped((_error_item(e) for e in errors), len(errors), ERRORS_BUDGET)

    if suppressed:
        lines += ["", f"<details><summary>{_plural(len(suppressed), 'suppressed finding')}</summary>", ""]
        lines += ["| Rule | Resource | Location | Justification |", "| --- | --- | --- | --- |"]
        lines += _capped((_suppressed_row(f) for f in suppressed), len(suppressed), SUPPRESSED_BUDGET)
        lines += ["", "</details>"]
    return lines


def _comparison(base: BaseComparison) -> list[str]:
    lines = [(f"Compared with the merge base of {_code(base.ref)} ({_code(base.commit[:12])}): "
             f"**{base.new} new**, {len(base.fixed)} fixed, {base.unchanged} already there "
             "(not listed)."), ""]
    if base.base_errors:
        lines += [(f"⚠️ The base could not be fully checked ({len(base.base_errors)} "
                  "problem(s)): some findings may be reported as new that are not."), ""]
    if base.fixed:
        lines += [f"<details><summary>{_plural(len(base.fixed), 'fixed finding')}</summary>",
                  "", "| Rule | Resource | Location | Message |", "| --- | --- | --- | --- |"]
        lines += _capped((_row([f"{_code(f.rule_id)} {_text(f.rule_name)}",
                                _code(f.resource.display()) if f.resource else "—",
                                _where(f.location), _text(_shorten(f.message))])
                          for f in base.fixed), len(base.fixed), SUPPRESSED_BUDGET)
        lines += ["", "</details>", ""]
    return lines


def _status(active: int, counts: dict[str, int], errors: int) -> str:
    parts: list[str] = []
    if active:
        by_severity = ", ".join(f"{n} {name}" for name, n in counts.items() if n)
        parts.append(f"❌ **{_plural(active, 'finding')}**: {by_severity}.")
    if errors:
        noun = "problem" if errors == 1 else "problems"
        lead = "" if active else "❌ "
        parts.append(f"{lead}**{errors} {noun} left part of the input unchecked** (see *Could not check*).")
    if not parts:
        parts.append("✅ **No findings.**")
    return " ".join(parts)


def _finding_row(f: Finding) -> str:
    cells = [
        f"{_ICON[f.severity]} {f.severity.value}",
        f"{_code(f.rule_id)} {_text(f.rule_name)}",
        _code(f.resource.display()) if f.resource is not None else "—",
        _where(f.location),
        _text(_shorten(f.message)),
    ]
    return _row(cells)


def _suppressed_row(f: Finding) -> str:
    cells = [
        f"{_code(f.rule_id)} {_text(f.rule_name)}",
        _code(f.resource.display()) if f.resource is not None else "—",
        _where(f.location),
        _text(_shorten(f.suppressed_by or "")),
    ]
    return _row(cells)


def _error_item(error: ToolError) -> str:
    where = _where(Location(error.path, error.line), in_table=False)
    return f"- {where} **{_text(error.kind)}**: {_text(_shorten(error.message))}"


def _where(loc: Location, in_table: bool = True) -> str:
    if not loc.path:
        return "—"
    return _code(f"{loc.path}:{loc.line}" if loc.line is not None else loc.path, in_table)


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _capped(rows: Iterable[str], total: int, budget: int) -> list[str]:
    kept: list[str] = []
    used = 0
    for row in rows:
        if len(kept) >= MAX_ROWS or used + len(row) + 1 > budget:
            break
        kept.append(row)
        used += len(row) + 1
    if len(kept) < total:
        kept += ["", f"… and {total - len(kept)} more."]
    return kept


def _shorten(value: str) -> str:
    return value if len(value) <= MAX_MESSAGE else value[: MAX_MESSAGE - 1] + "…"


def _text(value: str) -> str:
    """Running text safe in a table cell: no HTML, no Markdown formatting, one line."""
    value = _visible_surrogates(value)
    value = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    value = _MD_SPECIAL.sub(r"\\\1", value)
    return _NEWLINES.sub("<br>", value)


def _code(value: str, in_table: bool = True) -> str:
    """A code span that survives backticks (and, in a table, pipes) in the value.

    The fence is one backtick longer than the longest run inside; in a table `|` still
    needs its backslash because GFM splits cells before it reads code spans.
    """
    value = _NEWLINES.sub(" ", _visible_surrogates(value))
    if in_table:
        value = value.replace("|", "\\|")
    longest = max((len(m.group()) for m in _BACKTICKS.finditer(value)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if value.startswith("`") or value.endswith("`") else ""
    return f"{fence}{pad}{value}{pad}{fence}"


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _visible_surrogates(value: str) -> str:
    return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", value)
