"""The availability rules find a workload's HPAs and PodDisruptionBudgets through indexes
built once per run; they must find exactly what scanning every object of the namespace
finds, in load order, whatever the selectors and labels hold (nulls, numbers, lists,
objects without a namespace, the default namespace)."""

from __future__ import annotations

import importlib.util
import sys
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from checker.k8s import pod_labels, selector_matches
from checker.model import Location, Manifest, Resource
from checker.pyrules import Estate
from checker.resources import RULES_DIR

_SPEC = importlib.util.spec_from_file_location(
    "availability_helpers", RULES_DIR / "availability" / "_helpers.py")
assert _SPEC is not None and _SPEC.loader is not None
helpers = sys.modules[_SPEC.name] = importlib.util.module_from_spec(_SPEC)  # (dataclasses)
_SPEC.loader.exec_module(helpers)

NAMESPACES = st.sampled_from([None, "default", "a", "b"])
KEYS = st.sampled_from(["app", "tier", "x"])
VALUES = st.one_of(st.sampled_from(["web", "db", "1"]), st.none(), st.just(1), st.just(True),
                   st.just(["web"]))
LABELS = st.dictionaries(KEYS, VALUES, max_size=3)
SELECTORS = st.one_of(
    st.none(), st.just({}), st.just([]),
    st.fixed_dictionaries({"matchLabels": st.one_of(LABELS, st.none(), st.just([]))}),
    st.fixed_dictionaries({"matchLabels": LABELS, "matchExpressions": st.just(
        [{"key": "tier", "operator": "Exists"}])}))


def _manifest(kind: str, group: str, name: str, namespace: str | None, spec: Any,
              labels: Any = None) -> Manifest:
    metadata: dict[str, Any] = {"name": name}
    if namespace is not None:
        metadata["namespace"] = namespace
    obj = {"apiVersion": f"{group}/v1" if group else "v1", "kind": kind,
           "metadata": metadata, "spec": spec}
    if labels is not None:
        obj["spec"] = {**spec, "template": {"metadata": {"labels": labels}, "spec": {
            "containers": [{"name": "c", "image": "i"}]}}}
    return Manifest(Resource(obj["apiVersion"], kind, namespace, name), obj,
                    Location("x.yaml", 1), 0)


@st.composite
def estates(draw: st.DrawFn) -> tuple[Estate, list[Manifest]]:
    objects: list[Manifest] = []
    workloads = []
    for number in range(draw(st.integers(1, 4))):
        workload = _manifest("Deployment", "apps", f"w{number % 2}", draw(NAMESPACES),
                             {"replicas": 2}, draw(LABELS))
        workloads.append(workload)
        objects.append(workload)
    for number in range(draw(st.integers(0, 6))):
        objects.append(_manifest("PodDisruptionBudget", "policy", f"p{number}",
                                 draw(NAMESPACES), {"selector": draw(SELECTORS)}))
    for number in range(draw(st.integers(0, 4))):
        target = {"kind": draw(st.sampled_from(["Deployment", "StatefulSet", 3])),
                  "name": draw(st.sampled_from(["w0", "w1", None])),
                  "apiVersion": draw(st.sampled_from(["apps/v1", "extensions/v1", ""]))}
        objects.append(_manifest("HorizontalPodAutoscaler", "autoscaling", f"h{number}",
                                 draw(NAMESPACES), {"scaleTargetRef": target,
                                                    "maxReplicas": 4}))
    order = draw(st.permutations(objects))
    return Estate(list(order)), workloads


def _scanned_budgets(estate: Estate, workload: Manifest) -> list[Manifest]:
    labels = pod_labels(workload)
    return [pdb for pdb in estate.of_kind("PodDisruptionBudget", "policy")
            if helpers.namespace_of(pdb) == helpers.namespace_of(workload)
            and helpers.spec_of(pdb).get("selector") is not None
            and selector_matches(helpers.spec_of(pdb).get("selector"), labels)]


def _scanned_autoscalers(estate: Estate, workload: Manifest) -> list[Manifest]:
    found = []
    for hpa in estate.of_kind("HorizontalPodAutoscaler", "autoscaling"):
        target = helpers.mapping(helpers.spec_of(hpa).get("scaleTargetRef"))
        api = target.get("apiVersion")
        if helpers.namespace_of(hpa) == helpers.namespace_of(workload) and \
                target.get("kind") == workload.resource.kind and \
                target.get("name") == workload.resource.name and not (
                    isinstance(api, str) and api and
                    api.rpartition("/")[0] != workload.resource.group):
            found.append(hpa)
    return found


@settings(max_examples=300, deadline=None)
@given(estates())
def test_indexes_find_what_a_scan_finds(drawn: tuple[Estate, list[Manifest]]) -> None:
    estate, workloads = drawn
    for workload in workloads:
        assert helpers.budgets(estate, workload) == _scanned_budgets(estate, workload)
        assert [a.manifest for a in helpers.autoscalers(estate, workload)] == \
            _scanned_autoscalers(estate, workload)


def test_a_null_label_value_selects_pods_without_the_label() -> None:
    """`matchLabels: {app: null}` (invalid, but read as the scan reads it: pods without the
    label match) must not be filed under a label no pod carries."""
    workload = _manifest("Deployment", "apps", "w0", "a", {"replicas": 2}, {"tier": "web"})
    pdbs = [_manifest("PodDisruptionBudget", "policy", f"p{n}", "a", {"selector": selector})
            for n, selector in enumerate([{"matchLabels": {"app": None}},
                                          {"matchLabels": {"tier": "web"}},
                                          {"matchLabels": {"tier": "db"}}, {}])]
    estate = Estate([pdbs[3], workload, pdbs[1], pdbs[0], pdbs[2]])
    assert helpers.budgets(estate, workload) == _scanned_budgets(estate, workload) == \
        [pdbs[3], pdbs[1], pdbs[0]]  # in load order
