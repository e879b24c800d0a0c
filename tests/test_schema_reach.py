"""Built-in kinds validated against only the definitions their schema reaches (kept in a
cache between runs) judge exactly as against all definitions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from checker.cache import JsonCache
from checker.config import Config
from checker.model import Report
from checker.pipeline import run_check
from checker.schema import SchemaSource, reached_definitions

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures"
ESTATES = [FIXTURES / name for name in (
    "unknown-field", "wrong-type", "valid-deployment", "yaml11-boolean-label",
    "yaml11-octal-string", "removed-api", "multi-document", "kind-list")] + \
    [REPO / "fixtures" / "estates" / "odoo-finance"]


def _schema_findings(report: Report) -> list[tuple[str, str | None, int | None, str]]:
    return [(f.rule_id, f.location.path, f.location.line, f.message)
            for f in report.findings if f.rule_id.startswith("SCH")]


@pytest.mark.parametrize("estate", ESTATES, ids=lambda p: p.name)
def test_reached_definitions_judge_as_all_definitions(estate: Path, tmp_path: Path) -> None:
    cache = JsonCache(tmp_path)
    config = Config(bundled_packs=False)
    plain = run_check([str(estate)], root=estate, config=config, with_rules=False)
    for _ in ("cold", "warm"):
        reduced = run_check([str(estate)], root=estate, config=config, with_rules=False,
                            derived_cache=cache)
        assert _schema_findings(reduced.report) == _schema_findings(plain.report)
        assert reduced.report.errors == plain.report.errors
    if estate.name != "removed-api":  # (only APIs no version serves: no schema to reach)
        assert list(tmp_path.glob("*.json")), "nothing was kept"


def _invalid_deployment() -> dict[str, object]:
    """Errors deep in the pod template: only the transitively reached definitions see them."""
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "d", "namespace": "n", "labels": {"a": 1}},
            "spec": {"selector": {"matchLabels": {"a": "b"}}, "template": {
                "metadata": {"labels": {"a": "b"}},
                "spec": {"containers": [{"name": "c", "image": "i", "imagePullPolicy": 3,
                                         "resources": {"limits": {"cpu": []}},
                                         "securityContext": {"capabilities": {"add": "X"}},
                                         "bogus": True}]}}}}


def _messages(source: SchemaSource, obj: dict[str, object]) -> list[str]:
    validator = source.validator("apps", "v1", "Deployment")
    return sorted(str(error) for error in validator.iter_errors(obj))


def test_a_warm_cache_reads_no_other_definition(tmp_path: Path) -> None:
    cache = JsonCache(tmp_path)
    expected = _messages(SchemaSource(), _invalid_deployment())
    assert len(expected) >= 4
    assert _messages(SchemaSource(reach_cache=cache), _invalid_deployment()) == expected
    warm = SchemaSource(reach_cache=cache)
    assert _messages(warm, _invalid_deployment()) == expected
    assert "_definitions_document" not in warm.__dict__  # the 1.8 MB file was not read


def test_a_damaged_entry_is_made_again(tmp_path: Path) -> None:
    cache = JsonCache(tmp_path)
    expected = _messages(SchemaSource(reach_cache=cache), _invalid_deployment())
    for entry in tmp_path.glob("*.json"):
        entry.write_text(json.dumps({"$id": 1}), encoding="utf-8")
    assert _messages(SchemaSource(reach_cache=cache), _invalid_deployment()) == expected
    for entry in tmp_path.glob("*.json"):
        entry.write_bytes(b"\xff not json")
    assert _messages(SchemaSource(reach_cache=cache), _invalid_deployment()) == expected
    kept = [json.loads(p.read_text(encoding="utf-8")) for p in tmp_path.glob("*.json")]
    assert kept and all("io.k8s.api.core.v1.PodSpec" in k["$defs"] for k in kept)


def test_reached_definitions_follow_references_transitively() -> None:
    definitions = {
        "a": {"properties": {"b": {"$ref": "#/$defs/b"}}},
        "b": {"items": [{"$ref": "/api/_definitions.json#/$defs/c"}]},
        "c": {"type": "string"},
        "d": {"$ref": "#/$defs/a"},  # refers into the reached set, not reached itself
        "self": {"properties": {"again": {"$ref": "#/$defs/self"}}},
    }
    schema = {"properties": {"x": {"$ref": "/api/_definitions.json#/$defs/a"},
                             "y": {"allOf": [{"$ref": "#/$defs/self"}, {"$ref": "#/$defs/none"}]}}}
    assert sorted(reached_definitions(schema, definitions)) == ["a", "b", "c", "self"]
