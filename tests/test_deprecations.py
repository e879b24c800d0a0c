"""Deprecated and removed built-in APIs (checker.deprecations) and schemas/deprecations.json."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from checker import deprecations
from checker.builtin import BUILTIN_RULES
from checker.deprecations import (
    KNOWN,
    RULES,
    api_status,
    deprecation_findings,
    replacement,
    supported_versions,
    version_rank,
)
from checker.model import Severity
from checker.schema import SUPPORTED_VERSIONS, SchemaSource

ROOT = Path(__file__).resolve().parent.parent
DATA = json.loads((ROOT / "schemas" / "deprecations.json").read_text(encoding="utf-8"))


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "generate_deprecations", ROOT / "scripts" / "generate_deprecations.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(("api_version", "kind", "version", "rule", "fragments"), [
    # Not served any more: SCH005's, never a DEP finding too.
    ("policy/v1beta1", "PodDisruptionBudget", "1.25", None, ()),
    ("extensions/v1beta1", "Ingress", "1.30", None, ()),
    ("autoscaling/v2beta2", "HorizontalPodAutoscaler", "1.26", None, ()),
    ("flowcontrol.apiserver.k8s.io/v1beta3", "FlowSchema", "1.32", None, ()),
    # Deprecated and still served.
    ("autoscaling/v2beta2", "HorizontalPodAutoscaler", "1.25", "DEP001",
     ("deprecated since Kubernetes 1.23", "removed in 1.26",
      "use autoscaling/v2 HorizontalPodAutoscaler instead")),
    ("flowcontrol.apiserver.k8s.io/v1beta3", "FlowSchema", "1.29", "DEP001",
     ("deprecated since Kubernetes 1.29", "removed in 1.32",
      "use flowcontrol.apiserver.k8s.io/v1 FlowSchema instead", "nominalConcurrencyShares")),
    ("flowcontrol.apiserver.k8s.io/v1beta1", "PriorityLevelConfiguration", "1.25", "DEP001",
     ("removed in 1.26", "use flowcontrol.apiserver.k8s.io/v1beta2 PriorityLevelConfiguration now",
      "flowcontrol.apiserver.k8s.io/v1 PriorityLevelConfiguration from Kubernetes 1.29")),
    ("storage.k8s.io/v1beta1", "CSIStorageCapacity", "1.26", "DEP001",
     ("deprecated since Kubernetes 1.24", "removed in 1.27", "storage.k8s.io/v1")),
    ("v1", "Endpoints", "1.33", "DEP001",
     ("deprecated since Kubernetes 1.33", "no removal announced",
      "use discovery.k8s.io/v1 EndpointSlice instead")),
    ("v1", "EndpointsList", "1.37", "DEP001", ("discovery.k8s.io/v1 EndpointSliceList",)),
    ("v1", "ComponentStatus", "1.30", "DEP001",
     ("deprecated since Kubernetes 1.19", "no API replaces it")),
    # Deprecation inferred from the schemas: a more stable version is served too.
    ("networking.k8s.io/v1beta1", "ServiceCIDR", "1.33", "DEP001",
     ("superseded by networking.k8s.io/v1 since Kubernetes 1.33", "removed in 1.37")),
    ("resource.k8s.io/v1alpha3", "ResourceClaim", "1.32", "DEP001",
     ("removed in 1.34", "use resource.k8s.io/v1beta1 ResourceClaim now",
      "resource.k8s.io/v1 ResourceClaim from Kubernetes 1.34")),
    ("resource.k8s.io/v1beta1", "ResourceClaim", "1.35", "DEP001",
     ("superseded by resource.k8s.io/v1beta2", "still served in 1.37",
      "use resource.k8s.io/v1 ResourceClaim instead")),
    # Served, not deprecated yet, but removed in a later bundled version.
    ("flowcontrol.apiserver.k8s.io/v1beta2", "FlowSchema", "1.25", "DEP002",
     ("removed in Kubernetes 1.29", "deprecated from 1.26",
      "move to flowcontrol.apiserver.k8s.io/v1 FlowSchema, served from Kubernetes 1.29")),
    ("flowcontrol.apiserver.k8s.io/v1beta3", "FlowSchema", "1.27", "DEP002",
     ("removed in Kubernetes 1.32", "deprecated from 1.29")),
    ("storage.k8s.io/v1beta1", "VolumeAttributesClass", "1.31", "DEP002",
     ("removed in Kubernetes 1.37", "superseded by storage.k8s.io/v1 in 1.34")),
    ("networking.k8s.io/v1alpha1", "ClusterCIDR", "1.25", "DEP002",
     ("removed in Kubernetes 1.29", "no newer version of it is served by Kubernetes 1.37")),
    # Nothing to say.
    ("apps/v1", "Deployment", "1.37", None, ()),
    ("autoscaling/v1", "HorizontalPodAutoscaler", "1.30", None, ()),
    ("autoscaling/v2", "HorizontalPodAutoscaler", "1.25", None, ()),
    ("v1", "Endpoints", "1.32", None, ()),
    ("flowcontrol.apiserver.k8s.io/v1", "FlowSchema", "1.37", None, ()),
    ("resource.k8s.io/v1", "ResourceClaim", "1.37", None, ()),
    ("apps/v1", "List", "1.30", None, ()),
    # CRD groups, even ones under k8s.io, and typos.
    ("traefik.io/v1alpha1", "IngressRoute", "1.30", None, ()),
    ("apps.example.com/v1beta1", "Deployment", "1.25", None, ()),
    ("gateway.networking.k8s.io/v1alpha2", "TLSRoute", "1.30", None, ()),
    ("cert-manager.io/v1", "Certificate", "1.37", None, ()),
    ("apps/v2", "Deployment", "1.30", None, ()),
])
def test_findings(api_version: str, kind: str, version: str, rule: str | None,
                  fragments: tuple[str, ...]) -> None:
    found = deprecation_findings(api_version, kind, version)
    if rule is None:
        assert found == []
        return
    assert [rule_id for rule_id, _ in found] == [rule]
    violation = found[0][1]
    assert violation.pointer == "/apiVersion"
    assert violation.details["kubernetes_version"] == version
    for fragment in fragments:
        assert fragment in violation.message


def test_message_does_not_depend_on_the_version_when_the_advice_does_not() -> None:
    """Fingerprints include the message: raising --kubernetes-version must not renew them."""
    messages = {deprecation_findings("v1", "Endpoints", v)[0][1].message
                for v in ("1.33", "1.35", "1.37")}
    assert len(messages) == 1


@pytest.mark.parametrize(("group", "version", "kind", "kubernetes_version", "expected"), [
    ("policy", "v1beta1", "PodDisruptionBudget", "1.25", "policy/v1 PodDisruptionBudget"),
    ("extensions", "v1beta1", "Ingress", "1.30", "networking.k8s.io/v1 Ingress"),
    ("apps", "v1beta2", "StatefulSet", "1.37", "apps/v1 StatefulSet"),
    ("batch", "v1beta1", "CronJob", None, "batch/v1 CronJob"),
    ("rbac.authorization.k8s.io", "v1beta1", "ClusterRoleBinding", "1.28",
     "rbac.authorization.k8s.io/v1 ClusterRoleBinding"),
    ("autoscaling", "v2beta2", "HorizontalPodAutoscaler", "1.30",
     "autoscaling/v2 HorizontalPodAutoscaler"),
    ("autoscaling", "v2beta1", "HorizontalPodAutoscalerList", "1.30",
     "autoscaling/v2 HorizontalPodAutoscalerList"),
    # The best the selected version serves, when the final replacement comes later.
    ("flowcontrol.apiserver.k8s.io", "v1beta1", "FlowSchema", "1.26",
     "flowcontrol.apiserver.k8s.io/v1beta3 FlowSchema"),
    ("flowcontrol.apiserver.k8s.io", "v1beta3", "FlowSchema", "1.32",
     "flowcontrol.apiserver.k8s.io/v1 FlowSchema"),
    ("resource.k8s.io", "v1alpha2", "ResourceClaim", "1.31", "resource.k8s.io/v1alpha3 ResourceClaim"),
    ("resource.k8s.io", "v1alpha2", "ResourceClaim", "1.37", "resource.k8s.io/v1 ResourceClaim"),
    ("", "v1", "Endpoints", "1.37", "discovery.k8s.io/v1 EndpointSlice"),
    # No API replaces it: a phrase.
    ("policy", "v1beta1", "PodSecurityPolicy", "1.30", "Pod Security Admission"),
    # Nothing known, or too new rather than removed.
    ("networking.k8s.io", "v1alpha1", "ClusterCIDR", "1.30", None),
    ("resource.k8s.io", "v1", "ResourceClaim", "1.30", None),
    ("resource.k8s.io", "v1beta2", "ResourceClaim", "1.32", None),
    ("apps", "v2", "Deployment", "1.30", None),
    ("apps", "v1", "Deployment", "1.30", None),
    ("traefik.io", "v1alpha1", "IngressRoute", "1.30", None),
])
def test_replacement(group: str, version: str, kind: str, kubernetes_version: str | None,
                     expected: str | None) -> None:
    found = replacement(group, version, kind, kubernetes_version)
    if expected is None or expected == found:
        assert found == expected
    else:
        assert found is not None and found.startswith(expected)


def test_unknown_kubernetes_version_is_refused() -> None:
    with pytest.raises(ValueError, match="unsupported Kubernetes version"):
        deprecation_findings("apps/v1", "Deployment", "1.24")


def test_version_priority() -> None:
    ordered = ["v2", "v1", "v2beta1", "v1beta3", "v1beta1", "v2alpha1", "v1alpha2", "v1alpha1",
               "foo"]
    assert sorted(ordered, key=version_rank, reverse=True) == ordered


def test_rules() -> None:
    assert set(RULES) == {"DEP001", "DEP002"}
    assert RULES["DEP001"].name == "deprecated-api"
    assert RULES["DEP001"].severity is Severity.MEDIUM
    assert RULES["DEP002"].name == "api-removed-in-future"
    assert RULES["DEP002"].severity is Severity.LOW
    assert {rule.category for rule in RULES.values()} == {"deprecation"}
    others = [rule for rule in BUILTIN_RULES.values() if rule.id not in RULES]
    assert not {rule.name for rule in RULES.values()} & {rule.name for rule in others}


def test_table_covers_the_supported_versions() -> None:
    assert supported_versions() == SUPPORTED_VERSIONS


def test_generated_table_is_fresh() -> None:
    """schemas/deprecations.json is what the generator makes of the installed schemas: run
    `python scripts/generate_deprecations.py` after upgrading kubernetes-validate."""
    generator = _generator()
    expected = generator.render(generator.build())
    current = (ROOT / "schemas" / "deprecations.json").read_text(encoding="utf-8")
    assert current == expected, "stale: run python scripts/generate_deprecations.py"


def _entries() -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = DATA["apis"]
    return entries


def _minor(version: str) -> int:
    return int(version.split(".")[1])


def test_nothing_is_reported_for_an_api_the_version_does_not_serve() -> None:
    """An API missing from a version is SCH005's: DEP rules must never double it."""
    for entry in _entries():
        api_version = f"{entry['group']}/{entry['version']}" if entry["group"] \
            else entry["version"]
        for version in supported_versions():
            if not _minor(entry["first"]) <= _minor(version) <= _minor(entry["last"]):
                assert deprecation_findings(api_version, entry["kind"], version) == []


