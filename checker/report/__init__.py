"""Reporters: one module per output format, each a `write(report, out)` function."""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from typing import ClassVar, Protocol, TextIO

from checker.model import Report


class Reporter(Protocol):
    def __call__(self, report: Report, out: TextIO, /) -> None: ...


class _Reporters(Mapping[str, Reporter]):
    """Format name → writer, each module imported when its format is asked for (the text
    format alone pulls in rich: a pre-commit hook writing JSON need not load it)."""

    _MODULES: ClassVar[dict[str, str]] = {"text": "text", "json": "json_report", "sarif": "sarif", "junit": "junit",
                                          "github": "github", "markdown": "markdown"}

    def __getitem__(self, name: str) -> Reporter:
        module = importlib.import_module(f"checker.report.{self._MODULES[name]}")
        writer: Reporter = module.write
        return writer

    def __iter__(self) -> Iterator[str]:
        return iter(self._MODULES)

    def __len__(self) -> int:
        return len(self._MODULES)


REPORTERS: Mapping[str, Reporter] = _Reporters()


def reporter(name: str) -> Reporter:
    try:
        return REPORTERS[name]
    except KeyError:
        raise KeyError(
            f"unknown format {name!r}; expected one of {', '.join(REPORTERS)}") from None
