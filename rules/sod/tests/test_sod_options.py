"""Options of the `sod` rules, which YAML rule cases cannot set (they run with the defaults).

Run with `.venv/bin/pytest rules/sod/tests` from the repository root.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from checker.findings import Stamper
from checker.model import Location, Manifest, Resource
from checker.pyrules import Estate, PythonRule, load_rule_module, run_rules
from checker.tiers import TierPolicy, TierResolver

PACK = Path(__file__).resolve().parent.parent
RBAC = "rbac.authorization.k8s.io/v1"


@cache
def _rules() -> dict[str, PythonRule]:
    loaded = (load_rule_module(path, path.name, pack="sod") for path in sorted(PACK.glob("sod*.py")))
    return {rule.info.id: rule for rule in loaded}


def _manifest(obj: Mapping[str, Any], index: int) -> Manifest:
    """As the loader builds it: a namespace is a non-empty string or None."""
    metadata = obj.get("metadata")
    metadata = metadata if isinstance(metadata, Mapping) else {}
    namespace = metadata.get("namespace")
    namespace = namespace if isinstance(namespace, str) and namespace else None
    return Manifest(Resource(obj["apiVersion"], obj["kind"], namespace,
                             str(metadata.get("name", ""))), obj, Location("case.yaml"), index)


def run(rule_id: str, objects: Sequence[Mapping[str, Any]],
        options: Mapping[str, Any] | None = None) -> tuple[list[str], list[str]]:
    """(messages, errors) of one rule over the objects, with options over the defaults."""
    estate = Estate([_manifest(o, i) for i, o in enumerate(objects)])
    tiers = TierResolver(TierPolicy(), estate.namespaces)
    outcomes, errors = run_rules([_rules()[rule_id]], estate, tiers,
                                 {rule_id: dict(options or {})})
    return [o.violation.message for o in outcomes], [e.message for e in errors]


def namespace(name: str, tier: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": name, "labels": {"gitops-checker.io/tier": tier}}}


def binding(name: str, role: str, subjects: list[dict[str, Any]], *, ns: str | None = None,
            role_kind: str = "ClusterRole") -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name}
    if ns is not None:
        metadata["namespace"] = ns
    return {"apiVersion": RBAC, "kind": "RoleBinding" if ns else "ClusterRoleBinding",
            "metadata": metadata, "roleRef": {"apiGroup": "rbac.authorization.k8s.io",
                                              "kind": role_kind, "name": role},
            "subjects": subjects}


def role(name: str, rules: list[dict[str, Any]], ns: str | None = None) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name}
    if ns is not None:
        metadata["namespace"] = ns
    return {"apiVersion": RBAC, "kind": "Role" if ns else "ClusterRole", "metadata": metadata,
            "rules": rules}


def group(name: str) -> dict[str, str]:
    return {"kind": "Group", "name": name}


def sa(ns: str, name: str) -> dict[str, str]:
    return {"kind": "ServiceAccount", "namespace": ns, "name": name}


# -- SOD001 ----------------------------------------------------------------------------

def test_sod001_break_glass_patterns_exempt_matching_subjects() -> None:
    objects = [binding("bg", "cluster-admin", [sa("ops", "breakglass-1"), group("ops")])]
    messages, errors = run("SOD001", objects, {"break_glass": [
        {"kind": "ServiceAccount", "namespace": "ops", "name": "breakglass-*"}]})
    assert errors == []
    assert len(messages) == 1 and messages[0].startswith("Group ops is bound")
    assert "ServiceAccount ops/breakglass-*" in messages[0]


@pytest.mark.parametrize("value", [
    "platform:break-glass",
    [{"name": "x"}],
    [{"kind": "ServiceAccount", "name": "x"}],
    ["Group:x"],
])
def test_sod001_malformed_break_glass_is_a_rule_error(value: Any) -> None:
    messages, errors = run("SOD001", [binding("b", "cluster-admin", [group("ops")])],
                           {"break_glass": value})
    assert messages == []
    assert len(errors) == 1 and "option break_glass" in errors[0]


def test_sod001_empty_break_glass_reports_everyone() -> None:
    objects = [binding("bg", "cluster-admin", [group("platform:break-glass")])]
    messages, _ = run("SOD001", objects, {"break_glass": []})
    assert messages and "none configured" in messages[0]


# -- SOD002 ----------------------------------------------------------------------------

PAYMENTS_DUTIES = {
    "payment-releaser": {
        "description": "releases payment batches",
        "permissions": [{"verbs": ["create"], "apiGroups": ["batch"], "resources": ["jobs"],
                         "namespaces": ["payments-*"]}],
    },
    "payment-approver": {"roles": ["payments-approver"]},
}


def test_sod002_custom_duties_and_conflicts() -> None:
    objects = [
        role("batch-runner", [{"apiGroups": ["batch"], "resources": ["jobs"],
                               "verbs": ["create"]}], "payments-eu"),
        binding("runner", "batch-runner", [group("treasury-ops")], ns="payments-eu",
                role_kind="Role"),
        binding("approve", "payments-approver", [group("treasury-ops")]),
        # the same grant outside payments-* does not give the duty
        role("batch-runner", [{"apiGroups": ["batch"], "resources": ["jobs"],
                               "verbs": ["create"]}], "reports"),
        binding("runner", "batch-runner", [group("reporting")], ns="reports", role_kind="Role"),
        binding("approve2", "payments-approver", [group("reporting")]),
    ]
    options = {"duties": PAYMENTS_DUTIES, "conflicts": [
        {"name": "release-vs-approve", "duties": ["payment-releaser", "payment-approver"]}]}
    messages, errors = run("SOD002", objects, options)
    assert errors == []
    assert messages == [(
        "Group treasury-ops holds conflicting duties (release-vs-approve): payment-releaser "
        "(releases payment batches) through RoleBinding payments-eu/runner → Role "
        "payments-eu/batch-runner: rules[0] grants create on jobs in namespace payments-eu; "
        "payment-approver (payment-approver) through ClusterRoleBinding approve → ClusterRole "
        "payments-approver (not declared in the estate): role name matches 'payments-approver'")]


def test_sod002_configured_duties_extend_the_defaults() -> None:
    objects = [binding("a", "prod-deployer", [group("x")]),
               binding("b", "payments-approver", [group("x")])]
    options = {"duties": PAYMENTS_DUTIES, "conflicts": [
        {"name": "deploy-vs-payments", "duties": ["deployer", "payment-approver"]}]}
    messages, errors = run("SOD002", objects, options)
    assert errors == [] and len(messages) == 1 and "(deploy-vs-payments)" in messages[0]


def test_sod002_without_exemptions_the_gitops_controller_is_reported() -> None:
    objects = [binding("flux", "cluster-admin", [sa("flux-system", "kustomize-controller")])]
    assert run("SOD002", objects)[0] == []
    messages, _ = run("SOD002", objects, {"exempt": []})
    assert len(messages) == 1 and "(deploy-vs-audit)" in messages[0]


@pytest.mark.parametrize(("options", "problem"), [
    ({"conflicts": [{"name": "x", "duties": ["deployer", "nope"]}]}, "unknown duty nope"),
    ({"conflicts": [{"name": "x", "duties": ["deployer"]}]}, "at least two"),
    ({"conflicts": "deployer"}, "option conflicts"),
    ({"duties": {"x": {"roles": "x"}}}, "option duties.x.roles"),
    ({"duties": {"x": {}}}, "needs roles or permissions"),
    ({"duties": {"x": {"role": ["x"]}}}, "unknown key role"),
    ({"duties": {"x": {"permissions": [{"verbs": ["get"]}]}}}, "apiGroups"),
    ({"duties": {"x": {"permissions": [{"verbs": ["get"], "apiGroups": [""],
                                        "resources": ["pods"], "tiers": ["prod"]}]}}},
     "tiers"),
])
def test_sod002_malformed_options_are_rule_errors(options: dict[str, Any], problem: str) -> None:
    messages, errors = run("SOD002", [binding("a", "view", [group("x")])], options)
    assert messages == [] and len(errors) == 1 and problem in errors[0]


# -- SOD003 ----------------------------------------------------------------------------

def test_sod003_admins_option() -> None:
    objects = [binding("devs", "edit", [group("payments-leads"), group("payments-devs")],
                       ns="payments")]
    messages, _ = run("SOD003", objects, {"admins": [group("payments-leads")]})
    assert len(messages) == 1 and messages[0].startswith("Group payments-devs gets impersonate")


# -- SOD004 ----------------------------------------------------------------------------

def test_sod004_users_have_no_namespace_of_their_own() -> None:
    objects = [binding("deploy", "admin", [{"kind": "User", "name": "github-actions"}],
                       ns="ledger")]
    assert run("SOD004", objects)[0] == []
    messages, _ = run("SOD004", objects, {"ci_identities": [
        {"kind": "User", "name": "github-actions*"}]})
    assert len(messages) == 1
    assert messages[0].startswith("User github-actions (CI identity) can modify RBAC")
    assert "in namespace ledger, through RoleBinding ledger/deploy" in messages[0]


def test_sod004_controllers_can_be_removed_from_the_defaults() -> None:
    objects = [binding("flux", "cluster-admin", [sa("flux-system", "kustomize-controller")])]
    assert len(run("SOD004", objects)[0]) == 1
    assert run("SOD004", objects, {"gitops_controllers": []}) == ([], [])


# -- SOD005 ----------------------------------------------------------------------------

DEV_DEPLOYMENT = {
    "apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "api", "namespace": "ledger-dev"},
    "spec": {"template": {"spec": {"containers": [{"name": "api", "image": "api:1"}]}}},
}


def test_sod005_tiers_option_adds_nonprod() -> None:
    objects = [namespace("ledger-dev", "nonprod"), DEV_DEPLOYMENT]
    assert run("SOD005", objects) == ([], [])
    messages, errors = run("SOD005", objects, {"tiers": ["critical", "standard", "nonprod"]})
    assert errors == [] and len(messages) == 2


def test_sod005_unknown_tier_is_a_rule_error() -> None:
    messages, errors = run("SOD005", [DEV_DEPLOYMENT], {"tiers": ["production"]})
    assert messages == [] and len(errors) == 1 and "option tiers" in errors[0]


# -- SOD006, SOD007, SOD008 -------------------------------------------------------------

def test_sod006_options() -> None:
    objects = [namespace("ledger", "critical"),
               binding("b", "view", [group("erp-developers"), group("contractors")],
                       ns="ledger")]
    assert len(run("SOD006", objects)[0]) == 1
    assert run("SOD006", objects, {"allowed_roles": ["view"]}) == ([], [])
    messages, _ = run("SOD006", objects, {"nonprod_subjects": ["contract*"]})
    assert len(messages) == 1 and messages[0].startswith("Group contractors")


def test_sod007_allowed_roles() -> None:
    objects = [binding("d", "system:discovery", [group("system:authenticated")])]
    assert run("SOD007", objects) == ([], [])
    assert len(run("SOD007", objects, {"allowed_roles": []})[0]) == 1


def test_sod008_allowed_roles() -> None:
    objects = [binding("m", "metrics-reader", [sa("monitoring", "default")])]
    assert len(run("SOD008", objects)[0]) == 1
    assert run("SOD008", objects, {"allowed_roles": ["metrics-*"]}) == ([], [])


# -- severity by tier (YAML cases cannot assert severities) ------------------------------

def _severities(rule_id: str, objects: Sequence[Mapping[str, Any]]) -> list[str]:
    estate = Estate([_manifest(o, i) for i, o in enumerate(objects)])
    tiers = TierResolver(TierPolicy(), estate.namespaces)
    outcomes, errors = run_rules([_rules()[rule_id]], estate, tiers, {})
    assert errors == []
    stamper = Stamper(position=lambda _m, _p: (None, None), tier_of=tiers.explain)
    return sorted(stamper.stamp(o.rule, o.violation, o.manifest).severity.value
                  for o in outcomes)


def test_severity_follows_the_tier() -> None:
    namespaces = [namespace("ledger", "critical"), namespace("intranet", "standard"),
                  namespace("sandbox", "nonprod")]
    admin_everywhere = [binding(f"admin-{ns}", "cluster-admin", [group("ops")], ns=ns)
                        for ns in ("ledger", "intranet", "sandbox")]
    assert _severities("SOD001", namespaces + admin_everywhere +
                       [binding("crb", "cluster-admin", [group("ops")])]) == \
        ["critical", "critical", "critical", "high"]
    edit_everywhere = [binding(f"edit-{ns}", "edit", [group("devs")], ns=ns)
                       for ns in ("ledger", "intranet", "sandbox")]
    assert _severities("SOD003", namespaces + edit_everywhere) == ["high", "high", "low"]
    workloads = [dict(DEV_DEPLOYMENT, metadata={"name": "api", "namespace": ns})
                 for ns in ("ledger", "intranet", "sandbox")]
    assert _severities("SOD005", namespaces + workloads) == \
        ["high", "high", "medium", "medium"]
