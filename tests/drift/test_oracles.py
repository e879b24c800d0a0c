"""The drift verdicts public projects assert on real servers' objects must hold here.

Data and verdicts: tests/data/drift/oracles/README.md (gitops-engine and Argo CD test data).
"""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from checker.drift.engine import EXTRA, MISSING, MODIFIED, DriftEngine
from checker.drift.live import LiveState
from checker.drift.normalize import SecretMask, masked_live
from checker.drift.settings import DriftSettings, IgnoreRule, parse_path, settings_from
from checker.errors import ConfigError
from checker.kinds import is_cluster_scoped
from checker.model import Location, Manifest, Resource
from checker.schema import SchemaSource

DATA = Path(__file__).parent.parent / "data" / "drift" / "oracles"
SCHEMAS = SchemaSource("1.37", strict=False)


def _read(name: str) -> dict[str, Any]:
    text = (DATA / name).read_text()
    loaded: dict[str, Any] = json.loads(text) if name.endswith(".json") else yaml.safe_load(text)
    return loaded


def _manifest(obj: dict[str, Any], *, located: bool = True) -> Manifest:
    metadata = obj.get("metadata") or {}
    scoped = is_cluster_scoped(obj["apiVersion"], obj["kind"])
    namespace = None if scoped else metadata.get("namespace") or "default"
    return Manifest(Resource(obj["apiVersion"], obj["kind"], namespace, metadata["name"]), obj,
                    Location("repo.yaml" if located else None, 1), 0)


def _diff(declared: dict[str, Any], live: dict[str, Any] | None,
          settings: DriftSettings | None = None) -> list[Any]:
    """(status, change, path) of every drift found, sorted."""
    mask = SecretMask(b"fixed key for the tests")
    state = LiveState()
    state.read_types.add((declared["apiVersion"].rpartition("/")[0], declared["kind"]))
    if live is not None:
        state.add(_manifest(masked_live(live, mask), located=False))
    declared = copy.deepcopy(declared)
    if live is not None and not declared["metadata"].get("namespace"):
        # Deployed into the live object's namespace (an Argo CD destination, `--namespace`).
        declared["metadata"]["namespace"] = live["metadata"].get("namespace")
    engine = DriftEngine(settings or DriftSettings(ignore_managers=()), SCHEMAS, mask)
    result = engine.diff([_manifest(declared)], state)
    found = []
    for drift in result.drifts:
        if drift.status != MODIFIED:
            found.append((drift.status, "", ""))
        found.extend((drift.status, f.drift.change, f.drift.path) for f in drift.fields)
    return sorted(found)


NO_DRIFT = [
    ("deployment-config.json", "deployment-live.json"),
    ("elasticsearch-config.json", "elasticsearch-live.json"),
    ("mutatingwebhookconfig-config.json", "mutatingwebhookconfig-live.json"),
    ("spinnaker-sa-config.json", "spinnaker-sa-live.json"),
    ("wordpress-config.json", "wordpress-live.json"),
    ("grafana-clusterrole-config.json", "grafana-clusterrole-live.json"),
    ("sealedsecret-config.json", "sealedsecret-live.json"),
    ("endpoints-config.json", "endpoints-live.json"),
    ("aggr-clusterrole-config.json", "aggr-clusterrole-live.json"),
    ("smd-deploy-config.yaml", "smd-deploy-live.yaml"),
]


@pytest.mark.parametrize(("declared", "live"), NO_DRIFT)
def test_no_drift(declared: str, live: str) -> None:
    assert _diff(_read(declared), _read(live)) == []


def test_label_edits_are_exactly_three_drifts() -> None:
    declared = _read("elasticsearch-config.json")
    labels = declared["metadata"]["labels"]
    labels["foo"] = "bar"
    labels["chart"] = "elasticsearch-1.7.1"
    del labels["release"]
    assert _diff(declared, _read("elasticsearch-live.json")) == [
        (MODIFIED, "changed", "metadata.labels.chart"),
        (MODIFIED, "not-live", "metadata.labels.foo"),
        (MODIFIED, "undeclared", "metadata.labels.release"),  # found through last-applied
    ]


