"""Reporters: one module per output format, each a `write(report, out)` function."""

from __future__ import annotations

from typing import Protocol, TextIO

from checker.model import Report
from checker.report import github, json_report, junit, markdown, sarif, text


class Reporter(Protocol):
    def __call__(self, report: Report, out: TextIO, /) -> None: ...


REPORTERS: dict[str, Reporter] = {
    "text": text.write,
    "json": json_report.write,
    "sarif": sarif.write,
    "junit": junit.write,
    "github": github.write,
    "markdown": markdown.write,
}


def reporter(name: str) -> Reporter:
    try:
        return REPORTERS[name]
    except KeyError:
        raise KeyError(
            f"unknown format {name!r}; expected one of {', '.join(REPORTERS)}") from None
