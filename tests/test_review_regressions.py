"""Regressions for problems found in review: each one once hid findings, leaked or crashed."""

from __future__ import annotations

import dataclasses
import io
import os
from pathlib import Path

import pytest

from checker.config import Config
from checker.errors import ConfigError
from checker.findings import RuleSettings
from checker.model import Severity
from checker.pipeline import run_check
from checker.report import json_report, text

CONFIGMAP = "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}}}\ndata: {{a: 1}}\n"


def check(root: Path, config: Config | None = None):  # type: ignore[no-untyped-def]
    """The reading and schema stages alone (the bundled packs are tested on the estates)."""
    config = dataclasses.replace(config or Config(), bundled_packs=False)
    return run_check([str(root)], root=root, config=config).report


def outputs(report) -> str:  # type: ignore[no-untyped-def]
    buffers = []
    for module in (json_report, text):
        buffer = io.StringIO()
        module.write(report, buffer)
        buffers.append(buffer.getvalue())
    return "\n".join(buffers)


def test_octal_digits_in_a_secret_never_reach_any_output(tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text(
        "apiVersion: v1\nkind: Secret\nmetadata: {name: pin}\n"
        "stringData: {pin: 0731, flag: on}\n")
    report = check(tmp_path)
    assert {f.rule_id for f in report.findings} == {"SCH003"}
    rendered = outputs(report)
    assert "0731" not in rendered and "473" not in rendered  # 0731 octal is 473


def test_one_object_the_validator_cannot_handle_hides_nothing(tmp_path: Path) -> None:
    deep = "data:\n  k: " + "{a: " * 300 + "1" + "}" * 300 + "\n"
    (tmp_path / "a-deep.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: deep}\n" + deep)
    (tmp_path / "b.yaml").write_text(CONFIGMAP.format(name="b"))
    report = check(tmp_path)
    assert any(f.location.path == "b.yaml" for f in report.findings)
    assert report.exit_code(Severity.HIGH) == 2
    assert [e.kind for e in report.errors] == ["schema-engine"]


def test_broken_crd_in_the_estate_is_reported_against_the_crd(tmp_path: Path) -> None:
    (tmp_path / "crd.yaml").write_text(
        "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\n"
        "metadata: {name: widgets.example.com}\nspec:\n  group: example.com\n"
        "  names: {kind: Widget, plural: widgets}\n  scope: Namespaced\n  versions:\n"
        "    - name: v1\n      served: true\n      storage: true\n      schema:\n"
        "        openAPIV3Schema: {type: object, properties: {spec: {type: object, "
        "properties: {n: {type: string, pattern: '(['}}}}}\n")
    (tmp_path / "w.yaml").write_text("apiVersion: example.com/v1\nkind: Widget\n"
                                     "metadata: {name: w}\nspec: {n: x}\n")
    (tmp_path / "z.yaml").write_text(CONFIGMAP.format(name="z"))
    report = check(tmp_path)
    assert [e.kind for e in report.errors] == ["crd"] and report.errors[0].path == "crd.yaml"
    assert any(f.location.path == "z.yaml" for f in report.findings)


@pytest.mark.parametrize("kind", ["Affinity", "Container", "../../../../etc/passwd", "K" * 300])
def test_definitions_and_odd_kinds_are_not_top_level_kinds(tmp_path: Path, kind: str) -> None:
    (tmp_path / "a.yaml").write_text(f"apiVersion: v1\nkind: {kind!r}\nmetadata: {{name: x}}\n")
    report = check(tmp_path)
    assert [f.rule_id for f in report.findings] == ["SCH005"] and not report.errors


def test_misspelled_builtin_kind_is_high(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("apiVersion: apps/v1\nkind: Deploymnet\nmetadata: {name: x}\n")
    (finding,) = check(tmp_path).findings
    assert (finding.rule_id, finding.severity.value) == ("SCH005", "high")


def test_misspelled_identity_keys_are_errors_not_skipped(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("apiversion: apps/v1\nkind: Deployment\nmetadata: {name: x}\n")
    report = check(tmp_path)
    (error,) = report.errors
    assert error.kind == "not-an-object" and "'apiversion'" in error.message


def test_control_character_hides_only_its_own_document(tmp_path: Path) -> None:
    docs = [CONFIGMAP.format(name=f"c{i}") for i in range(4)]
    docs[2] = docs[2].replace("{a: 1}", '{a: "\x01"}')
    (tmp_path / "a.yaml").write_text("---\n".join(docs))
    report = check(tmp_path)
    assert sorted(f.resource.name for f in report.findings if f.resource) == ["c0", "c1", "c3"]
    (error,) = report.errors
    assert error.line == 14  # the line of the bad character


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_special_files_are_not_read(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.yaml")
    (tmp_path / "zero.yaml").symlink_to("/dev/zero")
    (tmp_path / "ok.yaml").write_text(CONFIGMAP.format(name="ok"))
    report = check(tmp_path)
    assert {(e.path, e.message) for e in report.errors} == {
        ("pipe.yaml", "not a regular file"), ("zero.yaml", "not a regular file")}
    assert len(report.findings) == 1


def test_same_object_in_two_files_gets_two_fingerprints(tmp_path: Path) -> None:
    for env in ("prod", "staging"):
        (tmp_path / env).mkdir()
        (tmp_path / env / "cm.yaml").write_text(CONFIGMAP.format(name="app"))
    first, second = check(tmp_path).findings
    assert first.fingerprint != second.fingerprint


def test_unknown_rule_in_config_is_loud(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown rule NOPE.*SCH001"):
        check(tmp_path, Config(rules={"NOPE": RuleSettings()}))


def test_control_characters_in_names_are_shown_escaped(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(
        'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: "x\\e[2Jy"}\ndata: {a: 1}\n')
    buffer = io.StringIO()
    text.write(check(tmp_path), buffer)
    assert "\x1b" not in buffer.getvalue() and "x\\x1b[2Jy" in buffer.getvalue()


def test_missing_crd_path_is_one_error(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(CONFIGMAP.format(name="a"))
    report = check(tmp_path, Config(crds=("platform/crds",)))
    assert [(e.kind, e.message) for e in report.errors] == [
        ("config", "CRD path 'platform/crds' (config `crds`) does not exist")]