def test_aggregated_cluster_role_rules_are_compared_when_asked() -> None:
    settings = DriftSettings(ignore_managers=(), aggregated_roles=False)
    found = _diff(_read("aggr-clusterrole-config.json"), _read("aggr-clusterrole-live.json"),
                  settings)
    assert found and all(path.startswith("rules") for _, _, path in found)


@pytest.mark.parametrize(("declared", "live", "expected"), [
    ("smd-service-config.yaml", "smd-service-live-with-type.yaml",
     {(MODIFIED, "undeclared", "spec.type"),
      (MODIFIED, "changed", "spec.ports[port=1935].targetPort")}),
    ("smd-service-config-2-ports.yaml", "smd-service-live.yaml",
     {(MODIFIED, "undeclared", "spec.ports[port=443,protocol=TCP]")}),
    ("ssd-deploy-with-manual-apply-config.yaml", "ssd-deploy-with-manual-apply-live.yaml",
     {(MODIFIED, "not-live", ("spec.template.spec.containers[name=main-container]"
                             ".ports[containerPort=40]")),
      (MODIFIED, "undeclared", "spec.template.spec.containers[name=idle]")}),
    ("ssd-svc-no-label-config.yaml", "ssd-svc-label-live.yaml",
     {(MODIFIED, "undeclared", "metadata.labels.delete-me")}),
    ("ssd-deploy-nested-config.yaml", "ssd-deploy-nested-live.yaml",
     {(MODIFIED, "not-live", ("spec.template.spec.containers[name=main-container]"
                             ".ports[containerPort=443]")),
      (MODIFIED, "not-live", ("spec.template.spec.containers[name=main-container]"
                             ".env[name=ENV_VAR2]"))}),
    ("ssd-deploy-composite-key-config.yaml", "ssd-deploy-composite-key-live.yaml",
     {(MODIFIED, "not-live", ("spec.template.spec.containers[name=nginx]"
                             ".ports[containerPort=8080]"))}),
    ("ssd-configmap-config.yaml", "ssd-configmap-live.yaml",
     {(MODIFIED, "undeclared", "data.key3")}),
])
def test_drift(declared: str, live: str, expected: set[tuple[str, str, str]]) -> None:
    assert set(_diff(_read(declared), _read(live))) == expected


def test_fields_owned_by_ignored_managers_are_not_drift() -> None:
    declared = _read("argo-cd/desired_deployment.yaml")
    live = _read("argo-cd/live_deployment_with_managed_replica.yaml")
    assert _diff(declared, live) == [(MODIFIED, "changed", "spec.replicas"),
                                     (MODIFIED, "changed", "spec.revisionHistoryLimit")]
    ignoring = DriftSettings(ignore_managers=("kube-controller-manager",
                                              "revision-history-manager"))
    assert _diff(declared, live, ignoring) == []
    # The default ignores kube-controller-manager (HPA-scaled replicas) only.
    assert _diff(declared, live, DriftSettings()) == [
        (MODIFIED, "changed", "spec.revisionHistoryLimit")]


def test_ignore_by_owner_for_selected_objects_only() -> None:
    declared = _read("argo-cd/desired_validating_webhook.yaml")
    live = _read("argo-cd/live_validating_webhook.yaml")
    path = "webhooks[name=validate.externalsecret.external-secrets.io].clientConfig.caBundle"
    assert _diff(declared, live) == [(MODIFIED, "changed", path)]
    for rule, expected in [
        (IgnoreRule(managers=("external-secrets",)), []),
        (IgnoreRule(managers=("external-secrets",), kinds=("Deployment",)),
         [(MODIFIED, "changed", path)]),
        (IgnoreRule(fields=(parse_path(".webhooks[].clientConfig.caBundle"),)), []),
        (IgnoreRule(fields=(("webhooks", "*", "clientConfig"),)), []),
        (IgnoreRule(fields=(("webhooks", "*", "clientConfig"),), names=("other-*",)),
         [(MODIFIED, "changed", path)]),
    ]:
        assert _diff(declared, live, DriftSettings(ignore_managers=(), ignore=(rule,))) == \
            expected, rule