def test_served_agrees_with_the_schema_stage() -> None:
    """What the table calls served is what SchemaSource finds a strict schema for, at the
    edges of every API's span (the versions where SCH005 starts or stops)."""
    sources = {v: SchemaSource(v) for v in SUPPORTED_VERSIONS}
    for entry in _entries():
        group, version, kind = entry["group"], entry["version"], entry["kind"]
        first, last = _minor(entry["first"]), _minor(entry["last"])
        for minor in {first - 1, first, last, last + 1}:
            source = sources.get(f"1.{minor}")
            if source is None:
                continue
            found = source._builtin_schema(group, version, kind) is not None
            assert found == (first <= minor <= last), (group, version, kind, minor)


def test_known_removals_agree_with_the_schemas() -> None:
    served = {(e["group"], e["version"], e["kind"]): e for e in _entries()}
    first = _minor(SUPPORTED_VERSIONS[0])
    for fact in KNOWN:
        group, _, version = fact.api_version.rpartition("/")
        for kind in fact.kinds:
            entry = served.get((group, version, kind))
            if fact.removed_in is None:
                assert entry is not None and entry["last"] == SUPPORTED_VERSIONS[-1], kind
            elif _minor(fact.removed_in) <= first:
                assert entry is None, (fact.api_version, kind)
            else:
                assert entry is not None, (fact.api_version, kind)
                assert _minor(entry["last"]) == _minor(fact.removed_in) - 1, (
                    fact.api_version, kind)
            if fact.deprecated_in is not None and fact.removed_in is not None:
                assert _minor(fact.deprecated_in) < _minor(fact.removed_in)


def test_known_replacements_are_served_by_the_newest_version() -> None:
    newest = SUPPORTED_VERSIONS[-1]
    for fact in KNOWN:
        assert (fact.replacement is None) != (not fact.alternative), fact
        if fact.replacement is None:
            continue
        group, _, version = fact.replacement.rpartition("/")
        for kind in fact.kinds:
            status = api_status(group, version, fact.replacement_kind or kind, newest)
            assert status is not None and status.served, (fact.replacement, kind)
            assert status.deprecated_in is None, (fact.replacement, kind)


def test_schema_description_hints_are_used() -> None:
    hinted = {(e["group"], e["version"], e["kind"]): e["deprecated_in"] for e in _entries()
              if "deprecated_in" in e}
    assert hinted[("", "v1", "Endpoints")] == "1.33"
    assert hinted[("", "v1", "ComponentStatus")] == "1.19"
    status = api_status("", "v1", "ComponentStatus", "1.37")
    assert status is not None and status.source == "schema-description" and status.deprecated


def test_table_is_loaded_once() -> None:
    deprecations._table.cache_clear()
    for _ in range(3):
        deprecation_findings("apps/v1", "Deployment", "1.30")
    assert deprecations._table.cache_info().misses == 1
