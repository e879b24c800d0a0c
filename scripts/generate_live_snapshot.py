"""Write fixtures/live/odoo-finance/: what `kubectl get -o yaml` returned from the example
estate's two clusters on the night of 2026-11-26, for `gitops-checker drift` to read offline.

    python scripts/generate_live_snapshot.py [--out DIR]

The declared objects come from the checker's own loader (`load_declared`, as `drift` calls
it), so the snapshot follows the estate when it changes: rerun this script and commit the
result (`tests/drift/test_example_live.py` fails while the committed files are stale).
Nothing depends on the clock, the machine or the order of a directory listing: the same
estate gives the same bytes.

Each object is what the API server would store after its deployer applied it:

- who applied it: the Argo CD Application (or ApplicationSet element) that renders it, with
  server-side apply (`argocd-controller`, operation Apply, owning exactly the applied fields)
  when the app sets `ServerSideApply=true`, else a client-side apply (`argocd-controller`,
  Update, owning the defaults too, plus the `last-applied-configuration` annotation); Flux's
  `kustomize-controller` (Apply) for `ci`; `kubectl-client-side-apply` for the files of
  `bootstrap/` and the vendored CRD, applied once by hand. Argo CD's tracking annotation and
  Flux's labels are added as those tools add them.
- what the server adds: uid, resourceVersion, creationTimestamp, generation, defaults
  (Deployment strategy, revisionHistoryLimit, progressDeadlineSeconds; pod template
  terminationMessagePath/Policy, dnsPolicy, restartPolicy, schedulerName, securityContext,
  probe timings; Service clusterIP(s), ipFamilies, sessionAffinity, type; PVC volumeMode;
  HPA behavior; CRD schema defaults and operator webhooks' defaults), and status written by
  the controllers (`kube-controller-manager` and the operators), each with its managedFields
  entry.
- what else is in the namespaces: objects the controllers made from declared ones (CNPG's
  Services, PVCs and Secrets, the Secrets of ExternalSecrets and the SealedSecret, cert-manager's
  TLS Secrets), the `default` ServiceAccount and `kube-root-ca.crt` of every namespace, and
  the Namespaces the platform team installs. None of them is drift.

Argo CD runs on prod-eu-central-1 (namespace `argocd`, critical tier) and deploys to both
clusters; Flux runs on shared-nonprod. The snapshot has one directory per cluster, one List
per namespace and one for cluster-scoped objects. The base objects both clusters receive
(ClusterIssuer `letsencrypt-prod`, Traefik's TLSOption, redirect route and Middleware) are in
both.

The night of 2026-11-26 (PLANTED below): the production patch had raised Odoo to 6 workers
for the month-end close without raising the memory limit (RES007 of `check`). At 02:13 UTC,
during the nightly invoice run, the web pods were OOM-killed; the on-call engineer paused
Argo CD's automated sync and

1. raised the memory limit of `erp-prod/odoo-web` from 8Gi to 12Gi (`kubectl edit`, 02:13);
2. stopped the scheduled actions (`kubectl scale deployment odoo-cron --replicas=0`, 02:19)
   and never scaled them back: the 06:00 bank statement import will not run;
3. deleted the Velero Schedule `erp-prod-filestore-hourly` (its file-system backup of the
   200 GiB filestore competed with the recovering pods for EFS throughput): the filestore's
   1 h RPO is gone;
4. created the NetworkPolicy `erp-prod/oncall-psql-debug` (02:31) so a psql pod could reach
   the database, labelled, as the on-call runbook asks of anything made by hand,
   `gitops-checker.io/managed-by: on-call`;
5. rotated the Mailpit UI password of staging (`kubectl patch`, 02:47), after the one
   committed in Git (SEC001) was pasted into the incident channel.

And one drift older than the night: `bootstrap/argocd-cm.yaml` says `admin.enabled: on`,
which kubectl reads as a boolean and the API server rejects (SCH003), so the cluster still
has the value applied before it, `"false"`.

What a naive diff would flag and `drift` must not: every default and status above, the
replicas the HorizontalPodAutoscalers set (ledger-api at 5, report-portal at 2; neither
Deployment declares replicas), `stringData` stored as base64 `data`, tracking marks and
last-applied annotations, operator defaults inside custom resources, and the objects
controllers made.
"""

from __future__ import annotations

import argparse
import base64
import copy
import datetime as dt
import hashlib
import json
import re
import sys
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from checker.config import find_config, load_config
from checker.drift.run import DEFAULT_NAMESPACE
from checker.kinds import is_cluster_scoped
from checker.model import Manifest
from checker.pipeline import load_declared
from checker.schema import SchemaSource

ESTATE = ROOT / "fixtures" / "estates" / "odoo-finance"
TARGET = ROOT / "fixtures" / "live" / "odoo-finance"
HEADER = ("# Generated by scripts/generate_live_snapshot.py from fixtures/estates/odoo-finance;"
          " do not edit.\n")

PROD, NONPROD = "prod-eu-central-1", "shared-nonprod"
SNAPSHOT_TIME = "2026-11-26T02:58:00Z"
"""When the nightly drift job dumped the clusters."""

# --- PLANTED: the night's drifts (see the module docstring) -------------------------------
EDITED_AT = "2026-11-26T02:13:00Z"
EDITED = ("erp-prod", "Deployment", "odoo-web", "odoo", "12Gi")
"""(namespace, kind, name, container, memory limit) changed by `kubectl edit`."""
SCALED_AT = "2026-11-26T02:19:00Z"
SCALED = ("erp-prod", "Deployment", "odoo-cron", 0)
DELETED = ("velero", "Schedule", "erp-prod-filestore-hourly")
DEBUG_POLICY_AT = "2026-11-26T02:31:00Z"
DEBUG_POLICY = ("erp-prod", "oncall-psql-debug")
TRACKING_LABEL = "gitops-checker.io/managed-by"
ROTATED_AT = "2026-11-26T02:47:00Z"
ROTATED = ("erp-staging", "mailpit-ui-auth", "ui-auth", "testers:Nachtschicht-0247-vQ8mZt")
"""(namespace, Secret, key, new plaintext value) changed by `kubectl patch`."""
ARGOCD_CM_ADMIN = "false"
"""What the cluster kept of `admin.enabled` after the `on` version was rejected; applied last
(successfully) at the last time of `bootstrap` in TIMELINE."""

# --- who deployed what, and when ----------------------------------------------------------
TIMELINE = {
    # app: (first sync, last sync that changed its objects)
    "prod-foundation": ("2025-03-03T09:24:05Z", "2026-09-14T08:12:44Z"),
    "finance-ledger": ("2025-03-04T10:02:31Z", "2026-11-19T14:26:37Z"),
    "reporting": ("2025-03-05T11:15:02Z", "2026-11-20T10:03:51Z"),
    "erp-prod": ("2025-03-05T13:40:18Z", "2026-11-24T19:05:22Z"),
    "nonprod-foundation": ("2025-02-17T15:30:09Z", "2026-09-14T08:12:51Z"),
    "erp-staging": ("2025-02-18T09:11:40Z", "2026-11-25T16:48:10Z"),
    "ci-tooling": ("2025-02-10T12:00:27Z", "2026-10-29T13:22:05Z"),
    "bootstrap": ("2025-03-03T09:12:40Z", "2026-06-02T07:58:19Z"),
    "vendor": ("2025-05-12T10:41:55Z", "2025-05-12T10:41:55Z"),
}
CLUSTER_BUILT = {PROD: "2025-03-03T08:51:20Z", NONPROD: "2025-02-10T11:02:48Z"}
HAND_APPLIED_CLUSTER = {"argocd": PROD, "flux-system": NONPROD, None: PROD}
"""Where the files applied by hand (bootstrap/, vendor/) went: Argo CD runs on the production
cluster and deploys to both, Flux runs on the nonprod one, the SLO CRD is production's."""
HPA_REPLICAS = {("finance-ledger", "ledger-api"): (5, "2026-11-26T01:22:14Z"),
                ("reporting", "report-portal"): (2, "2026-11-25T19:41:03Z")}
"""Current replicas set by the HorizontalPodAutoscalers (the ledger's nightly reconciliation
runs at 02:15 Berlin, 01:15 UTC), and when they last scaled."""
PLATFORM_NAMESPACES = {
    PROD: ("argocd", "cert-manager", "cnpg-system", "default", "external-secrets",
           "kube-node-lease", "kube-public", "kube-system", "monitoring", "traefik"),
    NONPROD: ("cert-manager", "cnpg-system", "default", "flux-system", "kube-node-lease",
              "kube-public", "kube-system", "monitoring", "sealed-secrets", "traefik"),
}
"""Namespaces the platform team installs (not declared by the estate)."""
STORAGE = {"efs-rwx": "efs.csi.aws.com", "gp3-encrypted": "ebs.csi.aws.com",
           "gp3": "ebs.csi.aws.com"}