def test_missing_and_extra_objects() -> None:
    declared = _read("ssd-configmap-config.yaml")
    assert _diff(declared, None) == [(MISSING, "", "")]
    mask = SecretMask()
    state = LiveState(read_types={("", "ConfigMap")})
    for name, labels in [("ours", {"gitops-checker.io/managed-by": "finance"}),
                         ("theirs", {}), ("kube-root-ca.crt", {"gitops-checker.io/managed-by": "x"}),
                         ("by-argo", {"app.kubernetes.io/instance": "finance-prod"})]:
        state.add(_manifest({"apiVersion": "v1", "kind": "ConfigMap",
                             "metadata": {"name": name, "namespace": "default",
                                          "labels": labels}}))
    application = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
                   "metadata": {"name": "finance-prod", "namespace": "argocd"}}
    result = DriftEngine(DriftSettings(), SCHEMAS, mask).diff(
        [_manifest(declared), _manifest(application)], state)
    extras = {d.live.resource.name: d.mark for d in result.drifts if d.status == EXTRA}
    assert extras == {"ours": "label gitops-checker.io/managed-by=finance",
                      "by-argo": "Argo CD Application finance-prod (label tracking)"}
    assert [m.resource.kind for m in result.unchecked[("argoproj.io", "Application")][1]] == \
        ["Application"]


def test_string_data_equals_data_and_equal_values_get_equal_masks() -> None:
    declared = {"apiVersion": "v1", "kind": "Secret",
                "metadata": {"name": "s", "namespace": "default"},
                "stringData": {"a": "same-value", "b": "declared"}}
    live = {"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "s", "namespace": "default"},
            "data": {"a": base64.b64encode(b"same-value").decode(),
                     "b": base64.b64encode(b"changed!").decode()}}
    assert _diff(declared, live) == [(MODIFIED, "changed", "stringData.b")]


@pytest.mark.parametrize("declared_cpu", [0.2, "0.2", "200m"])
def test_quantities_compare_by_value(declared_cpu: Any) -> None:
    live = _read("smd-deploy-live.yaml")
    declared = copy.deepcopy(_read("smd-deploy-config.yaml"))
    container = declared["spec"]["template"]["spec"]["containers"][0]
    container["resources"] = {"requests": {"cpu": declared_cpu, "memory": "1Gi"}}
    live_container = live["spec"]["template"]["spec"]["containers"][0]
    live_container["resources"] = {"requests": {"cpu": "200m", "memory": "1073741824"}}
    assert _diff(declared, live) == []
    container["resources"]["requests"]["cpu"] = "300m"
    assert _diff(declared, live) == [
        (MODIFIED, "changed",
         "spec.template.spec.containers[name=nginx].resources.requests.cpu")]


def test_cluster_scoped_objects_match_with_or_without_namespace() -> None:
    declared = _read("grafana-clusterrole-config.json")
    declared["metadata"]["namespace"] = "monitoring"  # ignored by the server
    assert _diff(declared, _read("grafana-clusterrole-live.json")) == []


def test_autoscaled_replicas_are_not_drift() -> None:
    declared = _read("argo-cd/desired_deployment.yaml")
    live = _read("argo-cd/live_deployment_with_managed_replica.yaml")
    hpa = {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
           "metadata": {"name": "web", "namespace": declared["metadata"]["namespace"]},
           "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment",
                                       "name": declared["metadata"]["name"]}}}
    mask = SecretMask()
    state = LiveState(read_types={("apps", "Deployment"), ("autoscaling", "HorizontalPodAutoscaler")})
    state.add(_manifest(masked_live(live, mask), located=False))
    state.add(_manifest(hpa, located=False))
    result = DriftEngine(DriftSettings(ignore_managers=()), SCHEMAS, mask).diff(
        [_manifest(declared), _manifest(hpa)], state)
    paths = [f.drift.path for d in result.drifts for f in d.fields]
    assert paths == ["spec.revisionHistoryLimit"]


def test_ignore_settings_are_validated() -> None:
    settings = settings_from({"ignore": [{"paths": ['.metadata.annotations["a/b"]'],
                                          "pointers": ["/spec/replicas"]}]})
    assert settings.ignore[0].fields == (("spec", "replicas"), ("metadata", "annotations", "a/b"))
    assert parse_path(".spec.containers[].image") == ("spec", "containers", "*", "image")
    assert parse_path(".spec.ports[0]") == ("spec", "ports", "0")
    with pytest.raises(ConfigError, match=r"drift.ignore\[0\].paths"):
        settings_from({"ignore": [{"paths": ["spec.replicas"]}]})
