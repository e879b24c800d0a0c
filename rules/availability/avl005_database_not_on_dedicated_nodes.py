"""Production databases run on dedicated, tainted nodes.

The brief reserves "dedicated resources for production databases": PostgreSQL sharing a node
with batch jobs, report rendering or a noisy Odoo worker competes for CPU, memory and disk I/O,
and month-end closes are exactly when every tenant is busy. Dedicated database nodes are
labelled (so the database can be pinned to them) and tainted (so nothing else lands there);
a database needs both a node selector or required node affinity for the label and a
toleration for the taint — the toleration alone lets it run anywhere, the selector alone
leaves it pending on tainted nodes.

What is checked, in the tiers of option `tiers` (default critical):

- CloudNativePG `Cluster`s: `spec.affinity.nodeSelector` or
  `spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution` (CNPG's
  AffinityConfiguration) require a dedicated node label, and `spec.affinity.tolerations`
  tolerate a dedicated taint;
- StatefulSets with a regular container whose image name (last path segment, no tag or digest)
  matches option `database_images` (default postgres, postgresql, mysql, mariadb, mongo; Redis
  is a cache and queue here, not a system of record — add `redis` to hold it to the same bar):
  the pod template's `nodeSelector` or required node affinity, and its `tolerations`.

Required node affinity pins only when every `nodeSelectorTerms` entry requires the label (the
terms are ORed); `preferred…` affinity does not pin. A label requirement is `key` (any value:
`Exists`, or `In` with any values) or `key=value` (`In` with only that value).

Options: `dedicated_node_labels` (default `node-role.kubernetes.io/database` and
`dedicated=database`; any one suffices), `dedicated_taints` (default
`node-role.kubernetes.io/database:NoSchedule` and `dedicated=database:NoSchedule`, written
`key[=value]:Effect`; any one suffices), `database_images`, `tiers`.

Passing:

    apiVersion: postgresql.cnpg.io/v1
    kind: Cluster
    metadata: {name: erp-db, namespace: erp-prod}
    spec:
      instances: 3
      affinity:
        nodeSelector: {node-role.kubernetes.io/database: ""}
        tolerations:
          - {key: node-role.kubernetes.io/database, operator: Exists, effect: NoSchedule}

Failing (two findings: not pinned, and no toleration):

    apiVersion: postgresql.cnpg.io/v1
    kind: Cluster
    metadata: {name: erp-db, namespace: erp-prod}
    spec:
      instances: 3
      affinity: {enablePodAntiAffinity: true, topologyKey: topology.kubernetes.io/zone}
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from checker.k8s import pod_spec
from checker.model import Manifest, Violation
from checker.pyrules import RuleContext

from ._helpers import NodeLabel, Taint, database_image, mapping, selects, tolerates

METADATA = {
    "id": "AVL005",
    "name": "database-not-on-dedicated-nodes",
    "category": "availability",
    "severity": "high",
    "kinds": ["postgresql.cnpg.io/Cluster", "apps/StatefulSet"],
    "tier_severity": {"critical": "high", "standard": "medium", "nonprod": "info"},
    "options": {
        "tiers": ["critical"],
        "dedicated_node_labels": ["node-role.kubernetes.io/database", "dedicated=database"],
        "dedicated_taints": ["node-role.kubernetes.io/database:NoSchedule",
                             "dedicated=database:NoSchedule"],
        "database_images": ["postgres", "postgresql", "mysql", "mariadb", "mongo"],
    },
    "remediation": "Pin the database to the dedicated nodes with a nodeSelector (or required "
                   "node affinity) on their label and add a toleration for their taint; for "
                   "CloudNativePG both go under spec.affinity.",
    "references": [
        "https://cloudnative-pg.io/documentation/current/scheduling/",
        "https://kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/",
        "https://kubernetes.io/docs/concepts/scheduling-eviction/taint-and-toleration/",
    ],
}


def check(manifest: Manifest, ctx: RuleContext) -> Iterator[Violation]:
    if ctx.tier(manifest) not in (ctx.options.get("tiers") or []):
        return
    labels = [NodeLabel.parse(str(t)) for t in ctx.options.get("dedicated_node_labels") or []]
    taints = [Taint.parse(str(t)) for t in ctx.options.get("dedicated_taints") or []]
    if manifest.resource.kind == "Cluster":
        affinity = mapping(mapping(manifest.obj.get("spec")).get("affinity"))
        node_selector: Mapping[str, Any] = mapping(affinity.get("nodeSelector"))
        tolerations = affinity.get("tolerations")
        base = "/spec/affinity" if affinity else "/spec"
        what = "CloudNativePG cluster"
    else:
        image = database_image(manifest, [str(p) for p in
                                          ctx.options.get("database_images") or []])
        found = pod_spec(manifest)
        if image is None or found is None:
            return
        spec, base = found
        affinity = mapping(spec.get("affinity"))
        node_selector = mapping(spec.get("nodeSelector"))
        tolerations = spec.get("tolerations")
        what = f"database StatefulSet ({image})"
    if labels and not any(selects(node_selector, affinity, label) for label in labels):
        where = f"{base}/nodeSelector" if node_selector else (
            f"{base}/nodeAffinity" if manifest.resource.kind == "Cluster" and
            affinity.get("nodeAffinity") else base)
        wanted = " or ".join(str(label) for label in labels)
        yield Violation(
            f"{what} is not pinned to dedicated database nodes: no nodeSelector or required "
            f"node affinity for {wanted}", where)
    if taints and not any(tolerates(tolerations, taint) for taint in taints):
        where = f"{base}/tolerations" if isinstance(tolerations, list) else base
        wanted = " or ".join(str(taint) for taint in taints)
        yield Violation(
            f"{what} does not tolerate the dedicated database nodes' taint ({wanted}): it "
            "cannot run there", where)