MANAGER_APPLY = "argocd-controller"


@dataclass(frozen=True)
class Deployer:
    cluster: str
    app: str  # Argo CD app, Flux Kustomization, "bootstrap" or "vendor"
    manager: str
    operation: str  # "Apply" (server-side) or "Update" (client-side apply)
    tool: str  # "argocd", "flux" or "kubectl"

    @property
    def client_side(self) -> bool:
        return self.operation == "Update"


# --- small deterministic helpers ----------------------------------------------------------

def _digest(*parts: object) -> int:
    return int.from_bytes(hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()[:8],
                          "big")


def _uid(*parts: object) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "acme-finance/" + "/".join(map(str, parts))))


def _at(moment: str, seconds: int = 0) -> str:
    parsed = dt.datetime.strptime(moment, "%Y-%m-%dT%H:%M:%SZ") + dt.timedelta(seconds=seconds)
    return parsed.strftime("%Y-%m-%dT%H:%M:%SZ")


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _key_json(fields: Mapping[str, Any]) -> str:
    return json.dumps(dict(fields), sort_keys=True, separators=(",", ":"))


# --- schemas: which lists are keyed, which maps atomic (for managedFields) ----------------

class _Node:
    """A schema node with `$ref`s resolved: what server-side apply needs of it."""

    def __init__(self, node: Any, defs: Mapping[str, Any]) -> None:
        self.defs = defs
        depth = 0
        while isinstance(node, Mapping) and "$ref" in node and depth < 32:
            node = defs.get(str(node["$ref"]).rpartition("/")[2])
            depth += 1
        self.node: Mapping[str, Any] = node if isinstance(node, Mapping) else {}

    def prop(self, name: str) -> _Node:
        props = self.node.get("properties")
        if isinstance(props, Mapping) and name in props:
            return _Node(props[name], self.defs)
        extra = self.node.get("additionalProperties")
        return _Node(extra if isinstance(extra, Mapping) else None, self.defs)

    def items(self) -> _Node:
        return _Node(self.node.get("items"), self.defs)

    @property
    def atomic_map(self) -> bool:
        return self.node.get("x-kubernetes-map-type") == "atomic"

    @property
    def list_type(self) -> str:
        return str(self.node.get("x-kubernetes-list-type") or "atomic")

    @property
    def map_keys(self) -> list[str]:
        return list(self.node.get("x-kubernetes-list-map-keys") or ())


class Schemas:
    def __init__(self, version: str, declared: Iterable[Manifest]) -> None:
        self.source = SchemaSource(version, strict=False)
        for manifest in declared:
            if manifest.resource.kind == "CustomResourceDefinition":
                self.source.add_estate_crd(manifest.obj)
        _, defs = self.source.raw_schema("", "v1", "ConfigMap") or ({}, {})
        self.object_meta = _Node(defs.get("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"),
                                 defs)

    def node(self, api_version: str, kind: str) -> _Node:
        group, _, version = api_version.rpartition("/")
        found = self.source.raw_schema(group, version, kind)
        return _Node(found[0], found[1]) if found else _Node(None, {})


_KEY_DEFAULTS = {"protocol": "TCP"}
_NO_DOT = {"metadata", "spec", "template", "jobTemplate", "status"}


def field_set(value: Mapping[str, Any], node: _Node, *, dots: bool) -> dict[str, Any]:
    """FieldsV1 of a map: `f:` members, `k:{…}` items of keyed lists, `v:` items of sets,
    `{}` leaves (atomic maps and lists included). `dots` adds the `.` of nodes a manager
    created, as Update entries have them; Apply entries mark only list items with it."""
    result: dict[str, Any] = {}
    for key, child in value.items():
        result[f"f:{key}"] = _field(key, child, node.prop(key), dots=dots)
    return result


def _field(key: str, value: Any, node: _Node, *, dots: bool) -> dict[str, Any]:
    dot: dict[str, Any] = {".": {}} if dots and key not in _NO_DOT else {}
    if isinstance(value, Mapping):
        if not value or node.atomic_map:
            return {}
        return {**dot, **field_set(value, node, dots=dots)}
    if isinstance(value, list) and value:
        if node.list_type == "map" and all(isinstance(v, Mapping) for v in value):
            items: dict[str, Any] = {}
            for item in value:
                identity = {k: item.get(k, _KEY_DEFAULTS.get(k)) for k in node.map_keys}
                items["k:" + _key_json(identity)] = {".": {}, **field_set(item, node.items(),
                                                                           dots=dots)}
            return {**dot, **items}
        if node.list_type == "set":
            return {**dot, **{"v:" + json.dumps(v): {} for v in value}}
    return {}


def meta_fields(metadata: Mapping[str, Any], schemas: Schemas, *, dots: bool) -> dict[str, Any]:
    kept = {k: v for k, v in metadata.items()
            if k in ("labels", "annotations", "finalizers", "ownerReferences") and v}
    return field_set(kept, schemas.object_meta, dots=dots) if kept else {}


def object_fields(obj: Mapping[str, Any], schemas: Schemas, *, dots: bool) -> dict[str, Any]:
    """FieldsV1 of everything in an object a client sets: metadata marks and the body."""
    node = schemas.node(str(obj["apiVersion"]), str(obj["kind"]))
    result: dict[str, Any] = {}
    meta = meta_fields(obj.get("metadata") or {}, schemas, dots=dots)
    if meta:
        result["f:metadata"] = meta
    body = {k: v for k, v in obj.items()
            if k not in ("apiVersion", "kind", "metadata", "status")}
    result.update(field_set(body, node, dots=dots))
    return result


def entry(manager: str, operation: str, time: str, api_version: str,
          fields: Mapping[str, Any], subresource: str | None = None) -> dict[str, Any]:
    written: dict[str, Any] = {"apiVersion": api_version, "fieldsType": "FieldsV1",
                               "fieldsV1": dict(fields), "manager": manager,
                               "operation": operation}
    if subresource:
        written["subresource"] = subresource
    written["time"] = time
    return written


# --- the server's defaults ----------------------------------------------------------------

def _image_pull_policy(image: str) -> str:
    name = image.rsplit("/", 1)[-1]
    if "@" in name:
        return "IfNotPresent"
    tag = name.partition(":")[2]
    return "Always" if tag in ("", "latest") else "IfNotPresent"


def _default_probe(probe: dict[str, Any]) -> None:
    for key, value in (("timeoutSeconds", 1), ("periodSeconds", 10), ("successThreshold", 1),
                       ("failureThreshold", 3)):
        probe.setdefault(key, value)
    if isinstance(probe.get("httpGet"), dict):
        probe["httpGet"].setdefault("scheme", "HTTP")


def _default_container(container: dict[str, Any]) -> None:
    container.setdefault("imagePullPolicy", _image_pull_policy(str(container.get("image", ""))))
    container.setdefault("resources", {})
    container.setdefault("terminationMessagePath", "/dev/termination-log")
    container.setdefault("terminationMessagePolicy", "File")
    for port in container.get("ports") or ():
        port.setdefault("protocol", "TCP")
    for name in ("livenessProbe", "readinessProbe", "startupProbe"):
        if isinstance(container.get(name), dict):
            _default_probe(container[name])
    for env in container.get("env") or ():
        field_ref = (env.get("valueFrom") or {}).get("fieldRef")
        if isinstance(field_ref, dict):
            field_ref.setdefault("apiVersion", "v1")


def _default_pod_template(template: dict[str, Any]) -> None:
    template.setdefault("metadata", {})["creationTimestamp"] = None
    spec = template.setdefault("spec", {})
    for container in [*(spec.get("initContainers") or ()), *(spec.get("containers") or ())]:
        _default_container(container)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("securityContext", {})
    spec.setdefault("terminationGracePeriodSeconds", 30)
    for volume in spec.get("volumes") or ():
        for source in ("secret", "configMap", "projected"):
            if isinstance(volume.get(source), dict):
                volume[source].setdefault("defaultMode", 420)
        claim = (volume.get("ephemeral") or {}).get("volumeClaimTemplate")
        if isinstance(claim, dict):
            claim.setdefault("metadata", {})["creationTimestamp"] = None
            claim.setdefault("spec", {}).setdefault("volumeMode", "Filesystem")


def _default_hpa_rules(rules: dict[str, Any], *, up: bool) -> None:
    rules.setdefault("selectPolicy", "Max")
    rules.setdefault("stabilizationWindowSeconds", 0 if up else 300)
    rules.setdefault("policies", [
        {"periodSeconds": 15, "type": "Pods", "value": 4},
        {"periodSeconds": 15, "type": "Percent", "value": 100},
    ] if up else [{"periodSeconds": 15, "type": "Percent", "value": 100}])


