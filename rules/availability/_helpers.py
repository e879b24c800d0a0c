"""Shared by the availability rules: workloads and their replica counts, the
HorizontalPodAutoscalers and PodDisruptionBudgets that apply to them, zone spreading, node
pinning and tolerations, database images.

Kubernetes facts used:

- `spec.replicas` of a Deployment or StatefulSet defaults to 1; once an HPA (autoscaling/v1 or
  v2) targets the workload (`spec.scaleTargetRef` kind and name, same namespace) the replica
  count moves between the HPA's `minReplicas` (default 1) and `maxReplicas`;
- a PodDisruptionBudget (policy/v1) selects pods of its namespace with `spec.selector`: a null
  selector selects nothing, `{}` everything; `maxUnavailable` and `minAvailable` are an integer
  or a percentage, percentages rounded up as the disruption controller does; a pod selected by
  more than one budget cannot be evicted at all (the eviction API refuses);
- a toleration tolerates a taint when the effects agree (or the toleration has none), the keys
  agree (or the toleration has no key and operator Exists), and the operator is Exists or the
  values are equal (operator Equal, the default).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from checker.k8s import first_matching_image, integer, pod_labels, pod_spec, selector_matches
from checker.model import Manifest
from checker.pyrules import Estate

WORKLOADS = (("apps", "Deployment"), ("apps", "StatefulSet"))
_PERCENT = re.compile(r"^\s*(\d+)\s*%\s*$")


def mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def items(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def namespace_of(manifest: Manifest) -> str:
    return manifest.resource.namespace or "default"


def spec_of(manifest: Manifest) -> Mapping[str, Any]:
    return mapping(manifest.obj.get("spec"))


def workloads(estate: Estate) -> Iterator[Manifest]:
    for group, kind in WORKLOADS:
        yield from estate.of_kind(kind, group)


def display(manifest: Manifest) -> str:
    return f"{manifest.resource.kind} {namespace_of(manifest)}/{manifest.resource.name}"


# --- replicas and autoscalers ---------------------------------------------------------------


@dataclass(frozen=True)
class Autoscaler:
    manifest: Manifest
    min_replicas: int | None
    max_replicas: int | None


def autoscalers(estate: Estate, workload: Manifest) -> list[Autoscaler]:
    """HPAs of the workload's namespace whose scaleTargetRef names it."""
    found = []
    for hpa in _autoscalers_by_target(estate).get(
            (namespace_of(workload), workload.resource.kind, workload.resource.name), ()):
        spec = spec_of(hpa)
        target = mapping(spec.get("scaleTargetRef"))
        api = target.get("apiVersion")
        if isinstance(api, str) and api and api.rpartition("/")[0] != workload.resource.group:
            continue
        minimum = integer(spec.get("minReplicas")) if "minReplicas" in spec else 1
        found.append(Autoscaler(hpa, minimum, integer(spec.get("maxReplicas"))))
    return found


def _autoscalers_by_target(estate: Estate) -> Mapping[tuple[str, str, str], list[Manifest]]:
    """HPAs by (namespace, target kind, target name), in load order: once per run, not a
    scan of the namespace's HPAs for every workload."""
    def index() -> dict[tuple[str, str, str], list[Manifest]]:
        found: dict[tuple[str, str, str], list[Manifest]] = {}
        for hpa in estate.of_kind("HorizontalPodAutoscaler", "autoscaling"):
            target = mapping(spec_of(hpa).get("scaleTargetRef"))
            kind, name = target.get("kind"), target.get("name")
            if isinstance(kind, str) and isinstance(name, str):
                found.setdefault((namespace_of(hpa), kind, name), []).append(hpa)
        return found

    return estate.shared("autoscalers by target", index)


@dataclass(frozen=True)
class Replicas:
    """How many pods a workload runs at least and at most, and where that comes from."""

    low: int
    high: int
    source: str                 # "spec.replicas 3", "spec.replicas unset (1)", "HPA web 2–6"
    autoscaler: Autoscaler | None = None


def replicas(estate: Estate, workload: Manifest) -> Replicas | None:
    """None when the count cannot be read (the schema stage reports that). Worked out once
    per workload and run (AVL001–AVL003 all ask)."""
    return estate.shared(("replicas", id(workload)), lambda: _replicas(estate, workload))


