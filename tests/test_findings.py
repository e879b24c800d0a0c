"""Stamping: identity, severity overrides, fingerprints and in-object suppressions."""

from __future__ import annotations

import datetime as dt
from typing import Any

from checker.findings import RuleSettings, Stamper, fingerprint
from checker.model import Location, Manifest, Resource, RuleInfo, Severity, Violation

RULE = RuleInfo("SCH002", "unknown-field", Severity.HIGH, "schema", "d", "schema")


def manifest(annotations: dict[str, str] | None = None, path: str = "a.yaml",
             line: int = 1) -> Manifest:
    obj: dict[str, Any] = {"apiVersion": "apps/v1", "kind": "Deployment",
                           "metadata": {"name": "web", "namespace": "erp"}}
    if annotations:
        obj["metadata"]["annotations"] = annotations
    return Manifest(Resource("apps/v1", "Deployment", "erp", "web"), obj,
                    Location(path, line), 0)


def stamper(**settings: RuleSettings) -> Stamper:
    return Stamper(position=lambda m, p: (m.location.line + 5, 3), settings=settings,
                   today=dt.date(2026, 11, 27))


def test_stamp_fills_identity_location_and_pointer() -> None:
    finding = stamper().stamp(RULE, Violation("unknown field", "/spec/x"), manifest())
    assert (finding.rule_id, finding.rule_name, finding.severity, finding.engine) == (
        "SCH002", "unknown-field", Severity.HIGH, "schema")
    assert finding.location == Location("a.yaml", 6, 3, "/spec/x")
    assert finding.suppressed_by is None


def test_severity_override_from_config() -> None:
    finding = stamper(SCH002=RuleSettings(severity=Severity.LOW)).stamp(
        RULE, Violation("m"), manifest())
    assert finding.severity is Severity.LOW


def test_fingerprint_survives_line_shifts_and_moves_but_not_other_fields() -> None:
    a = stamper().stamp(RULE, Violation("m", "/spec/x"), manifest(path="a.yaml", line=1))
    b = stamper().stamp(RULE, Violation("m", "/spec/x"), manifest(path="moved/b.yaml", line=40))
    c = stamper().stamp(RULE, Violation("m", "/spec/y"), manifest())
    assert a.fingerprint == b.fingerprint != c.fingerprint
    assert fingerprint("X", None, "", "m", "f.yaml") != fingerprint("X", None, "", "m", "g.yaml")


def test_suppression_needs_a_reason_and_honours_the_date() -> None:
    s = stamper()
    with_reason = manifest({"gitops-checker.io/ignore": "SCH001, SCH002",
                            "gitops-checker.io/ignore-reason": "webhook adds it"})
    assert s.stamp(RULE, Violation("m"), with_reason).suppressed_by == "annotation: webhook adds it"
    by_name = manifest({"gitops-checker.io/ignore": "unknown-field",
                        "gitops-checker.io/ignore-reason": "r"})
    assert s.stamp(RULE, Violation("m"), by_name).suppressed_by == "annotation: r"
    no_reason = manifest({"gitops-checker.io/ignore": "SCH002"})
    assert s.stamp(RULE, Violation("m"), no_reason).suppressed_by is None
    other_rule = manifest({"gitops-checker.io/ignore": "SCH001",
                           "gitops-checker.io/ignore-reason": "r"})
    assert s.stamp(RULE, Violation("m"), other_rule).suppressed_by is None
    expired = manifest({"gitops-checker.io/ignore": "SCH002", "gitops-checker.io/ignore-reason": "r",
                        "gitops-checker.io/ignore-until": "2026-11-26"})
    assert s.stamp(RULE, Violation("m"), expired).suppressed_by is None
    current = manifest({"gitops-checker.io/ignore": "SCH002", "gitops-checker.io/ignore-reason": "r",
                        "gitops-checker.io/ignore-until": "2026-11-27"})
    assert s.stamp(RULE, Violation("m"), current).suppressed_by == "annotation until 2026-11-27: r"
