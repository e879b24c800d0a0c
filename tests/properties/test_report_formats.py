"""Report properties: every format renders any report, and says only what it should.

Reports are generated directly (tests/properties/strategies.py `reports`): findings and
errors whose every text may hold anything, control characters, line breaks, markup, lone
surrogates (what a non-UTF-8 file name becomes) included. The invariants are in
report_checks.py.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import os
from pathlib import Path

from hypothesis import given

from checker.cli import main
from checker.model import Report
from checker.report import REPORTERS
from tests.properties.profile import examples
from tests.properties.report_checks import check_all_formats
from tests.properties.strategies import reports


@examples(150)
@given(report=reports())
def test_every_format_renders_any_report(report: Report) -> None:
    check_all_formats(report)


@examples(50)
@given(report=reports())
def test_output_does_not_depend_on_the_order_rules_were_collected_in(report: Report) -> None:
    reordered = dataclasses.replace(report, rules=dict(reversed(list(report.rules.items()))))
    assert check_all_formats(report) == check_all_formats(reordered)


def test_a_file_name_that_is_not_utf8_is_reported_in_every_format(tmp_path: Path) -> None:
    """Found by the property above (lone surrogates): such a name is read with
    `surrogateescape`, and every format crashed with an internal error (exit 2) when it
    was written to a file; SARIF also crashed on standard output."""
    estate = tmp_path / "estate"
    estate.mkdir()
    name = os.path.join(os.fsencode(estate), b"bad\xff.yaml")
    with open(name, "wb") as handle:
        handle.write(b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n"
                     b"  labels:\n    x: 1\n")
    outputs = {fmt: tmp_path / f"report.{fmt}" for fmt in REPORTERS}
    args = [arg for fmt, path in outputs.items() for arg in ("--format", f"{fmt}={path}")]
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(["check", str(estate), "--no-progress", *args])
    assert code == 1, err.getvalue()
    texts = {fmt: path.read_bytes().decode("utf-8") for fmt, path in outputs.items()}
    [result] = json.loads(texts["sarif"])["runs"][0]["results"]
    assert result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == \
        "bad%FF.yaml"
    assert json.loads(texts["json"])["findings"][0]["location"]["path"] == "bad\udcff.yaml"
    assert "bad\\udcff.yaml\n" in texts["text"]
