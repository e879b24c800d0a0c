"""Workloads have a PodDisruptionBudget that protects them without blocking node drains.

Node upgrades, autoscaler scale-downs and maintenance evict pods. Without a budget a drain can
take every replica of the payment API at once; with a budget that allows no disruption at all
(`maxUnavailable: 0`, or `minAvailable` equal to the replica count) the drain never finishes,
node upgrades stall and the platform team ends up deleting the budget by hand — usually during
the incident it was meant to prevent.

What is checked, for Deployments and StatefulSets with at least one replica in tiers whose
`require_pdb` is true (tier requirement; critical by default):

- with more than one replica, a PodDisruptionBudget (policy/v1) of the same namespace selects
  the workload's pods (a singleton gets no finding here: no budget can keep it available
  during a drain; AVL001 reports its replica count)
  (`spec.selector` evaluated against the pod template's labels; a missing selector selects
  nothing, `{}` everything) — else a finding on the workload;
- exactly one: a pod selected by two budgets cannot be evicted at all (the eviction API refuses
  pods with more than one budget) — finding on the workload naming them;
- the budget states one: neither `minAvailable` nor `maxUnavailable` — finding on the budget;
- `maxUnavailable: 0` (or `0%`) allows no voluntary disruption whatever the replica count —
  finding on the budget;
- with more than one replica, the budget allows at least one disruption when every pod is
  healthy: `minAvailable` (integer, or a percentage rounded up) below the replica count. With a
  HorizontalPodAutoscaler the replica count used is its `minReplicas`, the count the workload
  may sit at. With a single replica a budget can only either block drains or allow losing the
  pod; that case is AVL001's (too few replicas), not reported here.

Passing (next to a critical Deployment `web` with `replicas: 3` and pod label `app: web`):

    apiVersion: policy/v1
    kind: PodDisruptionBudget
    metadata: {name: web, namespace: erp-prod}
    spec:
      maxUnavailable: 1
      selector: {matchLabels: {app: web}}

Failing: with `replicas: 2`, the budget `spec: {minAvailable: 2, selector: {matchLabels:
{app: web}}}` — "minAvailable 2 of 2 replicas of Deployment erp-prod/web (spec.replicas 2)
allows no voluntary disruption: node drains block …".
"""

from __future__ import annotations

from collections.abc import Iterator

from checker.k8s import pod_labels
from checker.model import Manifest, Violation
from checker.pyrules import Estate, RuleContext

from ._helpers import budgets, display, disruptions_allowed, replicas, workloads

METADATA = {
    "id": "AVL002",
    "name": "disruption-budget-missing-or-blocking",
    "category": "availability",
    "severity": "high",
    "scope": "estate",
    "kinds": ["apps/Deployment", "apps/StatefulSet", "policy/PodDisruptionBudget"],
    "tier_severity": {"critical": "high", "standard": "medium", "nonprod": "low"},
    "remediation": "Add one PodDisruptionBudget per workload that selects its pods and allows "
                   "at least one disruption, e.g. maxUnavailable: 1 (or minAvailable below the "
                   "replica count); never maxUnavailable: 0.",
    "references": [
        "https://kubernetes.io/docs/concepts/workloads/pods/disruptions/",
        "https://kubernetes.io/docs/tasks/run-application/configure-pdb/",
        "https://kubernetes.io/docs/concepts/scheduling-eviction/api-eviction/",
    ],
}


def check(estate: Estate, ctx: RuleContext) -> Iterator[tuple[Manifest, Violation]]:
    for workload in workloads(estate):
        if ctx.requirement(workload, "require_pdb") is not True:
            continue
        count = replicas(estate, workload)
        if count is None or count.high < 1:
            continue
        found = budgets(estate, workload)
        if not found and count.high < 2:
            continue  # a singleton: no budget can help it; AVL001 reports the replica count
        if not found:
            labels = ", ".join(f"{k}={v}" for k, v in pod_labels(workload).items()) or "none"
            yield workload, Violation(
                f"no PodDisruptionBudget in namespace {workload.resource.namespace or 'default'}"
                f" selects its pods (labels {labels}): a drain may evict every replica at once",
                "/spec/template/metadata/labels" if pod_labels(workload) else "/spec")
            continue
        if len(found) > 1:
            names = ", ".join(p.resource.name for p in found)
            yield workload, Violation(
                f"its pods are selected by {len(found)} PodDisruptionBudgets ({names}): the "
                "eviction API refuses to evict pods with more than one budget, so node drains "
                "block", "/spec/template/metadata/labels")
            continue
        pdb = found[0]
        budget = disruptions_allowed(pdb, max(count.low, 1))
        if not budget.field:
            yield pdb, Violation(
                f"sets neither minAvailable nor maxUnavailable, so it states no budget for "
                f"{display(workload)}", "/spec")
            continue
        if budget.allowed is None:
            continue  # unreadable value: the schema stage reports it
        pointer = f"/spec/{budget.field}"
        if budget.field == "maxUnavailable" and budget.allowed == 0:
            yield pdb, Violation(
                f"maxUnavailable {budget.value} allows no voluntary disruption of "
                f"{display(workload)}: node drains and upgrades block until someone deletes "
                "the budget", pointer)
        elif count.low > 1 and budget.allowed == 0:
            yield pdb, Violation(
                f"minAvailable {budget.value} of {count.low} replicas of {display(workload)} "
                f"({count.source}) allows no voluntary disruption: node drains block; use "
                "maxUnavailable: 1 or a lower minAvailable", pointer)
