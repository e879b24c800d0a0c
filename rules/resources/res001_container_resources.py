"""Every container declares a CPU request, a memory request and a memory limit.

Why it matters: requests are what the scheduler reserves and what capacity planning and
chargeback are computed from; a container without them is BestEffort (or Burstable on
nothing), packed onto nodes that cannot hold it, and the first to be evicted under memory
pressure. Without a memory limit one leaking container (an Odoo worker rendering a huge
report, an unbounded Redis) takes the node's memory from the ledger and invoicing pods next
to it. On a finance platform that is a month-end outage, not a cosmetic issue.

What is checked: every container and init container of a workload (Pod, Deployment,
StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job, CronJob) has
`resources.requests.cpu`, `resources.requests.memory` and `resources.limits.memory`, each a
readable quantity above zero. A request counts as set when only the matching limit is
written, because Kubernetes then copies the limit into the request. Pod-level resources
(`spec.resources`, the PodLevelResources feature) cover every container. A CPU limit is not
required (CPU is compressible; a CPU limit mostly adds throttling).

The finding points at the container's `resources` (or at the container when it has none).

Options:
- `count_limitrange_defaults` (default false): also accept the `default`/`defaultRequest`
  of a `Container` LimitRange of the namespace declared in the estate. Off by default:
  namespace defaults are a safety net sized for nobody in particular, not a sizing decision.

Severity by tier: critical high, standard medium, nonprod low.

Passing:

    containers:
      - name: web
        image: registry.example/odoo:17.0
        resources:
          requests: {cpu: 500m, memory: 1Gi}
          limits: {memory: 2Gi}

Failing (no memory limit, no CPU request):

    containers:
      - name: web
        image: registry.example/odoo:17.0
        resources:
          requests: {memory: 1Gi}
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from checker.k8s import WORKLOAD_KINDS, Container, containers, pod_spec, quantity
from checker.model import Manifest, Violation
from checker.pyrules import RuleContext

from ._helpers import as_list, as_map, container_label

METADATA = {
    "id": "RES001",
    "name": "container-resources-missing",
    "category": "resources",
    "severity": "medium",
    "tier_severity": {"critical": "high", "standard": "medium", "nonprod": "low"},
    "kinds": [f"{group}/{kind}" for group, kind in WORKLOAD_KINDS],
    "options": {"count_limitrange_defaults": False},
    "remediation": "Set resources.requests.cpu, resources.requests.memory and "
                   "resources.limits.memory on every container and init container, sized "
                   "from observed usage (requests near the steady state, the memory limit "
                   "above the peak).",
    "references": [
        "https://kubernetes.io/docs/concepts/configuration/manage-resources-containers/",
        "https://kubernetes.io/docs/concepts/workloads/pods/pod-qos/",
        "https://kubernetes.io/docs/concepts/policy/limit-range/",
    ],
}

_FIELDS = (("requests", "cpu", "CPU request"), ("requests", "memory", "memory request"),
           ("limits", "memory", "memory limit"))


def _positive(values: Mapping[str, Any], resource: str) -> bool:
    amount = quantity(values.get(resource))
    return amount is not None and amount > 0


def _provided(values: Mapping[str, Mapping[str, Any]], section: str, resource: str) -> bool:
    """Set in `section`, or a request implied by the matching limit."""
    if _positive(values.get(section) or {}, resource):
        return True
    return section == "requests" and _positive(values.get("limits") or {}, resource)


def _limitrange_defaults(manifest: Manifest, ctx: RuleContext) -> dict[str, dict[str, Any]]:
    """Container defaults of the namespace's LimitRanges, as `{"requests": …, "limits": …}`
    (a `default` limit also becomes the default request, as the admission plugin does)."""
    defaults: dict[str, dict[str, Any]] = {"requests": {}, "limits": {}}
    for limitrange in ctx.estate.of_kind("LimitRange", ""):
        if limitrange.resource.namespace != manifest.resource.namespace:
            continue
        for item in as_list(as_map(limitrange.obj.get("spec")).get("limits")):
            item = as_map(item)
            if item.get("type") != "Container":
                continue
            defaults["limits"].update(as_map(item.get("default")))
            defaults["requests"].update(as_map(item.get("default")))
            defaults["requests"].update(as_map(item.get("defaultRequest")))
    return defaults


def _pointer(container: Container, missing: list[tuple[str, str, str]]) -> str:
    resources = container.spec.get("resources")
    if not isinstance(resources, Mapping):
        return container.pointer
    if len(missing) == 1 or len({section for section, _, _ in missing}) == 1:
        section = missing[0][0]
        if isinstance(resources.get(section), Mapping):
            return f"{container.pointer}/resources/{section}"
    return f"{container.pointer}/resources"


def check(manifest: Manifest, ctx: RuleContext) -> Iterator[Violation]:
    found = pod_spec(manifest)
    if found is None:
        return
    pod_level = as_map(found[0].get("resources"))
    fallbacks: list[Mapping[str, Mapping[str, Any]]] = [
        {"requests": as_map(pod_level.get("requests")),
         "limits": as_map(pod_level.get("limits"))}]
    if ctx.options.get("count_limitrange_defaults"):
        fallbacks.append(_limitrange_defaults(manifest, ctx))
    for container in containers(manifest):
        resources = as_map(container.spec.get("resources"))
        own = {"requests": as_map(resources.get("requests")),
               "limits": as_map(resources.get("limits"))}
        missing = [(section, resource, label) for section, resource, label in _FIELDS
                   if not any(_provided(values, section, resource)
                              for values in (own, *fallbacks))]
        if not missing:
            continue
        labels = [f"no {label}" for _, _, label in missing]
        listed = labels[0] if len(labels) == 1 else \
            ", ".join(labels[:-1]) + " and " + labels[-1]
        yield Violation(
            f"{container_label(container)} has {listed}",
            _pointer(container, missing),
            {"container": container.name, "missing": [f"resources.{s}.{r}"
                                                      for s, r, _ in missing]})
