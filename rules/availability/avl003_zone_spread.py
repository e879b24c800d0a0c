"""Replicated workloads spread their pods over availability zones.

Three replicas on three nodes of the same zone go down together with that zone. The brief
recommends multi-zone application scheduling as the economical form of high availability for
finance services; the scheduler only does it when asked.

What is checked, for Deployments and StatefulSets that can run more than one pod
(`spec.replicas` > 1, or an HPA `maxReplicas` > 1) in tiers whose `require_zone_spread` is
true (tier requirement; critical by default): the pod template has a
`topologySpreadConstraints` entry on a zone key, or a pod anti-affinity term (required or
preferred) on a zone key, whose `labelSelector` selects the workload's own pods (a constraint
whose selector is missing or selects other pods spreads nothing and is named in the finding).

Which constraints count: by default both hard (`whenUnsatisfiable: DoNotSchedule`, required
anti-affinity) and soft (`ScheduleAnyway`, preferred anti-affinity) ones — soft spreading
still places replicas in different zones whenever capacity allows and does not leave pods
pending when a zone is lost; option `require_hard: true` counts only hard ones. Option
`zone_keys` (default `[topology.kubernetes.io/zone]`; add the deprecated
`failure-domain.beta.kubernetes.io/zone` for old clusters).

Passing:

    topologySpreadConstraints:
      - maxSkew: 1
        topologyKey: topology.kubernetes.io/zone
        whenUnsatisfiable: ScheduleAnyway
        labelSelector: {matchLabels: {app: web}}

Failing:

    topologySpreadConstraints:
      - maxSkew: 1
        topologyKey: kubernetes.io/hostname
        whenUnsatisfiable: DoNotSchedule
        labelSelector: {matchLabels: {app: web}}

— "3 replicas and no spreading over zones (topology.kubernetes.io/zone): the scheduler may put
every replica in one zone".
"""

from __future__ import annotations

from collections.abc import Iterator

from checker.k8s import pod_spec
from checker.model import Manifest, Violation
from checker.pyrules import Estate, RuleContext

from ._helpers import replicas, workloads, zone_spreads

METADATA = {
    "id": "AVL003",
    "name": "replicas-not-spread-over-zones",
    "category": "availability",
    "severity": "medium",
    "scope": "estate",
    "kinds": ["apps/Deployment", "apps/StatefulSet"],
    "tier_severity": {"critical": "high", "standard": "medium", "nonprod": "low"},
    "options": {"zone_keys": ["topology.kubernetes.io/zone"], "require_hard": False},
    "remediation": "Add a topologySpreadConstraints entry with topologyKey "
                   "topology.kubernetes.io/zone and a labelSelector matching the pods "
                   "(maxSkew: 1), or a pod anti-affinity term on that key.",
    "references": [
        "https://kubernetes.io/docs/concepts/scheduling-eviction/topology-spread-constraints/",
        ("https://kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/"
        "#inter-pod-affinity-and-anti-affinity"),
        ("https://kubernetes.io/docs/reference/labels-annotations-taints/"
        "#topologykubernetesiozone"),
    ],
}


def check(estate: Estate, ctx: RuleContext) -> Iterator[tuple[Manifest, Violation]]:
    keys = [str(k) for k in ctx.options.get("zone_keys") or []]
    hard_only = bool(ctx.options.get("require_hard"))
    for workload in workloads(estate):
        if ctx.requirement(workload, "require_zone_spread") is not True:
            continue
        count = replicas(estate, workload)
        found = pod_spec(workload)
        if count is None or count.high <= 1 or found is None:
            continue
        spreads, notes = zone_spreads(workload, keys)
        if any(s.hard or not hard_only for s in spreads):
            continue
        spec, pointer = found
        where = f"{pointer}/topologySpreadConstraints" if isinstance(
            spec.get("topologySpreadConstraints"), list) else pointer
        if spreads:
            what = (f"only soft zone spreading ({', '.join(s.how for s in spreads)}) while "
                    "this estate requires a hard constraint (option require_hard)")
            consequence = "soft constraints give way when a zone is short of capacity"
        else:
            what = f"no spreading over zones ({' or '.join(keys)})"
            consequence = "the scheduler may put every replica in one zone"
        noun = f"{count.high} replicas" if count.low == count.high else \
            f"{count.low}–{count.high} replicas"
        extra = f"; {'; '.join(notes)}" if notes else ""
        yield workload, Violation(
            f"{noun} and {what}: {consequence}{extra}",
            where)