CNPG_PARAMETERS = {
    "archive_mode": "on", "archive_timeout": "5min", "dynamic_shared_memory_type": "posix",
    "full_page_writes": "on", "log_destination": "csvlog", "log_directory": "/controller/log",
    "log_filename": "postgres", "log_rotation_age": "0", "log_rotation_size": "0",
    "log_truncate_on_rotation": "false", "logging_collector": "on",
    "max_parallel_workers": "32", "max_replication_slots": "32",
    "max_worker_processes": "32", "shared_memory_type": "mmap",
    "ssl_max_protocol_version": "TLSv1.3", "ssl_min_protocol_version": "TLSv1.3",
    "wal_keep_size": "512MB", "wal_level": "logical", "wal_log_hints": "on",
    "wal_receiver_timeout": "5s", "wal_sender_timeout": "5s",
}
"""What CloudNativePG's defaulting webhook adds to `postgresql.parameters`."""


def apply_defaults(obj: dict[str, Any], service_ip: str) -> None:
    """Fill in what the API server (and the operators' webhooks and CRD schema defaults) would."""
    kind, spec = obj["kind"], obj.get("spec")
    if kind == "Deployment":
        spec.setdefault("replicas", 1)
        spec.setdefault("progressDeadlineSeconds", 600)
        spec.setdefault("revisionHistoryLimit", 10)
        strategy = spec.setdefault("strategy", {})
        strategy.setdefault("type", "RollingUpdate")
        if strategy["type"] == "RollingUpdate":
            rolling = strategy.setdefault("rollingUpdate", {})
            rolling.setdefault("maxSurge", "25%")
            rolling.setdefault("maxUnavailable", "25%")
        _default_pod_template(spec["template"])
    elif kind == "StatefulSet":
        spec.setdefault("replicas", 1)
        spec.setdefault("podManagementPolicy", "OrderedReady")
        spec.setdefault("revisionHistoryLimit", 10)
        spec.setdefault("persistentVolumeClaimRetentionPolicy",
                        {"whenDeleted": "Retain", "whenScaled": "Retain"})
        spec.setdefault("updateStrategy", {"rollingUpdate": {"partition": 0},
                                           "type": "RollingUpdate"})
        _default_pod_template(spec["template"])
        for claim in spec.get("volumeClaimTemplates") or ():
            claim.setdefault("apiVersion", "v1")
            claim.setdefault("kind", "PersistentVolumeClaim")
            claim.setdefault("metadata", {})["creationTimestamp"] = None
            claim.setdefault("spec", {}).setdefault("volumeMode", "Filesystem")
            claim["status"] = {"phase": "Pending"}
    elif kind == "CronJob":
        spec.setdefault("concurrencyPolicy", "Allow")
        spec.setdefault("failedJobsHistoryLimit", 1)
        spec.setdefault("successfulJobsHistoryLimit", 3)
        spec.setdefault("suspend", False)
        job = spec["jobTemplate"]
        job.setdefault("metadata", {})["creationTimestamp"] = None
        _default_pod_template(job["spec"]["template"])
    elif kind == "Service":
        if spec.get("clusterIP") == "None":
            spec["clusterIPs"] = ["None"]
        else:
            spec.setdefault("clusterIP", service_ip)
            spec["clusterIPs"] = [spec["clusterIP"]]
        spec.setdefault("internalTrafficPolicy", "Cluster")
        spec.setdefault("ipFamilies", ["IPv4"])
        spec.setdefault("ipFamilyPolicy", "SingleStack")
        spec.setdefault("sessionAffinity", "None")
        spec.setdefault("type", "ClusterIP")
        for port in spec.get("ports") or ():
            port.setdefault("protocol", "TCP")
            port.setdefault("targetPort", port["port"])
    elif kind == "PersistentVolumeClaim":
        spec.setdefault("volumeMode", "Filesystem")
    elif kind == "Namespace":
        obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = \
            obj["metadata"]["name"]
        obj["spec"] = {"finalizers": ["kubernetes"]}
    elif kind == "Secret":
        obj.setdefault("type", "Opaque")
    elif kind == "HorizontalPodAutoscaler":
        behavior = spec.setdefault("behavior", {})
        _default_hpa_rules(behavior.setdefault("scaleUp", {}), up=True)
        _default_hpa_rules(behavior.setdefault("scaleDown", {}), up=False)
    elif kind == "CustomResourceDefinition":
        spec.setdefault("conversion", {"strategy": "None"})
    elif kind == "ExternalSecret":
        for item in [*(spec.get("data") or ()), *(spec.get("dataFrom") or ())]:
            ref = item.get("remoteRef") or item.get("extract")
            for key, value in (("conversionStrategy", "Default"), ("decodingStrategy", "None"),
                               ("metadataPolicy", "None")):
                ref.setdefault(key, value)
        spec["target"].setdefault("deletionPolicy", "Retain")
    elif kind == "Cluster" and obj["apiVersion"].startswith("postgresql.cnpg.io/"):
        for key, value in (("enablePDB", True), ("failoverDelay", 0), ("logLevel", "info"),
                           ("maxSyncReplicas", 0), ("minSyncReplicas", 0), ("postgresGID", 26),
                           ("postgresUID", 26), ("primaryUpdateMethod", "restart"),
                           ("primaryUpdateStrategy", "unsupervised"),
                           ("smartShutdownTimeout", 180), ("startDelay", 3600),
                           ("stopDelay", 1800), ("switchoverDelay", 3600)):
            spec.setdefault(key, value)
        parameters = spec.setdefault("postgresql", {}).setdefault("parameters", {})
        for key, value in CNPG_PARAMETERS.items():
            parameters.setdefault(key, value)
        initdb = (spec.get("bootstrap") or {}).get("initdb")
        if isinstance(initdb, dict):
            initdb.setdefault("encoding", "UTF8")
            initdb.setdefault("localeCType", "C")
            initdb.setdefault("localeCollate", "C")
        monitoring = spec.setdefault("monitoring", {})
        monitoring.setdefault("customQueriesConfigMap",
                              [{"key": "queries", "name": "cnpg-default-monitoring"}])
        monitoring.setdefault("disableDefaultQueries", False)
        monitoring.setdefault("enablePodMonitor", False)
    elif kind == "GitRepository":
        spec.setdefault("timeout", "60s")
    elif kind == "Kustomization" and obj["apiVersion"].startswith("kustomize.toolkit"):
        spec.setdefault("force", False)


# --- status, as the controllers write it ---------------------------------------------------

@dataclass
class StatusWrite:
    manager: str
    time: str
    subresource: str | None = "status"


def _condition(kind: str, status: str, reason: str, message: str, since: str,
               updated: str | None = None) -> dict[str, Any]:
    condition = {"lastTransitionTime": since, "message": message, "reason": reason,
                 "status": status, "type": kind}
    if updated is not None:
        condition["lastUpdateTime"] = updated
    return condition


