"""Workloads run at least the number of replicas their tier requires.

A single pod of the invoicing API or the ERP front-end goes down with its node, during every
node upgrade and every eviction; for critical finance services the brief asks for failover,
not a restart after the outage. Two replicas are the least that survives the loss of one.

What is checked: every Deployment and StatefulSet whose tier requires `min_replicas` above
what it runs (tier requirement; critical 2, standard and nonprod 1 by default). The count is
`spec.replicas` (absent means 1). When a HorizontalPodAutoscaler (autoscaling/v1 or v2) of the
same namespace targets the workload (`scaleTargetRef` kind and name), the autoscaler decides:
its `minReplicas` (default 1) is the count the workload can fall to, and the finding is on the
HPA's `minReplicas` when that is too low (a Deployment's own `replicas` is overridden by its
HPA). Tiers that require a single replica are not checked (0 is how services are parked
there); in a tier that requires more, a workload scaled to 0 is reported too — suppress it
with `gitops-checker.io/ignore` and a reason while it is parked.

Not counted: KEDA ScaledObjects and other scalers (their minimum can be 0), replicas of a
CloudNativePG cluster (BAK004 checks `instances`).

Passing (namespace erp-prod labelled `gitops-checker.io/tier: critical`):

    apiVersion: apps/v1
    kind: Deployment
    metadata: {name: web, namespace: erp-prod}
    spec:
      selector: {matchLabels: {app: web}}
      template:
        metadata: {labels: {app: web}}
        spec: {containers: [{name: web, image: odoo:17.0}]}
    ---
    apiVersion: autoscaling/v2
    kind: HorizontalPodAutoscaler
    metadata: {name: web, namespace: erp-prod}
    spec:
      scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
      minReplicas: 2
      maxReplicas: 8

Failing: the same Deployment with `replicas: 1` and no HPA — "1 replica (spec.replicas 1); the
critical tier requires at least 2".
"""

from __future__ import annotations

from collections.abc import Iterator

from checker.model import Manifest, Violation
from checker.pyrules import Estate, RuleContext

from ._helpers import replicas, spec_of, workloads

METADATA = {
    "id": "AVL001",
    "name": "too-few-replicas",
    "category": "availability",
    "severity": "high",
    "scope": "estate",
    "kinds": ["apps/Deployment", "apps/StatefulSet", "autoscaling/HorizontalPodAutoscaler"],
    "tier_severity": {"critical": "high", "standard": "medium", "nonprod": "low"},
    "remediation": "Run at least the tier's minimum of replicas (spec.replicas, or the "
                   "HorizontalPodAutoscaler's minReplicas when one manages the workload), and "
                   "spread them over nodes and zones.",
    "references": [
        "https://kubernetes.io/docs/concepts/workloads/controllers/deployment/",
        "https://kubernetes.io/docs/tasks/run-application/horizontal-pod-autoscale/",
    ],
}


def check(estate: Estate, ctx: RuleContext) -> Iterator[tuple[Manifest, Violation]]:
    for workload in workloads(estate):
        wanted = ctx.requirement(workload, "min_replicas")
        if not isinstance(wanted, int) or isinstance(wanted, bool) or wanted <= 1:
            continue  # one replica is the floor anyway; 0 is how a service is parked
        count = replicas(estate, workload)
        if count is None or count.low >= wanted:
            continue
        tier = ctx.tier(workload)
        noun = "replica" if count.low == 1 else "replicas"
        if count.autoscaler is not None:
            hpa = count.autoscaler.manifest
            where = "/spec/minReplicas" if "minReplicas" in spec_of(hpa) else "/spec"
            unset = "" if "minReplicas" in spec_of(hpa) else " (unset, defaults to 1)"
            yield hpa, Violation(
                f"lets {workload.resource.kind} {workload.resource.name} scale down to "
                f"{count.low} {noun} (minReplicas {count.low}{unset}); the {tier} tier "
                f"requires at least {wanted}", where,
                {"workload": f"{workload.resource.kind}/{workload.resource.name}"})
            continue
        where = "/spec/replicas" if "replicas" in spec_of(workload) else "/spec"
        yield workload, Violation(
            f"{count.low} {noun} ({count.source}); the {tier} tier requires at least {wanted}",
            where)
