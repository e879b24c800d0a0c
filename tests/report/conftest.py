"""Shared reports and helpers for the reporter tests.

Golden files live in `golden/<format>/<case>.<ext>` and are compared byte for byte.
Run with `UPDATE_GOLDEN=1` to rewrite them after an intended output change, then review
the diff before committing.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

from checker.model import (
    Finding,
    Location,
    Report,
    Resource,
    RuleInfo,
    Severity,
    ToolError,
)

GOLDEN_DIR = Path(__file__).parent / "golden"
DATA_DIR = Path(__file__).parent.parent / "data"
TOOL_VERSION = "0.1.0-test"

Render = Callable[[ModuleType, Report], str]
Golden = Callable[[str, str], None]


def _rules(*rules: RuleInfo) -> dict[str, RuleInfo]:
    return {rule.id: rule for rule in rules}


def _sorted(findings: list[Finding]) -> tuple[Finding, ...]:
    # The pipeline hands reporters sorted findings; the fixtures honour that contract.
    return tuple(sorted(findings, key=Finding.sort_key))


RULE_PRIVILEGED = RuleInfo(
    id="SEC001", name="no-privileged-containers", severity=Severity.CRITICAL, category="security",
    description="Containers must not run privileged: a privileged container owns the node.",
    engine="rego", remediation="Remove securityContext.privileged or set it to false.",
    help_uri="https://example.invalid/rules/SEC001",
)
RULE_TLS = RuleInfo(
    id="TLS001", name="ingress-requires-tls", severity=Severity.HIGH, category="tls",
    description="Every Ingress host must be covered by a TLS entry.", engine="python",
    remediation="Add a spec.tls entry naming a certificate Secret for each host.",
)
RULE_CPU = RuleInfo(
    id="RES001", name="cpu-limits-set", severity=Severity.MEDIUM, category="resources",
    description="Containers should declare CPU requests and limits.", engine="rego",
    remediation="Set resources.requests.cpu and resources.limits.cpu.",
)
RULE_PDB = RuleInfo(
    id="AVL001", name="pdb-for-multi-replica", severity=Severity.LOW, category="availability",
    description="Deployments with more than one replica should have a PodDisruptionBudget.",
    engine="python", remediation="Add a PodDisruptionBudget selecting the pods.",
)
RULE_DUPLICATE = RuleInfo(
    id="SCH002", name="duplicate-document", severity=Severity.INFO, category="schema",
    description="A YAML document repeats an earlier one in the same file.", engine="schema",
)

API = Resource("apps/v1", "Deployment", "payments", "api")
INGRESS = Resource("networking.k8s.io/v1", "Ingress", "web", "frontend")


def build_sample_report() -> Report:
    """Two files, all severities, one suppressed, one without a line, one without a
    resource, and one file that could not be parsed."""
    deployment = "apps/api/deployment.yaml"
    ingress = "apps/web/ingress.yaml"
    findings = [
        Finding(
            rule_id="SEC001", rule_name=RULE_PRIVILEGED.name, severity=Severity.CRITICAL,
            category="security", message="container 'api' runs privileged", resource=API,
            location=Location(deployment, 18, 11, "/spec/template/spec/containers/0/securityContext/privileged"),
            engine="rego", fingerprint="0f3c9a1e5b7d2468",
        ),
        Finding(
            rule_id="RES001", rule_name=RULE_CPU.name, severity=Severity.MEDIUM,
            category="resources", message="container 'api' has no CPU limit", resource=API,
            location=Location(deployment, 24, 13, "/spec/template/spec/containers/0/resources"),
            engine="rego", fingerprint="7a1b2c3d4e5f6071",
        ),
        Finding(
            rule_id="AVL001", rule_name=RULE_PDB.name, severity=Severity.LOW,
            category="availability", message="3 replicas but no PodDisruptionBudget selects them",
            resource=API, location=Location(deployment, 40, 3, "/spec/replicas"),
            engine="python", fingerprint="9e8d7c6b5a493827",
            suppressed_by="annotation: PDB is managed by the platform team",
        ),
        Finding(
            rule_id="TLS001", rule_name=RULE_TLS.name, severity=Severity.HIGH,
            category="tls", message="host 'shop.example.com' is served without TLS",
            resource=INGRESS, location=Location(ingress, None, None, "/spec/tls"),
            engine="python", fingerprint="1122334455667788",
        ),
        Finding(
            rule_id="SCH002", rule_name=RULE_DUPLICATE.name, severity=Severity.INFO,
            category="schema", message="document 2 repeats document 1", resource=None,
            location=Location(ingress, 12, 1), engine="schema", fingerprint="aabbccddeeff0011",
        ),
    ]
    errors = (
        ToolError("parse", "could not parse YAML: mapping values are not allowed here",
                  "apps/web/broken.yaml", 7),
    )
    return Report(
        findings=_sorted(findings), errors=errors,
        rules=_rules(RULE_PRIVILEGED, RULE_TLS, RULE_CPU, RULE_PDB, RULE_DUPLICATE),
        files=3, objects=4, tool_version=TOOL_VERSION,
    )


ODD_PATH = "apps/odd dir/we,ird:name.yaml"
ODD_MESSAGE = "value a|b <c> & d\r\nnext 100% done: ok, `x`"
ODD_ERROR = "bad <value> at 50%\nsecond line & more"
ODD_RULE = RuleInfo(
    id="ESC001", name="tricky: name, with comma", severity=Severity.HIGH, category="security",
    description="A rule whose texts need escaping <everywhere> & always.", engine="python",
    remediation="Use | pipes & <angle> brackets\nacross lines.",
)


def build_escaping_report() -> Report:
    """Text that every format has to escape: `|`, `<`, `&`, CR/LF, `%`, `:`, `,`, backticks."""
    finding = Finding(
        rule_id=ODD_RULE.id, rule_name=ODD_RULE.name, severity=Severity.HIGH, category="security",
        message=ODD_MESSAGE, resource=Resource("v1", "ConfigMap", "default", "odd"),
        location=Location(ODD_PATH, 3, 5, "/data/a|b"), engine="python", fingerprint="5555666677778888",
    )
    return Report(
        findings=(finding,), errors=(ToolError("parse", ODD_ERROR, ODD_PATH, 9),),
        rules=_rules(ODD_RULE), files=1, objects=1, tool_version=TOOL_VERSION,
    )


def build_empty_report() -> Report:
    return Report(findings=(), errors=(), rules={}, files=2, objects=5, tool_version=TOOL_VERSION)


@pytest.fixture
def sample_report() -> Report:
    return build_sample_report()


@pytest.fixture
def escaping_report() -> Report:
    return build_escaping_report()


@pytest.fixture
def empty_report() -> Report:
    return build_empty_report()


@pytest.fixture
def render() -> Render:
    def _render(module: ModuleType, report: Report) -> str:
        buffer = io.StringIO()
        module.write(report, buffer)
        return buffer.getvalue()

    return _render


@pytest.fixture
def golden() -> Golden:
    """Compare `actual` with `golden/<relative>`, or rewrite it when UPDATE_GOLDEN=1."""

    def _check(relative: str, actual: str) -> None:
        path = GOLDEN_DIR / relative
        if os.environ.get("UPDATE_GOLDEN") == "1":
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(actual.encode("utf-8"))
            return
        if not path.exists():
            pytest.fail(f"missing golden file {path}; run with UPDATE_GOLDEN=1 to create it")
        expected = path.read_bytes().decode("utf-8")  # no newline translation
        assert actual == expected, f"output differs from {path}; run with UPDATE_GOLDEN=1 if intended"

    return _check