def status_of(obj: dict[str, Any], created: str, synced: str,
              cluster: str) -> tuple[dict[str, Any] | None, list[StatusWrite]]:
    kind, api_version = obj["kind"], obj["apiVersion"]
    meta, spec = obj["metadata"], obj.get("spec") or {}
    name, generation = meta["name"], meta.get("generation", 1)
    later = _at(synced, 40 + _digest(name) % 200)
    if kind == "Deployment":
        replicas = spec["replicas"]
        template_hash = f"{_digest(json.dumps(spec['template'], sort_keys=True)):x}"[:10]
        status: dict[str, Any] = {"conditions": [
            _condition("Available", "True", "MinimumReplicasAvailable",
                       "Deployment has minimum availability.", created, later),
            _condition("Progressing", "True", "NewReplicaSetAvailable",
                       f'ReplicaSet "{name}-{template_hash}" has successfully progressed.',
                       created, later),
        ], "observedGeneration": generation}
        if replicas:
            status.update({"availableReplicas": replicas, "readyReplicas": replicas,
                           "replicas": replicas, "updatedReplicas": replicas})
        return status, [StatusWrite("kube-controller-manager", later)]
    if kind == "StatefulSet":
        revision = f"{name}-{_digest(name, 'rev') % 10**10:010d}"[:len(name) + 11]
        replicas = spec["replicas"]
        return {"availableReplicas": replicas, "collisionCount": 0, "currentReplicas": replicas,
                "currentRevision": revision, "observedGeneration": generation,
                "readyReplicas": replicas, "replicas": replicas, "updateRevision": revision,
                "updatedReplicas": replicas}, [StatusWrite("kube-controller-manager", later)]
    if kind == "CronJob":
        last = {"ledger-reconcile": "2026-11-26T01:15:00Z",
                "ledger-db-restore-drill": "2026-11-22T04:00:00Z",
                "erp-db-restore-drill": "2026-11-22T02:00:00Z"}[name]
        done = _at(last, {"ledger-reconcile": 1437}.get(name, 5311))
        return {"lastScheduleTime": last, "lastSuccessfulTime": done}, \
            [StatusWrite("kube-controller-manager", done)]
    if kind == "HorizontalPodAutoscaler":
        replicas, scaled = HPA_REPLICAS[(meta["namespace"], name)]
        utilization = 61 if replicas > spec["minReplicas"] else 23
        return {"conditions": [
            _condition("AbleToScale", "True", "ReadyForNewScale",
                       "recommended size matches current size", scaled),
            _condition("ScalingActive", "True", "ValidMetricFound",
                       "the HPA was able to successfully calculate a replica count from cpu "
                       "resource utilization (percentage of request)", created),
            _condition("ScalingLimited", "False", "DesiredWithinRange",
                       "the desired count is within the acceptable range", scaled),
        ], "currentMetrics": [{"resource": {"current": {
            "averageUtilization": utilization,
            "averageValue": f"{utilization * 5 if 'ledger' in name else utilization * 2}m"},
            "name": "cpu"}, "type": "Resource"}],
            "currentReplicas": replicas, "desiredReplicas": replicas, "lastScaleTime": scaled}, \
            [StatusWrite("kube-controller-manager", scaled)]
    if kind == "PodDisruptionBudget":
        expected = {"ledger-api": 5}.get(name, 3 if meta["namespace"] == "erp-prod" else 1)
        desired = spec["minAvailable"] if "minAvailable" in spec else \
            expected - int(spec.get("maxUnavailable", 0))
        allowed = max(expected - desired, 0)
        return {"conditions": [_condition(
            "DisruptionAllowed", "True" if allowed else "False",
            "SufficientPods" if allowed else "InsufficientPods", "", later)],
            "currentHealthy": expected, "desiredHealthy": desired,
            "disruptionsAllowed": allowed, "expectedPods": expected,
            "observedGeneration": generation}, [StatusWrite("kube-controller-manager", later)]
    if kind == "Service":
        return {"loadBalancer": {}}, []
    if kind == "PersistentVolumeClaim":
        return {"accessModes": spec["accessModes"],
                "capacity": {"storage": spec["resources"]["requests"]["storage"]},
                "phase": "Bound"}, [StatusWrite("kube-controller-manager", _at(created, 2))]
    if kind == "Namespace":
        return {"phase": "Active"}, []
    if kind == "ResourceQuota":
        hard = dict(spec["hard"])
        used = {key: "0" for key in hard}
        if meta["namespace"] == "erp-staging":
            used.update({"limits.cpu": "4400m", "limits.memory": "8448Mi",
                         "persistentvolumeclaims": "2", "pods": "4",
                         "requests.cpu": "1850m", "requests.memory": "5440Mi",
                         "requests.storage": "60Gi"})
        else:
            used.update({"limits.cpu": "6", "limits.memory": "12Gi", "pods": "6",
                         "requests.cpu": "3", "requests.memory": "6Gi"})
        return {"hard": hard, "used": used}, \
            [StatusWrite("kube-controller-manager", _at(SNAPSHOT_TIME, -_digest(name) % 900))]
    if kind == "Ingress":
        return {"loadBalancer": {"ingress": [{"hostname": (
            "k8s-traefik-traefik-4f1c2d9e0b-1187409921.elb.eu-central-1.amazonaws.com")}]}}, \
            [StatusWrite("traefik", later)]
    if kind == "CustomResourceDefinition":
        names = dict(spec["names"])
        return {"acceptedNames": names, "conditions": [
            _condition("NamesAccepted", "True", "NoConflicts", "no conflicts found", created),
            _condition("Established", "True", "InitialNamesAccepted",
                       "the initial names have been accepted", created),
        ], "storedVersions": [v["name"] for v in spec["versions"] if v.get("storage")]}, \
            [StatusWrite("kube-apiserver", created)]
    group = api_version.rpartition("/")[0]
    if group == "cert-manager.io" and kind == "Certificate":
        issued = "2026-10-28T03:12:09Z"
        return {"conditions": [_condition("Ready", "True", "Ready",
                                          "Certificate is up to date and has not expired",
                                          issued)],
                "notAfter": _at(issued, 90 * 86400 - 1), "notBefore": issued,
                "renewalTime": _at(issued, 60 * 86400 - 1), "revision": 7}, \
            [StatusWrite("cert-manager-certificates-readiness", issued)]
    if group == "cert-manager.io":
        return {"acme": {"lastPrivateKeyHash": "q3Lk0Zc2n1mK9xw8GvY4pB7sR5tU6yHjA1dF3eW2oI8=",
                         "lastRegisteredEmail": spec["acme"]["email"],
                         "uri": "https://acme-v02.api.letsencrypt.org/acme/acct/1847302915"},
                "conditions": [_condition("Ready", "True", "ACMEAccountRegistered",
                                          "The ACME account was registered with the ACME "
                                          "server", created)]}, \
            [StatusWrite("cert-manager-clusterissuers", created)]
    if kind == "ExternalSecret":
        refreshed = _at(SNAPSHOT_TIME, -(_digest(name) % 900))
        return {"binding": {"name": spec["target"]["name"]}, "conditions": [_condition(
            "Ready", "True", "SecretSynced", "secret synced", created)],
            "refreshTime": refreshed, "syncedResourceVersion": f"1-{_digest(name):032x}"[:34]}, \
            [StatusWrite("external-secrets", refreshed)]
    if kind == "ClusterSecretStore":
        return {"capabilities": "ReadWrite", "conditions": [_condition(
            "Ready", "True", "Valid", "store validated", created)]}, \
            [StatusWrite("external-secrets", created)]
    if group == "postgresql.cnpg.io" and kind == "Cluster":
        instances = spec["instances"]
        pods = [f"{name}-{i}" for i in range(1, instances + 1)]
        return {"certificates": {"expirations": {
            f"{name}-ca": "2027-02-21 13:41:02 +0000 UTC",
            f"{name}-replication": "2027-02-21 13:41:02 +0000 UTC",
            f"{name}-server": "2027-02-21 13:41:02 +0000 UTC"}},
            "conditions": [_condition("Ready", "True", "ClusterIsReady", "Cluster is Ready",
                                      later),
                           _condition("ContinuousArchiving", "True",
                                      "ContinuousArchivingSuccess",
                                      "Continuous archiving is working", created)],
            "currentPrimary": pods[0], "currentPrimaryTimestamp": created,
            "firstRecoverabilityPoint": "2026-08-28T00:00:09Z",
            "healthyPVC": sorted(pods + ([f"{p}-wal" for p in pods]
                                         if spec.get("walStorage") else [])),
            "image": spec["imageName"], "instances": instances,
            "instancesStatus": {"healthy": pods}, "latestGeneratedNode": instances,
            "phase": "Cluster in healthy state", "readyInstances": instances,
            "targetPrimary": pods[0], "targetPrimaryTimestamp": created}, \
            [StatusWrite("manager", later)]
    if kind == "ScheduledBackup":
        return {"lastCheckTime": "2026-11-26T00:00:00Z",
                "lastScheduleTime": "2026-11-26T01:00:00Z",
                "nextScheduleTime": "2026-11-27T01:00:00Z"}, \
            [StatusWrite("manager", "2026-11-26T01:00:00Z")]
    if kind == "Schedule":
        last = "2026-11-26T01:50:00Z" if "nightly" in name else "2026-11-26T02:25:00Z"
        if name.startswith("erp-prod"):
            last = "2026-11-26T01:45:00Z" if "nightly" in name else "2026-11-26T02:00:00Z"
        return {"lastBackup": last, "phase": "Enabled"}, [StatusWrite("velero-server", last)]
    if kind == "BackupStorageLocation":
        return {"lastSyncedTime": "2026-11-26T02:57:31Z",
                "lastValidationTime": "2026-11-26T02:12:40Z", "phase": "Available"}, \
            [StatusWrite("velero-server", "2026-11-26T02:57:31Z")]
    if kind == "SealedSecret":
        return {"conditions": [{"lastTransitionTime": synced, "lastUpdateTime": synced,
                                "status": "True", "type": "Synced"}],
                "observedGeneration": generation}, [StatusWrite("controller", synced)]
    if kind == "Application":
        source = spec.get("source") or (spec.get("sources") or [{}])[0]
        revision = f"{_digest('main', SNAPSHOT_TIME):040x}"[:40]
        reconciled = _at(SNAPSHOT_TIME, -(_digest(name) % 170))
        return {"health": {"status": "Healthy"}, "reconciledAt": reconciled,
                "resourceHealthSource": "appTree",
                "sourceType": "Helm" if "helm" in source else "Kustomize",
                "summary": {}, "sync": {"comparedTo": {
                    "destination": spec["destination"],
                    **({"sources": spec["sources"]} if "sources" in spec
                       else {"source": spec["source"]})},
                    "revision" if "source" in spec else "revisions":
                        revision if "source" in spec else [revision, revision],
                    "status": "Synced"}}, \
            [StatusWrite("argocd-application-controller", reconciled, None)]
    if kind == "ApplicationSet":
        return {"conditions": [
            {"lastTransitionTime": created, "message": "Successfully generated parameters "
             "for all Applications", "reason": "ApplicationSetUpToDate", "status": "False",
             "type": "ErrorOccurred"},
            {"lastTransitionTime": created, "message": "Successfully generated parameters "
             "for all Applications", "reason": "ParametersGenerated", "status": "True",
             "type": "ParametersGenerated"},
            {"lastTransitionTime": created, "message": "ApplicationSet up to date",
             "reason": "ApplicationSetUpToDate", "status": "True", "type": "ResourcesUpToDate"},
        ]}, [StatusWrite("argocd-applicationset-controller", created, None)]
    if kind in ("GitRepository", "Kustomization") and "fluxcd" in group:
        revision = "main@sha1:" + f"{_digest('flux', SNAPSHOT_TIME):040x}"[:40]
        checked = _at(SNAPSHOT_TIME, -(_digest(name) % 290))
        controller = "source-controller" if kind == "GitRepository" else "kustomize-controller"
        status = {"conditions": [_condition("Ready", "True", "Succeeded",
                                            f"stored artifact for revision '{revision}'"
                                            if kind == "GitRepository" else
                                            f"Applied revision: {revision}", checked)],
                  "observedGeneration": generation}
        if kind == "GitRepository":
            status["artifact"] = {
                "digest": "sha256:" + f"{_digest('artifact', revision):064x}"[:64],
                "lastUpdateTime": synced,
                "path": f"gitrepository/flux-system/{name}/{revision[-40:]}.tar.gz",
                "revision": revision, "size": 48213,
                "url": f"http://source-controller.flux-system.svc.cluster.local./"
                       f"gitrepository/flux-system/{name}/{revision[-40:]}.tar.gz"}
        else:
            status.update({"lastAppliedRevision": revision, "lastAttemptedRevision": revision})
        return status, [StatusWrite(controller, checked)]
    if kind == "ServiceLevelObjective":
        return {"errorBudgetRemaining": "71.4", "lastEvaluated": _at(SNAPSHOT_TIME, -58),
                "objective": str(spec["objective"]), "state": "Healthy"}, \
            [StatusWrite("slo-operator", _at(SNAPSHOT_TIME, -58))]
    return None, []


