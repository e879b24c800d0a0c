"""Autoscalers have guardrails: a bounded maximum and the tier's minimum.

Why it matters: autoscaling saves money only with guardrails. An unbounded or very high
`maxReplicas` turns a retry storm, a stuck queue consumer or a misbehaving metric into a
runaway scale-out that multiplies the bill, exhausts database connections (every Odoo pod
opens its own pool to PostgreSQL) and starves the critical tier of nodes. At the other end,
a critical service whose autoscaler may scale it down to a single replica (or to zero) loses
the redundancy the tier requires whenever traffic is quiet — at night, when the batch
payments run.

What is checked, on `autoscaling` HorizontalPodAutoscalers (v1, v2) and KEDA
`ScaledObject`s:

- `maxReplicas` (KEDA `maxReplicaCount`, default 100 when absent) is at most the option
  `max_replicas_cap`;
- in the tiers of the option `min_replicas_tiers` (default: critical), `minReplicas`
  (default 1; KEDA `minReplicaCount`, default 0) is at least the tier requirement
  `min_replicas` (default 2 for critical). Elsewhere scaling to one replica, or to zero with
  KEDA, is a legitimate saving.

Options:
- `max_replicas_cap` (default 20): an integer, or a mapping by tier
  (`{critical: 50, standard: 20, nonprod: 5}`; a tier not listed is not capped).
- `min_replicas_tiers` (default `["critical"]`).

Passing (critical tier):

    apiVersion: autoscaling/v2
    kind: HorizontalPodAutoscaler
    spec: {minReplicas: 2, maxReplicas: 10, scaleTargetRef: {...}}

Failing: `maxReplicas: 200` (above the cap of 20), or no `minReplicas` in a critical
namespace (defaults to 1, the tier requires 2).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from checker.k8s import integer
from checker.model import Manifest, Violation
from checker.pyrules import RuleContext

from ._helpers import as_map, as_str_list

METADATA = {
    "id": "RES004",
    "name": "autoscaler-without-guardrails",
    "category": "cost",
    "severity": "medium",
    "tier_severity": {"critical": "high", "standard": "medium", "nonprod": "low"},
    "kinds": ["autoscaling/HorizontalPodAutoscaler", "keda.sh/ScaledObject"],
    "options": {"max_replicas_cap": 20, "min_replicas_tiers": ["critical"]},
    "remediation": "Set maxReplicas to what the platform (nodes, database connections, "
                   "budget) can carry and minReplicas to at least the tier's minimum.",
    "references": [
        "https://kubernetes.io/docs/tasks/run-application/horizontal-pod-autoscale/",
        ("https://kubernetes.io/docs/reference/kubernetes-api/workload-resources/"
        "horizontal-pod-autoscaler-v2/"),
        "https://keda.sh/docs/latest/reference/scaledobject-spec/",
    ],
}


def _cap(manifest: Manifest, ctx: RuleContext) -> int | None:
    option = ctx.options.get("max_replicas_cap")
    if isinstance(option, Mapping):
        return integer(option.get(ctx.tier(manifest)))
    return integer(option)


def check(manifest: Manifest, ctx: RuleContext) -> Iterator[Violation]:
    spec = as_map(manifest.obj.get("spec"))
    keda = manifest.resource.kind == "ScaledObject"
    max_key, min_key = ("maxReplicaCount", "minReplicaCount") if keda else \
        ("maxReplicas", "minReplicas")
    default_max, default_min = (100, 0) if keda else (None, 1)
    tier = ctx.tier(manifest)

    maximum = integer(spec[max_key]) if max_key in spec else default_max
    cap = _cap(manifest, ctx)
    if maximum is not None and cap is not None and maximum > cap:
        written = max_key in spec
        yield Violation(
            f"{max_key} {maximum}{'' if written else ' (the KEDA default)'} is above the cap "
            f"of {cap} replicas (option max_replicas_cap): a runaway scale-out is not "
            "bounded", f"/spec/{max_key}" if written else "/spec",
            {"max_replicas": maximum, "cap": cap})

    if tier not in as_str_list(ctx.options.get("min_replicas_tiers")):
        return
    minimum = integer(spec[min_key]) if min_key in spec else default_min
    required = integer(ctx.requirement(manifest, "min_replicas"))
    if minimum is not None and required is not None and minimum < required:
        written = min_key in spec
        yield Violation(
            f"{min_key} {minimum}{'' if written else ' (the default)'} is below the "
            f"{required} replicas the {tier} tier requires", f"/spec/{min_key}" if written
            else "/spec", {"min_replicas": minimum, "required": required})
