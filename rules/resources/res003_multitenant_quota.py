"""Multi-tenant namespaces declare a ResourceQuota that bounds CPU and memory, and a
LimitRange with container defaults or bounds.

Why it matters: shared namespaces (development, staging, CI, training, lighter
subsidiaries) are where cost is saved by pooling — and where one team's runaway test, load
generator or forgotten CronJob eats the pool. A ResourceQuota caps what the namespace can
reserve in total; a LimitRange gives pods without their own requests sane defaults (a quota
on `requests.cpu` otherwise rejects them) and caps single containers. Without both, the
shared tier has no cost ceiling and no isolation between tenants.

What is checked (estate-wide): every Namespace declared in the estate that is multi-tenant
— its tier is one of `multi_tenant_tiers` (default: nonprod), or its labels match
`shared_label` (default `gitops-checker.io/tenancy: shared`) — has, in the estate:

- a ResourceQuota of that namespace without `scopes`/`scopeSelector` (a scoped quota only
  bounds some pods) whose `spec.hard` bounds CPU (`cpu`, `requests.cpu` or `limits.cpu`)
  and memory (`memory`, `requests.memory` or `limits.memory`);
- a LimitRange of that namespace with at least one limit of type `Container`.

Namespaces only named by objects but not declared are not checked (there is no object to
attach the finding to). The finding is on the Namespace, at the label that makes it
multi-tenant.

Options:
- `multi_tenant_tiers` (default `["nonprod"]`): tiers whose namespaces are shared.
- `shared_label` (default `{"gitops-checker.io/tenancy": "shared"}`): labels (all must
  match) marking a namespace of any tier as shared; `{}` disables.
- `exclude_namespaces` (default kube-system, kube-public, kube-node-lease).

Passing: Namespace `ci` (tier nonprod) with a ResourceQuota `hard: {requests.cpu: "20",
requests.memory: 64Gi, limits.memory: 96Gi}` and a LimitRange with a `Container` item
`defaultRequest: {cpu: 100m, memory: 256Mi}`, `default: {memory: 512Mi}`.

Failing: Namespace `ci` labelled `gitops-checker.io/tier: nonprod` with neither, or with a
ResourceQuota that only sets `pods: "50"`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from checker.model import Manifest, Violation
from checker.pyrules import Estate, RuleContext
from checker.tiers import TIER_LABEL

from ._helpers import as_list, as_map, as_str_list, label_pointer

METADATA = {
    "id": "RES003",
    "name": "shared-namespace-without-quota",
    "category": "resources",
    "severity": "medium",
    "tier_severity": {"critical": "high"},
    "scope": "estate",
    "options": {
        "multi_tenant_tiers": ["nonprod"],
        "shared_label": {"gitops-checker.io/tenancy": "shared"},
        "exclude_namespaces": ["kube-system", "kube-public", "kube-node-lease"],
    },
    "remediation": "Declare, with the namespace, a ResourceQuota bounding requests.cpu, "
                   "requests.memory and limits.memory, and a LimitRange giving containers "
                   "default requests and limits (and a max).",
    "references": [
        "https://kubernetes.io/docs/concepts/policy/resource-quotas/",
        "https://kubernetes.io/docs/concepts/policy/limit-range/",
        "https://kubernetes.io/docs/concepts/security/multi-tenancy/",
    ],
}

_CPU_KEYS = ("cpu", "requests.cpu", "limits.cpu")
_MEMORY_KEYS = ("memory", "requests.memory", "limits.memory")


def _shared_by_label(namespace: Manifest, wanted: Mapping[str, Any]) -> str | None:
    """The first label key of `wanted` when every wanted label matches."""
    if not wanted:
        return None
    labels = as_map(as_map(namespace.obj.get("metadata")).get("labels"))
    if all(k in labels and str(labels[k]) == str(v) for k, v in wanted.items()):
        return next(iter(wanted))
    return None


def _quota_bounds(quotas: list[Manifest]) -> tuple[bool, bool]:
    cpu = memory = False
    for quota in quotas:
        spec = as_map(quota.obj.get("spec"))
        if spec.get("scopes") or spec.get("scopeSelector"):
            continue
        hard = as_map(spec.get("hard"))
        cpu = cpu or any(k in hard for k in _CPU_KEYS)
        memory = memory or any(k in hard for k in _MEMORY_KEYS)
    return cpu, memory


def _has_container_limits(limitranges: list[Manifest]) -> bool:
    return any(as_map(item).get("type") == "Container"
               for lr in limitranges
               for item in as_list(as_map(lr.obj.get("spec")).get("limits")))


def check(estate: Estate, ctx: RuleContext) -> Iterator[tuple[Manifest, Violation]]:
    tiers = set(as_str_list(ctx.options.get("multi_tenant_tiers")))
    shared_label = as_map(ctx.options.get("shared_label"))
    excluded = set(as_str_list(ctx.options.get("exclude_namespaces")))
    quotas: dict[str | None, list[Manifest]] = {}
    for quota in estate.of_kind("ResourceQuota", ""):
        quotas.setdefault(quota.resource.namespace, []).append(quota)
    limitranges: dict[str | None, list[Manifest]] = {}
    for limitrange in estate.of_kind("LimitRange", ""):
        limitranges.setdefault(limitrange.resource.namespace, []).append(limitrange)
    for name, namespace in estate.namespaces.items():
        if name in excluded:
            continue
        tier = ctx.tier(namespace)
        label_key = _shared_by_label(namespace, shared_label)
        if label_key is not None:
            why, pointer = f"labelled {label_key}={shared_label[label_key]}", \
                label_pointer(label_key)
        elif tier in tiers:
            labels = as_map(as_map(namespace.obj.get("metadata")).get("labels"))
            why = f"tier {tier}"
            pointer = label_pointer(TIER_LABEL) if TIER_LABEL in labels else "/metadata"
        else:
            continue
        problems = []
        own_quotas = quotas.get(name, [])
        cpu, memory = _quota_bounds(own_quotas)
        if not own_quotas:
            problems.append("no ResourceQuota")
        elif not (cpu and memory):
            unbounded = " and ".join(r for r, ok in (("CPU", cpu), ("memory", memory))
                                     if not ok)
            problems.append(f"no unscoped ResourceQuota bounding {unbounded}")
        if not _has_container_limits(limitranges.get(name, [])):
            problems.append("no LimitRange with Container defaults or bounds")
        if problems:
            yield namespace, Violation(
                f"multi-tenant namespace {name} ({why}) has {' and '.join(problems)}",
                pointer, {"namespace": name, "tier": tier, "missing": problems})