# --- declared objects and their deployers ---------------------------------------------------

_ORIGIN = re.compile(r"\(app (Application|ApplicationSet|Kustomization) ([^/\s]+)/(\S+)"
                     r"(?: \((\S+)\))?\)(?: → cluster (\S+))?")


def declared_objects() -> tuple[list[Manifest], str]:
    config = load_config(find_config(ESTATE))
    loaded = load_declared([str(ESTATE)], root=ESTATE, config=config,
                           default_namespace=config.namespace or DEFAULT_NAMESPACE).loaded
    if loaded.errors:
        raise SystemExit("the estate does not load: " + "; ".join(e.message
                                                                   for e in loaded.errors))
    return list(loaded.manifests), config.kubernetes_version


def _server_side(sync_policy: Mapping[str, Any] | None) -> bool:
    return "ServerSideApply=true" in ((sync_policy or {}).get("syncOptions") or ())


def deployers(declared: list[Manifest]) -> dict[int, Deployer]:
    """Each declared object's deployer (by index), from the estate's own Argo CD objects."""
    ssa: dict[str, bool] = {}
    for manifest in declared:
        obj = manifest.obj
        if manifest.resource.kind == "Application":
            ssa[manifest.resource.name] = _server_side(obj["spec"].get("syncPolicy"))
        elif manifest.resource.kind == "ApplicationSet":
            template = obj["spec"]["template"]
            for generator in obj["spec"]["generators"]:
                for element in generator["list"]["elements"]:
                    name = template["metadata"]["name"].replace("{{ .env }}", element["env"])
                    ssa[name] = _server_side(template["spec"].get("syncPolicy"))
    found: dict[int, Deployer] = {}
    for index, manifest in enumerate(declared):
        match = _ORIGIN.search(manifest.origin or "")
        if match is None:
            top = manifest.location.path.split("/", 1)[0]
            app = "vendor" if top == "vendor" else "bootstrap"
            cluster = HAND_APPLIED_CLUSTER[manifest.resource.namespace]
            found[index] = Deployer(cluster, app, "kubectl-client-side-apply", "Update",
                                    "kubectl")
            continue
        tool, _, name, element, cluster = match.groups()
        if tool == "Kustomization":
            found[index] = Deployer(NONPROD, name, "kustomize-controller", "Apply", "flux")
            continue
        app = element or name
        if cluster not in (PROD, NONPROD):
            raise SystemExit(f"unknown cluster {cluster!r} in {manifest.origin!r}")
        found[index] = Deployer(cluster, app, MANAGER_APPLY,
                                "Apply" if ssa[app] else "Update", "argocd")
    return found


# --- one live object ------------------------------------------------------------------------

HAS_GENERATION = ("apps/", "batch/", "autoscaling/", "policy/", "networking.k8s.io/",
                  "apiextensions.k8s.io/")


def _has_generation(api_version: str) -> bool:
    return api_version.startswith(HAS_GENERATION) or \
        ("/" in api_version and "." in api_version.split("/")[0]
         and not api_version.startswith("rbac.authorization.k8s.io/"))


