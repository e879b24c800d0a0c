"""The JSON report contract: schemas/report.schema.json, and byte-for-byte determinism."""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import io
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from checker.cli import main
from checker.model import CATEGORIES, ENGINES, Report, Severity, ToolError
from checker.report import json_report
from tests.report.conftest import build_empty_report, build_escaping_report, build_sample_report

REPO_ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SCHEMA_PATH = REPO_ROOT / "schemas" / "report.schema.json"

NO_REPORT = {"bad-config"}
"""Fixtures whose run stops before any report is written (exit 2 with a message)."""
CRASHES: dict[str, str] = {}
"""Fixtures that hit a known bug (xfail, strict): none at the moment."""


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return data


@pytest.fixture(scope="module")
def validator(schema: dict[str, Any]) -> jsonschema.Draft202012Validator:
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def _problems(validator: jsonschema.Draft202012Validator, instance: Any) -> list[str]:
    errors = sorted(validator.iter_errors(instance), key=lambda e: list(map(str, e.absolute_path)))
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors]


def _with_fingerprints(report: Report) -> Report:
    """The reporter fixtures use short fingerprints; the pipeline makes 32 hex digits."""
    findings = tuple(
        dataclasses.replace(f, fingerprint=hashlib.sha256(f.fingerprint.encode()).hexdigest()[:32])
        for f in report.findings)
    return dataclasses.replace(report, findings=findings)


def _report_dict(report: Report) -> dict[str, Any]:
    buffer = io.StringIO()
    json_report.write(report, buffer)
    data: dict[str, Any] = json.loads(buffer.getvalue())
    return data


# ----------------------------------------------------------------- the schema itself


