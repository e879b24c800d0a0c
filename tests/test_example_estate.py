"""The bundled example estate, fixtures/estates/odoo-finance, checked by the real CLI.

The estate's README is the specification: its "Deliberate violations" table lists every
active finding the checker must report (rule, file, object) and its "Accepted risks" table
every suppressed one. The test reads both tables, so README and checker cannot drift apart,
and checks the summary line the README quotes. The clean variant (the estate with `.clean/`
laid over it) must have no active finding at medium or above, and pass `--fail-on medium`.

A file cell may name a second file: "`chart/templates/hpa.yaml` (value: `chart/values.yaml`)"
for a finding reported in a Helm template whose value is set elsewhere. The finding is
expected in the first file; the `# DELIBERATE:` comment and the fix in `.clean/` are in the
second, the file a person edits.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from functools import cache
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
ESTATE = REPO_ROOT / "fixtures" / "estates" / "odoo-finance"
README = ESTATE / "README.md"

pytestmark = pytest.mark.slow

Row = tuple[str, str, str]
"""(rule id, file relative to the estate, object as Kind/namespace/name or Kind/name)."""


def _run(path: Path, *extra: str) -> tuple[int, dict[str, Any], str]:
    """`gitops-checker check PATH --format json …` in a subprocess: exit code, report,
    stderr."""
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "NO_COLOR")}
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p)
    proc = subprocess.run(
        [sys.executable, "-m", "checker", "check", str(path), "--format", "json",
         "--no-progress", *extra],
        cwd=REPO_ROOT, capture_output=True, timeout=300, env=env, check=False)
    stderr = proc.stderr.decode("utf-8", errors="replace")
    assert "Traceback" not in stderr, stderr
    assert proc.stdout, f"no JSON on stdout (exit {proc.returncode}); stderr:\n{stderr}"
    return proc.returncode, json.loads(proc.stdout), stderr


@cache
def estate_run() -> tuple[int, dict[str, Any], str]:
    return _run(ESTATE)


def clean_run(tmp: Path) -> tuple[int, dict[str, Any], str]:
    """The estate copied under `tmp` with `.clean/` laid over it (and the files listed in
    `.clean/DELETE` removed), checked with `--fail-on medium`."""
    estate = tmp / "odoo-finance"
    shutil.copytree(ESTATE, estate)
    clean = estate / ".clean"
    for item in clean.rglob("*"):
        if item.is_file() and item.relative_to(clean).as_posix() != "DELETE":
            target = estate / item.relative_to(clean)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(item, target)
    deletions = clean / "DELETE"
    if deletions.is_file():
        for line in deletions.read_text(encoding="utf-8").splitlines():
            name = line.split("#", 1)[0].strip()
            if name:
                (estate / name).unlink()
    shutil.rmtree(clean)
    return _run(estate, "--fail-on", "medium")


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, dict[str, Any], str]:
    return clean_run(tmp_path_factory.mktemp("clean-estate"))


def readme_rows(heading: str) -> list[tuple[str, str, str, str]]:
    """(rule, file, object, edited file) of the table under `## heading` in the README: the
    edited file is the second file the file cell names, else the file itself."""
    text = README.read_text(encoding="utf-8")
    section = text.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("|")]
    header = [cell.strip() for cell in rows[0].strip("|").split("|")]
    assert header[:3] == ["rule", "file", "object"], header
    assert set(rows[1].replace("|", "").strip()) <= {"-", " "}, rows[1]
    found = []
    for line in rows[2:]:
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        files = re.findall(r"`([^`]+)`", cells[1]) or [cells[1]]
        assert len(files) <= 2, cells[1]
        found.append((cells[0].strip("`"), files[0], cells[2].strip("`"), files[-1]))
    assert found, f"empty table under {heading}"
    return found


def readme_table(heading: str) -> list[Row]:
    """The (rule, file, object) columns of the table under `## heading` in the README."""
    return [(rule, path, obj) for rule, path, obj, _ in readme_rows(heading)]


def rows_of(report: dict[str, Any], *, suppressed: bool) -> list[Row]:
    rows = []
    for finding in report["findings"]:
        if (finding["suppressed_by"] is not None) != suppressed:
            continue
        resource = finding["resource"] or {}
        name = "/".join(part for part in (resource.get("kind"), resource.get("namespace"),
                                          resource.get("name")) if part)
        rows.append((finding["rule_id"], finding["location"]["path"], name))
    return rows


def test_readme_lists_exactly_the_active_findings() -> None:
    _, report, _ = estate_run()
    expected = readme_table("Deliberate violations")
    assert Counter(rows_of(report, suppressed=False)) == Counter(expected)


def test_readme_lists_exactly_the_accepted_risks() -> None:
    _, report, _ = estate_run()
    expected = readme_table("Accepted risks")
    assert Counter(rows_of(report, suppressed=True)) == Counter(expected)
    assert all(f["suppressed_by"].strip() for f in report["findings"]
               if f["suppressed_by"] is not None)


def test_every_deliberate_violation_is_marked_in_its_file() -> None:
    for rule, _, _, path in readme_rows("Deliberate violations"):
        text = (ESTATE / path).read_text(encoding="utf-8")
        assert f"# DELIBERATE: {rule} " in text, f"{path} has no DELIBERATE comment for {rule}"
        clean = ESTATE / ".clean" / path
        assert clean.is_file(), f".clean/{path} is missing"
        assert "DELIBERATE" not in clean.read_text(encoding="utf-8")


def test_summary_line_quoted_by_the_readme() -> None:
    _, report, _ = estate_run()
    text = README.read_text(encoding="utf-8")
    match = re.search(r"^(\d+) files, (\d+) objects: (\d+) findings \([^)]*\), (\d+) suppressed$",
                      text, re.MULTILINE)
    assert match, "the README quotes no summary line"
    summary = report["summary"]
    assert (summary["files"], summary["objects"], summary["findings"],
            summary["suppressed"]) == tuple(int(g) for g in match.groups())


def test_estate_fails_the_run_without_errors() -> None:
    code, report, stderr = estate_run()
    assert report["errors"] == [], report["errors"]
    assert code == 1, stderr


SEVERITIES = ("info", "low", "medium", "high", "critical")


def test_clean_variant_has_no_finding_from_medium_up(
        clean: tuple[int, dict[str, Any], str]) -> None:
    code, report, stderr = clean
    assert report["errors"] == [], report["errors"]
    active = [f for f in report["findings"] if f["suppressed_by"] is None
              and SEVERITIES.index(f["severity"]) >= SEVERITIES.index("medium")]
    assert active == [], [(f["rule_id"], f["location"]["path"], f["message"]) for f in active]
    assert code == 0, stderr


def test_clean_variant_keeps_only_the_accepted_risks(
        clean: tuple[int, dict[str, Any], str]) -> None:
    _, report, _ = clean
    assert Counter(rows_of(report, suppressed=True)) == Counter(readme_table("Accepted risks"))