def _replicas(estate: Estate, workload: Manifest) -> Replicas | None:
    scalers = [a for a in autoscalers(estate, workload) if a.min_replicas is not None]
    if scalers:
        lowest = min(scalers, key=lambda a: a.min_replicas or 0)
        low = lowest.min_replicas or 0
        high = max((a.max_replicas or low) for a in scalers)
        return Replicas(low, max(high, low), f"HorizontalPodAutoscaler "
                        f"{lowest.manifest.resource.name} minReplicas {low}", lowest)
    spec = spec_of(workload)
    if "replicas" not in spec or spec.get("replicas") is None:
        return Replicas(1, 1, "spec.replicas unset (defaults to 1)")
    count = integer(spec.get("replicas"))
    if count is None:
        return None
    return Replicas(count, count, f"spec.replicas {count}")


# --- disruption budgets ---------------------------------------------------------------------


def budgets(estate: Estate, workload: Manifest) -> list[Manifest]:
    """PodDisruptionBudgets of the workload's namespace whose selector selects its pods."""
    labels = pod_labels(workload)
    index = _budget_index(estate).get(namespace_of(workload))
    if index is None:
        return []
    candidates = list(index.unkeyed)
    for key, value in labels.items():
        try:
            candidates.extend(index.keyed.get((key, value), ()))
        except TypeError:
            continue  # an unhashable label value equals no selector's value
    candidates.sort(key=lambda candidate: candidate[0])  # load order
    return [pdb for _, pdb, selector in candidates if selector_matches(selector, labels)]


@dataclass
class _Budgets:
    """A namespace's budgets with a selector, as (load position, budget, selector): those
    whose `matchLabels` holds a first label (pods must carry it to be selected) under that
    label, the others to be tried against every workload."""

    keyed: dict[tuple[str, Any], list[tuple[int, Manifest, Any]]]
    unkeyed: list[tuple[int, Manifest, Any]]


def _budget_index(estate: Estate) -> Mapping[str, _Budgets]:
    def index() -> dict[str, _Budgets]:
        found: dict[str, _Budgets] = {}
        for position, pdb in enumerate(estate.of_kind("PodDisruptionBudget", "policy")):
            selector = spec_of(pdb).get("selector")
            if selector is None:
                continue  # a null selector selects no pods
            budgets = found.setdefault(namespace_of(pdb), _Budgets({}, []))
            labels = selector.get("matchLabels") if isinstance(selector, Mapping) else None
            first = next(iter(labels.items()), None) if isinstance(labels, Mapping) else None
            try:
                # (`app: null` would select pods without the label: tried against all)
                if first is not None and first[1] is not None:
                    budgets.keyed.setdefault(first, []).append((position, pdb, selector))
                    continue
            except TypeError:
                pass  # an unhashable value: tried against every workload
            budgets.unkeyed.append((position, pdb, selector))
        return found

    return estate.shared("disruption budgets by label", index)


def _scaled(value: Any, replicas: int) -> int | None:
    """An IntOrString of a PDB against a replica count, percentages rounded up."""
    number = integer(value)
    if number is not None:
        return number
    if isinstance(value, str):
        match = _PERCENT.match(value)
        if match:
            return math.ceil(int(match[1]) * replicas / 100)
    return None


@dataclass(frozen=True)
class Budget:
    allowed: int | None         # voluntary disruptions allowed with every pod healthy
    field: str                  # "maxUnavailable", "minAvailable" or ""
    value: Any


def disruptions_allowed(pdb: Manifest, replicas: int) -> Budget:
    spec = spec_of(pdb)
    if spec.get("maxUnavailable") is not None:
        value = spec.get("maxUnavailable")
        scaled = _scaled(value, replicas)
        return Budget(None if scaled is None else max(min(scaled, replicas), 0),
                      "maxUnavailable", value)
    if spec.get("minAvailable") is not None:
        value = spec.get("minAvailable")
        scaled = _scaled(value, replicas)
        return Budget(None if scaled is None else max(replicas - scaled, 0),
                      "minAvailable", value)
    return Budget(None, "", None)


# --- zone spreading -------------------------------------------------------------------------


@dataclass(frozen=True)
class Spread:
    hard: bool
    how: str