def _schemas_with_properties(node: Any, where: str = "#") -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        if isinstance(node.get("properties"), dict):
            yield where, node
        for key, value in node.items():
            yield from _schemas_with_properties(value, f"{where}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _schemas_with_properties(value, f"{where}/{i}")


def test_every_property_and_definition_is_described(schema: dict[str, Any]) -> None:
    undescribed = [f"{where}/properties/{name}"
                   for where, node in _schemas_with_properties(schema)
                   for name, sub in node["properties"].items()
                   if not str(sub.get("description", "")).strip()]
    undescribed += [f"#/$defs/{name}" for name, sub in schema["$defs"].items()
                    if not sub.get("description")]
    assert not undescribed


def test_contract_levels_are_closed_but_details_is_open(schema: dict[str, Any]) -> None:
    open_objects = []
    for where, node in _schemas_with_properties(schema):
        if node.get("additionalProperties") is not False:
            open_objects.append(where)
    assert open_objects == []
    details = schema["$defs"]["finding"]["properties"]["details"]
    assert details.get("additionalProperties", True) is True and "properties" not in details


def test_enums_match_the_model(schema: dict[str, Any]) -> None:
    defs = schema["$defs"]
    assert defs["severity"]["enum"] == [s.value for s in Severity]
    category = re.compile(defs["category"]["pattern"])
    for name in CATEGORIES:  # built-in categories are valid and documented in the contract
        assert category.fullmatch(name) and name in defs["category"]["description"]
    assert defs["engine"]["enum"] == list(ENGINES)
    by_severity = schema["properties"]["summary"]["properties"]["by_severity"]
    assert list(by_severity["properties"]) == [s.value for s in Severity]
    assert by_severity["required"] == [s.value for s in Severity]
    assert schema["properties"]["schema_version"]["const"] == json_report.SCHEMA_VERSION


def test_required_lists_every_property(schema: dict[str, Any]) -> None:
    for where, node in _schemas_with_properties(schema):
        assert sorted(node.get("required", [])) == sorted(node["properties"]), where


# ------------------------------------------------------------ reports from the model


@pytest.mark.parametrize("build", [build_sample_report, build_empty_report, build_escaping_report])
def test_reporter_fixtures_are_valid(build: Any, validator: jsonschema.Draft202012Validator) -> None:
    assert _problems(validator, _report_dict(_with_fingerprints(build()))) == []


def test_nulls_where_the_contract_allows_them(validator: jsonschema.Draft202012Validator) -> None:
    report = _with_fingerprints(build_sample_report())
    no_file = dataclasses.replace(report.findings[0], resource=None, location=dataclasses.replace(
        report.findings[0].location, path=None, line=None, column=None, pointer=""))
    report = dataclasses.replace(report, findings=(no_file, *report.findings[1:]),
                                 errors=(ToolError("config", "CRD path 'x' does not exist"),))
    data = _report_dict(report)
    assert data["findings"][0]["resource"] is None
    assert data["errors"][0] == {"path": None, "line": None, "kind": "config",
                                 "message": "CRD path 'x' does not exist"}
    assert _problems(validator, data) == []


def _mutations() -> Iterator[tuple[str, Any]]:
    def finding(key: str, value: Any) -> Any:
        return lambda d: d["findings"][0].__setitem__(key, value)

    def location(key: str, value: Any) -> Any:
        return lambda d: d["findings"][0]["location"].__setitem__(key, value)

    yield "extra top-level key", lambda d: d.__setitem__("generated_at", "2024-01-01")
    yield "schema_version 2", lambda d: d.__setitem__("schema_version", 2)
    yield "extra tool key", lambda d: d["tool"].__setitem__("url", "x")
    yield "missing severity count", lambda d: d["summary"]["by_severity"].pop("info")
    yield "extra severity count", lambda d: d["summary"]["by_severity"].__setitem__("fatal", 0)
    yield "negative count", lambda d: d["summary"].__setitem__("files", -1)
    yield "extra finding key", finding("url", "x")
    yield "missing finding key", lambda d: d["findings"][0].pop("details")
    yield "unknown severity", finding("severity", "fatal")
    yield "malformed category", finding("category", "Not A Slug")
    yield "unknown engine", finding("engine", "cel")
    yield "short fingerprint", finding("fingerprint", "abcdef")
    yield "uppercase fingerprint", finding("fingerprint", "A" * 32)
    yield "details not an object", finding("details", [])
    yield "extra resource key", lambda d: d["findings"][0]["resource"].__setitem__("uid", "x")
    yield "line 0", location("line", 0)
    yield "column 0", location("column", 0)
    yield "line as string", location("line", "18")
    yield "pointer without slash", location("pointer", "spec/replicas")
    yield "bad pointer escape", location("pointer", "/a~2b")
    yield "extra location key", location("uri", "x")
    yield "extra error key", lambda d: d["errors"][0].__setitem__("column", 3)
    yield "error line 0", lambda d: d["errors"][0].__setitem__("line", 0)
    yield "error kind with spaces", lambda d: d["errors"][0].__setitem__("kind", "bad kind")


@pytest.mark.parametrize("name, mutate", list(_mutations()), ids=[n for n, _ in _mutations()])
def test_schema_rejects(name: str, mutate: Any, validator: jsonschema.Draft202012Validator) -> None:
    data = copy.deepcopy(_report_dict(_with_fingerprints(build_sample_report())))
    mutate(data)
    assert _problems(validator, data), f"{name} was accepted"


def test_details_accepts_any_keys(validator: jsonschema.Draft202012Validator) -> None:
    data = _report_dict(_with_fingerprints(build_sample_report()))
    data["findings"][0]["details"] = {"anything": [1, {"nested": None}], "baseline_state": "new"}
    assert _problems(validator, data) == []


# ------------------------------------------------------------- reports from the CLI


def _scenarios() -> list[Any]:
    params = []
    for path in sorted(p for p in FIXTURES.iterdir() if p.is_dir()):
        if path.name in NO_REPORT:
            continue
        marks = [pytest.mark.xfail(strict=True, reason=CRASHES[path.name])] \
            if path.name in CRASHES else []
        params.append(pytest.param(path.name, marks=marks, id=path.name))
    return params


@pytest.mark.parametrize("scenario", _scenarios())
def test_cli_json_is_valid(scenario: str, validator: jsonschema.Draft202012Validator,
                           capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["check", str(FIXTURES / scenario), "--format", "json", "--no-progress"])
    out, err = capsys.readouterr()
    assert "internal error" not in err, err
    data = json.loads(out)
    assert _problems(validator, data) == []
    assert (code == 2) if data["errors"] else (code in (0, 1))


# ---------------------------------------------------------------------- determinism


def _run_all_formats(out_dir: Path, paths: list[str], hash_seed: str) -> dict[str, bytes]:
    out_dir.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "NO_COLOR")}
    env["PYTHONHASHSEED"] = hash_seed
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH")) if p)
    proc = subprocess.run(
        [sys.executable, "-m", "checker", "check", "--root", str(FIXTURES), *paths,
         "--format", f"json={out_dir / 'report.json'}",
         "--format", f"sarif={out_dir / 'report.sarif'}",
         "--format", f"text={out_dir / 'report.txt'}"],
        cwd=out_dir, capture_output=True, env=env, timeout=120, check=False)
    assert proc.returncode == 2, proc.stderr.decode()  # the estate has unreadable inputs
    assert b"Traceback" not in proc.stderr
    return {name: (out_dir / name).read_bytes()
            for name in ("report.json", "report.sarif", "report.txt")}


def test_same_input_gives_byte_identical_reports(tmp_path: Path) -> None:
    paths = [str(p) for p in sorted(FIXTURES.iterdir())
             if p.is_dir() and p.name not in CRASHES]
    first = _run_all_formats(tmp_path / "first", paths, hash_seed="0")
    second = _run_all_formats(tmp_path / "second", list(reversed(paths)), hash_seed="4242")
    report = json.loads(first["report.json"])
    assert report["summary"]["findings"] >= 20 and report["summary"]["errors"] >= 5
    for name in first:
        assert first[name] == second[name], f"{name} differs between runs"