class Builder:
    def __init__(self, schemas: Schemas) -> None:
        self.schemas = schemas
        self.objects: dict[str, list[dict[str, Any]]] = {PROD: [], NONPROD: []}

    def add(self, cluster: str, obj: dict[str, Any]) -> dict[str, Any]:
        self.objects[cluster].append(obj)
        return obj

    def status_fields(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        node = self.schemas.node(str(obj["apiVersion"]), str(obj["kind"])).prop("status")
        return {"f:status": _field("status", obj["status"], node, dots=True)}

    def service_ip(self, cluster: str, namespace: str | None, name: str) -> str:
        value = _digest(cluster, namespace, name)
        return f"172.20.{value % 250 + 2}.{(value >> 8) % 250 + 2}"

    def declared(self, manifest: Manifest, deployer: Deployer) -> dict[str, Any]:
        resource = manifest.resource
        cluster = deployer.cluster
        obj = copy.deepcopy(dict(manifest.obj))
        metadata = obj.setdefault("metadata", {})
        namespaced = not is_cluster_scoped(resource.api_version, resource.kind)
        if namespaced and resource.namespace:
            metadata["namespace"] = resource.namespace
        else:
            metadata.pop("namespace", None)
        if resource.kind == "ConfigMap" and resource.name == "argocd-cm":
            # PLANTED: `admin.enabled: on` is a boolean to kubectl and the server rejected the
            # whole ConfigMap; what the cluster has is the version applied before it.
            obj["data"]["admin.enabled"] = ARGOCD_CM_ADMIN
        applied = copy.deepcopy(obj)  # what the deployer sent
        if deployer.tool == "argocd":
            group = resource.group
            tracking = f"{deployer.app}:{group}/{resource.kind}:" \
                       f"{resource.namespace if namespaced else ''}/{resource.name}"
            applied["metadata"].setdefault("annotations", {})[
                "argocd.argoproj.io/tracking-id"] = tracking
        elif deployer.tool == "flux":
            labels = applied["metadata"].setdefault("labels", {})
            labels["kustomize.toolkit.fluxcd.io/name"] = deployer.app
            labels["kustomize.toolkit.fluxcd.io/namespace"] = "flux-system"
        if deployer.client_side:
            annotations = applied["metadata"].setdefault("annotations", {})
            annotations["kubectl.kubernetes.io/last-applied-configuration"] = \
                json.dumps(applied, sort_keys=True, separators=(",", ":")) + "\n"
        live = copy.deepcopy(applied)
        if resource.kind == "Secret" and isinstance(live.get("stringData"), dict):
            data = live.setdefault("data", {})
            data.update({k: _b64(v) for k, v in live.pop("stringData").items()})
        apply_defaults(live, self.service_ip(cluster, resource.namespace, resource.name))

        first, last = TIMELINE[deployer.app]
        created = _at(first, _digest(cluster, resource.key) % 420)
        written = max(created, _at(last, _digest(resource.key) % 90))
        if deployer.app in ("bootstrap", "vendor"):  # applied once; argocd-cm again later
            written = last if resource.kind == "ConfigMap" else created
        server_meta: dict[str, Any] = {
            "creationTimestamp": created,
            "uid": _uid(cluster, resource.group, resource.kind, resource.namespace,
                        resource.name)}
        if _has_generation(resource.api_version):  # spec changes since creation
            server_meta["generation"] = 1 if written == created else \
                2 + _digest("generation", resource.key) % 5
        live["metadata"].update(server_meta)

        if deployer.client_side:
            fields = object_fields({k: v for k, v in live.items() if k != "status"},
                                   self.schemas, dots=True)
        else:
            fields = object_fields(applied, self.schemas, dots=False)
        managed = [entry(deployer.manager, deployer.operation, written, resource.api_version,
                         fields)]
        status, writers = status_of(live, created, written, cluster)
        if resource.kind == "Deployment":
            revision = str(2 + _digest("revision", resource.key) % 9)
            live["metadata"].setdefault("annotations", {})[
                "deployment.kubernetes.io/revision"] = revision
            managed.append(entry("kube-controller-manager", "Update", writers[0].time,
                                 resource.api_version, {"f:metadata": {"f:annotations": {
                                     ".": {}, "f:deployment.kubernetes.io/revision": {}}}}))
            key = (resource.namespace, resource.name)
            if key in HPA_REPLICAS:
                replicas, scaled = HPA_REPLICAS[key]
                live["spec"]["replicas"] = replicas
                status.update({"availableReplicas": replicas, "readyReplicas": replicas,
                               "replicas": replicas, "updatedReplicas": replicas})
                managed.append(entry("kube-controller-manager", "Update", scaled,
                                     resource.api_version, {"f:spec": {"f:replicas": {}}},
                                     "scale"))
                _disown(managed[0]["fieldsV1"], ["f:spec", "f:replicas"])
        if resource.kind == "PersistentVolumeClaim":
            self._bind(live, managed, cluster, created)
        if resource.kind in ("GitRepository", "Kustomization"):
            live["metadata"]["finalizers"] = ["finalizers.fluxcd.io"]
            managed.append(entry(writers[0].manager, "Update", _at(created, 1),
                                 resource.api_version, {"f:metadata": {"f:finalizers": {
                                     ".": {}, 'v:"finalizers.fluxcd.io"': {}}}}))
        if status is not None:
            live["status"] = status
            for writer in writers:
                managed.append(entry(writer.manager, "Update", writer.time, resource.api_version,
                                     self.status_fields(live), writer.subresource))
        live["metadata"]["managedFields"] = managed
        return self.add(cluster, live)

    def _bind(self, live: dict[str, Any], managed: list[dict[str, Any]], cluster: str,
              created: str) -> None:
        """What the volume binder adds to a claim."""
        spec, metadata = live["spec"], live["metadata"]
        provisioner = STORAGE[spec.get("storageClassName", "gp3")]
        spec.setdefault("storageClassName", "gp3")
        spec["volumeName"] = "pvc-" + metadata["uid"]
        created_map: dict[str, Any] = {} if metadata.get("annotations") else {".": {}}
        metadata.setdefault("annotations", {}).update({
            "pv.kubernetes.io/bind-completed": "yes",
            "pv.kubernetes.io/bound-by-controller": "yes",
            "volume.beta.kubernetes.io/storage-provisioner": provisioner,
            "volume.kubernetes.io/storage-provisioner": provisioner})
        metadata["finalizers"] = ["kubernetes.io/pvc-protection"]
        managed.append(entry("kube-controller-manager", "Update", _at(created, 2), "v1", {
            "f:metadata": {"f:annotations": {
                **created_map,
                "f:pv.kubernetes.io/bind-completed": {},
                "f:pv.kubernetes.io/bound-by-controller": {},
                "f:volume.beta.kubernetes.io/storage-provisioner": {},
                "f:volume.kubernetes.io/storage-provisioner": {}}},
            "f:spec": {"f:volumeName": {}}}))

    def made(self, cluster: str, obj: dict[str, Any], *, manager: str, created: str,
             owner: Mapping[str, Any] | None = None, status: dict[str, Any] | None = None,
             status_manager: str | None = None) -> dict[str, Any]:
        """An object a controller or a person made (not declared), with its managedFields."""
        metadata = obj["metadata"]
        namespace = metadata.get("namespace")
        key = (cluster, obj["apiVersion"], obj["kind"], namespace, metadata["name"])
        if owner is not None:
            owner_meta = owner["metadata"]
            metadata["ownerReferences"] = [{
                "apiVersion": owner["apiVersion"], "blockOwnerDeletion": True,
                "controller": True, "kind": owner["kind"], "name": owner_meta["name"],
                "uid": owner_meta["uid"]}]
        apply_defaults(obj, self.service_ip(cluster, namespace, metadata["name"]))
        fields = object_fields(obj, self.schemas, dots=True)
        metadata.update({"creationTimestamp": created, "uid": _uid(*key)})
        if _has_generation(obj["apiVersion"]):
            metadata["generation"] = 1
        managed = [entry(manager, "Update", created, obj["apiVersion"], fields)]
        if obj["kind"] == "PersistentVolumeClaim":
            self._bind(obj, managed, cluster, created)
        if status is not None:
            obj["status"] = status
            if obj["kind"] != "Namespace":  # a Namespace's phase is set with the object
                managed.append(entry(status_manager or manager, "Update", _at(created, 3),
                                     obj["apiVersion"], self.status_fields(obj), "status"))
        metadata["managedFields"] = managed
        return self.add(cluster, obj)


def _disown(fields: dict[str, Any], path: list[str]) -> None:
    """Remove a leaf from a FieldsV1 set (another manager took it over), and the maps it
    leaves empty."""
    node = fields
    trail = []
    for token in path[:-1]:
        if token not in node:
            return
        trail.append((node, token))
        node = node[token]
    node.pop(path[-1], None)
    for parent, token in reversed(trail):
        if parent[token] in ({}, {".": {}}) and token.startswith("f:"):
            del parent[token]
        else:
            break


def _own(path: list[str]) -> dict[str, Any]:
    node: dict[str, Any] = {}
    for token in reversed(path):
        node = {token: node}
    return node


# --- what else is in the clusters ------------------------------------------------------------

FAKE_CA = ("-----BEGIN CERTIFICATE-----\n"
           "MIIC/jCCAeagAwIBAgIBADANBgkqhkiG9w0BAQsFADAVMRMwEQYDVQQDEwprdWJl\n"
           "cm5ldGVzMB4XDTI1MDMwMzA4NTEyMFoXDTM1MDMwMTA4NTEyMFowFTETMBEGA1UE\n"
           "AxMKa3ViZXJuZXRlczANOTAFAKEFAKEFAKEFAKEnotarealcertificate0000000\n"
           "-----END CERTIFICATE-----\n")


def neighbours(builder: Builder, live: dict[tuple[str, str, str | None, str], dict[str, Any]],
               namespaces: dict[str, set[str]]) -> None:
    """Objects the clusters hold besides the declared ones: platform namespaces, per-namespace
    defaults, and what controllers made from declared objects."""
    for cluster, platform in PLATFORM_NAMESPACES.items():
        for name in platform:
            if name in namespaces[cluster]:
                continue
            builder.made(cluster, {"apiVersion": "v1", "kind": "Namespace",
                                   "metadata": {"name": name}},
                         manager="kube-apiserver" if name.startswith(("kube-", "default"))
                         else "helm", created=_at(CLUSTER_BUILT[cluster],
                                                  _digest(name) % 3000),
                         status={"phase": "Active"})
            namespaces[cluster].add(name)
    for cluster, names in namespaces.items():
        for name in sorted(names):
            if name in ("kube-node-lease", "kube-public", "kube-system"):
                continue
            created = _at(CLUSTER_BUILT[cluster], _digest(cluster, name) % 3000)
            declared_namespace = live.get((cluster, "Namespace", None, name))
            if declared_namespace is not None:
                created = declared_namespace["metadata"]["creationTimestamp"]
            builder.made(cluster, {"apiVersion": "v1", "kind": "ServiceAccount",
                                   "metadata": {"name": "default", "namespace": name}},
                         manager="kube-controller-manager", created=created)
            builder.made(cluster, {
                "apiVersion": "v1", "kind": "ConfigMap", "data": {"ca.crt": FAKE_CA},
                "metadata": {"annotations": {"kubernetes.io/description": (
                    "Contains a CA bundle that can be used to verify the kube-apiserver when "
                    "using internal endpoints such as the internal service IP or "
                    "kubernetes.default.svc. No other usage is guaranteed across "
                    "distributions of Kubernetes clusters.")},
                    "name": "kube-root-ca.crt", "namespace": name}},
                manager="kube-controller-manager", created=created)

    def owner(cluster: str, kind: str, namespace: str, name: str) -> dict[str, Any]:
        return live[(cluster, kind, namespace, name)]

    # CloudNativePG: per cluster its Services, ServiceAccount, PDB, PVCs and app Secret.
    for cluster, namespace, password in ((PROD, "erp-prod", "Qm7tR2vX9pL4sK8w"),
                                         (PROD, "finance-ledger", "Zt4nB8qW2mJ6xR1c"),
                                         (NONPROD, "erp-staging", "staging-db-Hy3kP9")):
        db = owner(cluster, "Cluster", namespace,
                   "ledger-db" if namespace == "finance-ledger" else "erp-db")
        name, created = db["metadata"]["name"], _at(db["metadata"]["creationTimestamp"], 4)
        spec = db["spec"]
        database, user = spec["bootstrap"]["initdb"]["database"], \
            spec["bootstrap"]["initdb"]["owner"]
        labels = {"cnpg.io/cluster": name}
        for suffix, role in (("r", None), ("ro", "replica"), ("rw", "primary")):
            selector = {"cnpg.io/cluster": name, **({"cnpg.io/instanceRole": role}
                                                    if role else {})}
            if role is None:
                selector["cnpg.io/podRole"] = "instance"
            builder.made(cluster, {"apiVersion": "v1", "kind": "Service", "metadata": {
                "labels": dict(labels), "name": f"{name}-{suffix}", "namespace": namespace},
                "spec": {"ports": [{"name": "postgres", "port": 5432,
                                    "targetPort": 5432}], "selector": selector}},
                manager="manager", created=created, owner=db, status={"loadBalancer": {}})
        builder.made(cluster, {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {
            "annotations": dict((spec.get("serviceAccountTemplate") or {}).get(
                "metadata", {}).get("annotations") or {}) or None,
            "labels": dict(labels), "name": name, "namespace": namespace}},
            manager="manager", created=created, owner=db)
        if spec["instances"] > 1:
            builder.made(cluster, {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
                                   "metadata": {"labels": dict(labels),
                                                "name": f"{name}-primary",
                                                "namespace": namespace},
                                   "spec": {"maxUnavailable": 1, "selector": {"matchLabels": {
                                       "cnpg.io/cluster": name,
                                       "cnpg.io/instanceRole": "primary"}}}},
                         manager="manager", created=created, owner=db, status={
                             "currentHealthy": 1, "desiredHealthy": 0,
                             "disruptionsAllowed": 1, "expectedPods": 1,
                             "observedGeneration": 1}, status_manager="kube-controller-manager")
        for index in range(1, spec["instances"] + 1):
            volumes = [("", spec["storage"])]
            if spec.get("walStorage"):
                volumes.append(("-wal", spec["walStorage"]))
            for suffix, storage in volumes:
                builder.made(cluster, {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                                       "metadata": {"labels": {
                                           **labels, "cnpg.io/instanceName": f"{name}-{index}",
                                           "cnpg.io/pvcRole": "PG_WAL" if suffix else "PG_DATA"},
                                           "name": f"{name}-{index}{suffix}",
                                           "namespace": namespace},
                                       "spec": {"accessModes": ["ReadWriteOnce"],
                                                "resources": {"requests": {
                                                    "storage": storage["size"]}},
                                                "storageClassName": storage["storageClass"]}},
                             manager="manager", created=_at(created, 30 * index), owner=db,
                             status={"accessModes": ["ReadWriteOnce"],
                                     "capacity": {"storage": storage["size"]},
                                     "phase": "Bound"},
                             status_manager="kube-controller-manager")
        host = f"{name}-rw"
        builder.made(cluster, {"apiVersion": "v1", "kind": "Secret", "type":
                               "kubernetes.io/basic-auth", "metadata": {
                                   "labels": {**labels, "cnpg.io/reload": "true"},
                                   "name": f"{name}-app", "namespace": namespace},
                               "data": {k: _b64(v) for k, v in {
                                   "dbname": database, "host": host, "password": password,
                                   "port": "5432", "username": user, "user": user,
                                   "uri": f"postgresql://{user}:{password}@{host}."
                                          f"{namespace}:5432/{database}"}.items()}},
                     manager="manager", created=created, owner=db)

    # Secrets of the ExternalSecrets and of the SealedSecret, TLS Secrets of cert-manager.
    for cluster, namespace, name, values in (
            (PROD, "erp-prod", "odoo-conf", {"odoo.conf": "[options]\nadmin_passwd = "
                                             "Xk2!mP9#vL4qR7sT\nsmtp_password = "
                                             "BHx3Qz7vK1mN9pR2sT4wY6\n",
                                             "redis-password": "r3d1s-S3ss10ns-Wq8"}),
            (PROD, "finance-ledger", "ledger-api", {"ebics-gateway-token": "ebx_9f3k2m8q1z7w",
                                                    "export-signing-key": "sk-ledger-4Tq8Lm2Z"}),
            (PROD, "reporting", "report-portal", {"ledger-readonly-uri": (
                "postgresql://reports_ro:Rp5vN2xQ8k@ledger-db-ro.finance-ledger:5432/ledger"),
                "redis-password": "c4che-Redis-pW7"})):
        source = owner(cluster, "ExternalSecret", namespace, name)
        builder.made(cluster, {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                               "metadata": {"annotations": {
                                   "reconcile.external-secrets.io/data-hash":
                                       f"{_digest(name, 'hash'):016x}"},
                                   "labels": {"reconcile.external-secrets.io/created-by":
                                              f"{_digest(namespace, name):016x}",
                                              "reconcile.external-secrets.io/managed": "true"},
                                   "name": name, "namespace": namespace},
                               "data": {k: _b64(v) for k, v in values.items()}},
                     manager="external-secrets", created=_at(
                         source["metadata"]["creationTimestamp"], 2), owner=source)
    sealed = owner(NONPROD, "SealedSecret", "erp-staging", "odoo-conf")
    builder.made(NONPROD, {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                           "metadata": {"labels": {"app.kubernetes.io/name": "odoo"},
                                        "name": "odoo-conf", "namespace": "erp-staging"},
                           "data": {"odoo.conf": _b64("[options]\nadmin_passwd = "
                                                      "st4ging-Master-K3y\n")}},
                 manager="controller", created=_at(sealed["metadata"]["creationTimestamp"], 1),
                 owner=sealed)
    for cluster, namespace, name in ((PROD, "erp-prod", "erp-acme-finance"),
                                     (NONPROD, "erp-staging", "erp-staging-acme-finance")):
        certificate = owner(cluster, "Certificate", namespace, name)
        secret = certificate["spec"]["secretName"]
        builder.made(cluster, {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
                               "metadata": {"annotations": {
                                   "cert-manager.io/alt-names":
                                       certificate["spec"]["dnsNames"][0],
                                   "cert-manager.io/certificate-name": name,
                                   "cert-manager.io/common-name": "",
                                   "cert-manager.io/issuer-group": "cert-manager.io",
                                   "cert-manager.io/issuer-kind": "ClusterIssuer",
                                   "cert-manager.io/issuer-name": "letsencrypt-prod"},
                                   "labels": {"controller.cert-manager.io/fao": "true"},
                                   "name": secret, "namespace": namespace},
                               "data": {"tls.crt": _b64(FAKE_CA),
                                        "tls.key": _b64(f"-----BEGIN EC PRIVATE KEY-----\n"
                                                        f"not-a-real-key-{name}\n"
                                                        f"-----END EC PRIVATE KEY-----\n")}},
                     manager="cert-manager-certificates-issuing",
                     created=_at(certificate["metadata"]["creationTimestamp"], 41))
    # The StatefulSets' claims (no owner: the default retention policy keeps them).
    for cluster, namespace, name in ((PROD, "erp-prod", "odoo-sessions-redis"),):
        workload = owner(cluster, "StatefulSet", namespace, name)
        for claim in workload["spec"].get("volumeClaimTemplates") or ():
            labels = dict(workload["spec"]["selector"]["matchLabels"])
            builder.made(cluster, {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                                   "metadata": {"labels": labels, "name":
                                                f"{claim['metadata']['name']}-{name}-0",
                                                "namespace": namespace},
                                   "spec": copy.deepcopy({k: v for k, v in claim["spec"].items()
                                                          if k != "volumeMode"})},
                         manager="kube-controller-manager",
                         created=_at(workload["metadata"]["creationTimestamp"], 1),
                         status={"accessModes": claim["spec"]["accessModes"],
                                 "capacity": claim["spec"]["resources"]["requests"],
                                 "phase": "Bound"})


# --- PLANTED drifts ------------------------------------------------------------------------

def plant(builder: Builder, live: dict[tuple[str, str, str | None, str], dict[str, Any]]) -> None:
    # 1. kubectl edit: the memory limit of the Odoo web pods.
    namespace, kind, name, container, memory = EDITED
    deployment = live[(PROD, kind, namespace, name)]
    for item in deployment["spec"]["template"]["spec"]["containers"]:
        if item["name"] == container:
            item["resources"]["limits"]["memory"] = memory
    path = ["f:spec", "f:template", "f:spec", "f:containers", "k:" + _key_json(
        {"name": container}), "f:resources", "f:limits", "f:memory"]
    _rewrite(deployment, path, "kubectl-edit", EDITED_AT)
    _rolled_out(deployment, _at(EDITED_AT, 2), _at(EDITED_AT, 191))

    # 2. kubectl scale: the cron runner stopped.
    namespace, kind, name, replicas = SCALED
    deployment = live[(PROD, kind, namespace, name)]
    deployment["spec"]["replicas"] = replicas
    _rewrite(deployment, ["f:spec", "f:replicas"], "kubectl-scale", SCALED_AT, "scale")
    status = deployment["status"]
    for key in ("availableReplicas", "readyReplicas", "replicas", "updatedReplicas"):
        status.pop(key, None)
    status["observedGeneration"] = deployment["metadata"]["generation"]
    _status_time(deployment, _at(SCALED_AT, 1))

    # 3. kubectl delete: the hourly filestore backup.
    namespace, kind, name = DELETED
    builder.objects[PROD].remove(live.pop((PROD, kind, namespace, name)))

    # 4. kubectl create: a NetworkPolicy nobody declared, marked as the estate's.
    namespace, name = DEBUG_POLICY
    builder.made(PROD, {
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {"annotations": {"acme-finance.example/incident": "INC-7731"},
                     "labels": {TRACKING_LABEL: "on-call"},
                     "name": name, "namespace": namespace},
        "spec": {"ingress": [{"from": [{"podSelector": {"matchLabels": {
            "run": "psql-debug"}}}], "ports": [{"port": 5432, "protocol": "TCP"}]}],
            "podSelector": {"matchLabels": {"cnpg.io/cluster": "erp-db"}},
            "policyTypes": ["Ingress"]}},
        manager="kubectl-create", created=DEBUG_POLICY_AT)

    # 5. kubectl patch: the Mailpit UI password of staging.
    namespace, name, key, value = ROTATED
    secret = live[(NONPROD, "Secret", namespace, name)]
    secret["data"][key] = _b64(value)
    secret["metadata"]["managedFields"].append(entry(
        "kubectl-patch", "Update", ROTATED_AT, "v1", _own(["f:data", f"f:{key}"])))


def _rewrite(obj: dict[str, Any], path: list[str], manager: str, time: str,
             subresource: str | None = None) -> None:
    """A hand edit of one field: the manager takes it over from the GitOps controller."""
    managed = obj["metadata"]["managedFields"]
    _disown(managed[0]["fieldsV1"], path)
    managed.insert(1, entry(manager, "Update", time, obj["apiVersion"], _own(path),
                            subresource))
    obj["metadata"]["generation"] += 1


def _rolled_out(deployment: dict[str, Any], started: str, finished: str) -> None:
    """The deployment controller rolls the edited template out."""
    metadata, status = deployment["metadata"], deployment["status"]
    revision = str(int(metadata["annotations"]["deployment.kubernetes.io/revision"]) + 1)
    metadata["annotations"]["deployment.kubernetes.io/revision"] = revision
    template_hash = f"{_digest(json.dumps(deployment['spec']['template'], sort_keys=True)):x}"[:10]
    for condition in status["conditions"]:
        condition["lastUpdateTime"] = finished
        if condition["type"] == "Progressing":
            condition["message"] = (f'ReplicaSet "{metadata["name"]}-{template_hash}" has '
                                    "successfully progressed.")
    status["observedGeneration"] = metadata["generation"]
    for item in metadata["managedFields"]:
        if item["manager"] == "kube-controller-manager" and "subresource" not in item:
            item["time"] = started
    _status_time(deployment, finished)


def _status_time(obj: dict[str, Any], time: str) -> None:
    for item in obj["metadata"]["managedFields"]:
        if item.get("subresource") == "status":
            item["time"] = time


# --- the snapshot ----------------------------------------------------------------------------

def _resource_versions(objects: list[dict[str, Any]], cluster: str) -> None:
    """etcd revisions: increasing with each object's last write."""
    def last_write(obj: dict[str, Any]) -> str:
        times = [m["time"] for m in obj["metadata"].get("managedFields") or ()]
        return max([obj["metadata"]["creationTimestamp"], *times])

    revision = {PROD: 48_210_000, NONPROD: 31_770_000}[cluster]
    for obj in sorted(objects, key=lambda o: (last_write(o), _identity(o))):
        revision += 1 + _digest(cluster, *_identity(o=obj)) % 5000
        obj["metadata"]["resourceVersion"] = str(revision)


def _identity(o: Mapping[str, Any]) -> tuple[str, str, str, str]:
    metadata = o["metadata"]
    return (str(o["apiVersion"]), str(o["kind"]), str(metadata.get("namespace") or ""),
            str(metadata["name"]))


def _clean(value: Any) -> Any:
    """Drop the None values this script uses for "unset" (but keep creationTimestamp: null,
    which the server writes)."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()
                if v is not None or k == "creationTimestamp"}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


class _Emitter(yaml.emitter.Emitter):
    def choose_scalar_style(self) -> str:
        style = super().choose_scalar_style()
        return '"' if style == "'" else style  # kubectl (go-yaml) quotes with "


class _Dumper(_Emitter, yaml.serializer.Serializer, yaml.representer.SafeRepresenter,
              yaml.resolver.Resolver):
    def __init__(self, stream: Any, **kwargs: Any) -> None:
        _Emitter.__init__(self, stream, width=kwargs.get("width"))
        yaml.serializer.Serializer.__init__(self)
        yaml.representer.SafeRepresenter.__init__(self, default_flow_style=False,
                                                  sort_keys=True)
        yaml.resolver.Resolver.__init__(self)


def _represent_str(dumper: _Dumper, data: str) -> Any:
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(str, _represent_str)


def dump_list(items: list[dict[str, Any]]) -> str:
    document = {"apiVersion": "v1", "items": [_clean(i) for i in items], "kind": "List",
                "metadata": {"resourceVersion": ""}}
    return HEADER + yaml.dump(document, Dumper=_Dumper, allow_unicode=True)


def render() -> dict[str, str]:
    """The snapshot: file path (relative to the snapshot directory) → content."""
    declared, version = declared_objects()
    schemas = Schemas(version, declared)
    builder = Builder(schemas)
    live: dict[tuple[str, str, str | None, str], dict[str, Any]] = {}
    namespaces: dict[str, set[str]] = {PROD: set(), NONPROD: set()}
    for index, deployer in sorted(deployers(declared).items()):
        manifest = declared[index]
        resource = manifest.resource
        key = (deployer.cluster, resource.kind, None if is_cluster_scoped(
            resource.api_version, resource.kind) else resource.namespace, resource.name)
        if key in live:
            continue  # the same base object, rendered for the same cluster twice
        obj = builder.declared(manifest, deployer)
        live[key] = obj
        namespace = obj["metadata"].get("namespace")
        if namespace:
            namespaces[deployer.cluster].add(namespace)
        if resource.kind == "Namespace":
            namespaces[deployer.cluster].add(resource.name)
    neighbours(builder, live, namespaces)
    plant(builder, live)
    files: dict[str, str] = {}
    for cluster, objects in builder.objects.items():
        _resource_versions(objects, cluster)
        groups: dict[str, list[dict[str, Any]]] = {}
        for obj in objects:
            namespace = obj["metadata"].get("namespace")
            groups.setdefault(f"{namespace}.yaml" if namespace else "cluster-scoped.yaml",
                              []).append(obj)
        for name, items in sorted(groups.items()):
            items.sort(key=lambda o: (o["kind"], o["apiVersion"], o["metadata"]["name"]))
            files[f"{cluster}/{name}"] = dump_list(items)
    return files


def write(out: Path) -> list[Path]:
    """Write the snapshot under `out`, removing files of an earlier run that are gone."""
    files = render()
    out.mkdir(parents=True, exist_ok=True)
    for stale in sorted(out.rglob("*.yaml")):  # only files this script wrote
        if stale.relative_to(out).as_posix() not in files and \
                stale.read_text(encoding="utf-8").startswith(HEADER):
            stale.unlink()
    written = []
    for relative, text in sorted(files.items()):
        path = out / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--out", type=Path, default=TARGET,
                        help=f"snapshot directory (default {TARGET.relative_to(ROOT)})")
    args = parser.parse_args(argv)
    for path in write(args.out):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