def zone_spreads(workload: Manifest, keys: Sequence[str]) -> tuple[list[Spread], list[str]]:
    """Constraints that spread the workload's own pods over zones, and notes on those that
    name a zone key but select other pods."""
    found = pod_spec(workload)
    if found is None:
        return [], []
    spec, pointer = found
    labels = pod_labels(workload)
    spreads: list[Spread] = []
    notes: list[str] = []
    for index, item in enumerate(items(spec.get("topologySpreadConstraints"))):
        item = mapping(item)
        if item.get("topologyKey") not in keys:
            continue
        where = f"{pointer}/topologySpreadConstraints/{index}"
        if item.get("labelSelector") is None or \
                not selector_matches(item.get("labelSelector"), labels):
            notes.append(f"{where} does not select the workload's own pods")
            continue
        spreads.append(Spread(item.get("whenUnsatisfiable") != "ScheduleAnyway",
                              f"topologySpreadConstraints {item.get('topologyKey')} "
                              f"({item.get('whenUnsatisfiable') or 'DoNotSchedule'})"))
    anti = mapping(mapping(spec.get("affinity")).get("podAntiAffinity"))
    terms = [(True, mapping(t)) for t in
             items(anti.get("requiredDuringSchedulingIgnoredDuringExecution"))]
    terms += [(False, mapping(mapping(t).get("podAffinityTerm"))) for t in
              items(anti.get("preferredDuringSchedulingIgnoredDuringExecution"))]
    for hard, term in terms:
        if term.get("topologyKey") not in keys:
            continue
        if term.get("labelSelector") is None or \
                not selector_matches(term.get("labelSelector"), labels):
            notes.append("a podAntiAffinity term on the zone key does not select the "
                         "workload's own pods")
            continue
        spreads.append(Spread(hard, "podAntiAffinity on " + str(term.get("topologyKey")) +
                              (" (required)" if hard else " (preferred)")))
    return spreads, notes


# --- node pinning ---------------------------------------------------------------------------


@dataclass(frozen=True)
class NodeLabel:
    key: str
    value: str | None           # None: any value

    @classmethod
    def parse(cls, text: str) -> NodeLabel:
        key, sep, value = text.partition("=")
        return cls(key.strip(), value.strip() if sep else None)

    def __str__(self) -> str:
        return self.key if self.value is None else f"{self.key}={self.value}"


@dataclass(frozen=True)
class Taint:
    key: str
    value: str
    effect: str

    @classmethod
    def parse(cls, text: str) -> Taint:
        body, _, effect = text.rpartition(":") if ":" in text else (text, "", "NoSchedule")
        key, _, value = body.partition("=")
        return cls(key.strip(), value.strip(), effect.strip() or "NoSchedule")

    def __str__(self) -> str:
        return f"{self.key}{'=' + self.value if self.value else ''}:{self.effect}"


def selects(node_selector: Mapping[str, Any], affinity: Mapping[str, Any],
            label: NodeLabel) -> bool:
    """Whether a nodeSelector or the required node affinity confines pods to nodes with
    `label` (every nodeSelectorTerm must require it: the terms are ORed)."""
    if label.key in node_selector and (label.value is None or
                                       str(node_selector.get(label.key)) == label.value):
        return True
    required = mapping(mapping(affinity.get("nodeAffinity")).get(
        "requiredDuringSchedulingIgnoredDuringExecution"))
    terms = [mapping(t) for t in items(required.get("nodeSelectorTerms"))]
    if not terms:
        return False
    return all(_term_requires(term, label) for term in terms)


def _term_requires(term: Mapping[str, Any], label: NodeLabel) -> bool:
    for expression in items(term.get("matchExpressions")):
        expression = mapping(expression)
        if expression.get("key") != label.key:
            continue
        operator = expression.get("operator")
        values = [str(v) for v in items(expression.get("values"))]
        if operator == "Exists" and label.value is None:
            return True
        if operator == "In" and values and (label.value is None or
                                            all(v == label.value for v in values)):
            return True
    return False


def tolerates(tolerations: Any, taint: Taint) -> bool:
    for item in items(tolerations):
        toleration = mapping(item)
        effect = toleration.get("effect")
        if effect and effect != taint.effect:
            continue
        key = toleration.get("key")
        operator = toleration.get("operator") or "Equal"
        if not key:
            if operator == "Exists":
                return True
            continue
        if key != taint.key:
            continue
        if operator == "Exists" or str(toleration.get("value") or "") == taint.value:
            return True
    return False


def database_image(manifest: Manifest, patterns: Sequence[str]) -> str | None:
    """The first regular container image whose name matches a database pattern."""
    return first_matching_image(manifest, patterns)
