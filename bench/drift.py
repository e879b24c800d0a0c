"""Time `gitops-checker drift` and its comparison against the PyYAML CSafeLoader floor.

    python bench/drift.py [--documents 10000 ...] [--repeat 3] [--work DIR] [--json FILE]
        [--seed 1] [--profile]

For each size, a synthetic estate is generated (bench/generate_estate.py, seed 1) and, from
it, a live snapshot that looks like `kubectl get -o yaml --show-managed-fields` dumps of the
clusters the estate deploys to: every declared object, rendered by the checker's own loader
(Kustomize included), as an API server would return it (uid, resourceVersion,
creationTimestamp, generation, managedFields, status, server defaults, canonical
quantities, an Argo CD tracking annotation), with planted drift: ~5% of the objects
modified (hand edits by `kubectl-edit`, `kubectl-set`, `kubectl-scale`, `kubectl-label`,
…, fields removed from the repository but still applied), ~1% missing, a few extra objects
with the tracking label, and objects that are not the estate's (system objects, objects a
controller owns, unmarked hand-made ones). One `List` file per kind and cluster, under
WORK/drift-N/live/CLUSTER/. The snapshot is deterministic (seeded) and reused while the
estate is unchanged.

The estate spans several clusters (2 at 1,000 documents, 6 at 10,000) whose objects share
names, so drift runs once per cluster, as it is used (`drift clusters/prod-eu-west-1
--live DUMP`); every figure is the sum over the clusters. Each of the following is run
`--repeat` times; the best wall time is kept, with its CPU time (user+sys of the child and
what it waited for, kubectl included) and peak RSS:

- floor: per cluster, a fresh Python process loading the cluster's estate files and its
  live snapshot with `yaml.load_all(..., Loader=yaml.CSafeLoader)`;
- drift: per cluster, `gitops-checker drift ESTATE/clusters/C --live LIVE/C --format
  json=FILE` (rendering, loading both sides, comparing, the report);
- phases: one fresh process for all clusters, timing in-process with time.perf_counter:
  the declared load (`checker.pipeline.load_declared`, as drift calls it), the snapshot
  load (`read_snapshot`), and the comparison (`DriftEngine.diff` over the loaded objects,
  engine and schema source created as `run_drift` creates them): cold (first call per
  cluster, as a run pays it) and warm (best of further calls).

The drift reports are then checked against what was planted (missing, extra and modified
objects, and the planted field of each modified one); the run fails when drift finds
wildly fewer than planted or reports many objects modified that were not. `--profile`
writes a cProfile of one cold comparison of every cluster to WORK/drift-N/profile.txt.
"""

from __future__ import annotations

import argparse
import base64
import copy
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from random import Random
from typing import Any, cast

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
ENV = {**os.environ,
       "PYTHONPATH": os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)}
"""Children import this checkout's `checker` whatever their working directory."""
FORMAT = 1
"""Bump when the snapshot changes, so that cached snapshots are rebuilt."""

Obj = dict[str, Any]

TRACKING_LABEL = "gitops-checker.io/managed-by"
TRACKING_ANNOTATION = "argocd.argoproj.io/tracking-id"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
APPLIER = "argocd-controller"
CONTROLLER = "kube-controller-manager"
MISSING_SHARE = 0.01
MODIFIED_SHARE = 0.05
CLIENT_SIDE_SHARE = 0.2
"""Objects Argo CD applied client-side (an Update entry and the last-applied annotation)
rather than server-side (an Apply entry)."""
EXTRA_SHARE = 0.002
T0 = datetime(2026, 9, 1, tzinfo=UTC)

FLOOR_SCRIPT = """
import sys, pathlib, yaml
count = 0
for root in sys.argv[1:]:
    for path in sorted(pathlib.Path(root).rglob("*")):
        if path.suffix in (".yaml", ".yml") and path.is_file():
            for _ in yaml.load_all(path.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader):
                count += 1
print(count)
"""

PHASES_SCRIPT = """
import cProfile, io, json, pstats, sys, time
from pathlib import Path
from checker.config import Config
from checker.drift.engine import DriftEngine
from checker.drift.live import read_snapshot
from checker.drift.normalize import SecretMask
from checker.drift.run import DEFAULT_NAMESPACE, _scanned_types
from checker.pipeline import load_declared
from checker.schema import SchemaSource

args = json.loads(sys.argv[1])
config = Config()
profile = cProfile.Profile() if args["profile"] else None
out = {"clusters": {}}

def engine_for(declared, mask):
    source = SchemaSource(config.kubernetes_version, strict=False)
    for manifest in declared:
        if manifest.resource.kind == "CustomResourceDefinition":
            source.add_estate_crd(manifest.obj)
    return DriftEngine(config.drift, source, mask)

for name, estate, live in args["clusters"]:
    started = time.perf_counter()
    declared = load_declared([estate], root=Path(estate), config=config,
                             default_namespace=config.namespace or DEFAULT_NAMESPACE)
    declared = declared.loaded.manifests
    loaded = time.perf_counter()
    mask = SecretMask()
    state = read_snapshot([Path(live)], Path.cwd(), mask)
    read = time.perf_counter()
    scanned = _scanned_types(config.drift.extra_kinds)
    cpu = time.process_time()
    result = engine_for(declared, mask).diff(declared, state, scanned)
    compared, cpu = time.perf_counter(), time.process_time() - cpu
    warm = []
    for _ in range(args["warm"]):
        begin = time.perf_counter()
        engine_for(declared, mask).diff(declared, state, scanned)
        warm.append(time.perf_counter() - begin)
    if profile is not None:
        engine = engine_for(declared, mask)
        profile.enable()
        engine.diff(declared, state, scanned)
        profile.disable()
    status = {}
    for drift in result.drifts:
        status[drift.status] = status.get(drift.status, 0) + 1
    out["clusters"][name] = {
        "declared_s": loaded - started, "live_s": read - loaded,
        "compare_cold_s": compared - read, "compare_cold_cpu_s": cpu,
        "compare_warm_s": min(warm) if warm else None,
        "declared": len(declared), "live": len(state.objects), "compared": result.compared,
        "unchecked": sum(len(m) for _, m in result.unchecked.values()),
        "errors": len(state.errors), "drifts": status,
        "fields": sum(len(d.fields) for d in result.drifts),
    }
if profile is not None:
    text = io.StringIO()
    stats = pstats.Stats(profile, stream=text).strip_dirs()
    stats.sort_stats("cumulative").print_stats(40)
    stats.sort_stats("tottime").print_stats(25)
    Path(args["profile"]).write_text(text.getvalue())
print(json.dumps(out))
"""


# --------------------------------------------------------------------------- measuring


@dataclass
class Sample:
    wall: float
    cpu: float
    peak_mb: float

    def __add__(self, other: Sample) -> Sample:
        return Sample(self.wall + other.wall, self.cpu + other.cpu,
                      max(self.peak_mb, other.peak_mb))


ZERO = Sample(0.0, 0.0, 0.0)


def measure(command: list[str], cwd: Path, stdout: Path | None = None) -> Sample:
    """Run a command to completion; wall, child CPU and the child's peak RSS.

    `cwd` is the work directory: drift reads `--live` dumps relative to the current
    directory and honours its .gitignore (a work directory under the git-ignored bench/out/
    would read as empty from the repository root)."""
    with open(stdout or os.devnull, "wb") as out, tempfile.TemporaryFile() as errors:
        started = time.perf_counter()
        proc = subprocess.Popen(command, stdout=out, stderr=errors, cwd=cwd, env=ENV)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        errors.seek(0)
        err = errors.read().decode(errors="replace")
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(command[:4])} … failed with {proc.returncode}: {err}")
    return Sample(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024)


# --------------------------------------------------------------------------- quantities

_BINARY = ("", "Ki", "Mi", "Gi", "Ti", "Pi")
_BINARY_QTY = re.compile(r"(\d+)(Ki|Mi|Gi|Ti)")
_MILLI_QTY = re.compile(r"(\d+)m")
_DECIMAL_QTY = re.compile(r"(\d*)\.(\d{1,3})")


def canonical_quantity(value: Any) -> Any:
    """A quantity as the API server stores it: `3072Mi` → `3Gi`, `1000m` → `1`, `0.5` →
    `500m`, `2` → `"2"`."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return str(value)
    text = str(value)
    match = _BINARY_QTY.fullmatch(text)
    if match:
        number, unit = int(match[1]), _BINARY.index(match[2])
        while number and number % 1024 == 0 and unit < len(_BINARY) - 1:
            number, unit = number // 1024, unit + 1
        return f"{number}{_BINARY[unit]}"
    match = _MILLI_QTY.fullmatch(text)
    if match and int(match[1]) % 1000 == 0:
        return str(int(match[1]) // 1000)
    match = _DECIMAL_QTY.fullmatch(text)
    if match:
        milli = int(match[1] or 0) * 1000 + int(match[2].ljust(3, "0"))
        return str(milli // 1000) if milli % 1000 == 0 else f"{milli}m"
    return value


def _canonical_map(values: Any) -> None:
    if isinstance(values, dict):
        for key, value in values.items():
            values[key] = canonical_quantity(value)


# --------------------------------------------------------------------------- server defaults


def _container_defaults(container: Obj) -> None:
    image = str(container.get("image", ""))
    tag = image.rpartition("/")[2].partition(":")[2]
    container.setdefault("imagePullPolicy",
                         "Always" if tag in ("", "latest") else "IfNotPresent")
    container.setdefault("resources", {})
    for part in ("requests", "limits"):
        _canonical_map(container["resources"].get(part))
    container.setdefault("terminationMessagePath", "/dev/termination-log")
    container.setdefault("terminationMessagePolicy", "File")
    for port in container.get("ports") or ():
        port.setdefault("protocol", "TCP")
    for name in ("livenessProbe", "readinessProbe", "startupProbe"):
        probe = container.get(name)
        if isinstance(probe, dict):
            for key, default in (("timeoutSeconds", 1), ("periodSeconds", 10),
                                 ("successThreshold", 1), ("failureThreshold", 3)):
                probe.setdefault(key, default)
            if isinstance(probe.get("httpGet"), dict):
                probe["httpGet"].setdefault("scheme", "HTTP")
    for env in container.get("env") or ():
        source = env.get("valueFrom") or {}
        if isinstance(source.get("fieldRef"), dict):
            source["fieldRef"].setdefault("apiVersion", "v1")
        if isinstance(source.get("resourceFieldRef"), dict):
            ref = source["resourceFieldRef"]
            ref["divisor"] = canonical_quantity(ref.get("divisor", "0"))


def _pod_defaults(template: Obj, restart: str = "Always") -> None:
    template.setdefault("metadata", {})["creationTimestamp"] = None
    spec = template.setdefault("spec", {})
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("restartPolicy", restart)
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("securityContext", {})
    spec.setdefault("terminationGracePeriodSeconds", 30)
    if "serviceAccountName" in spec:
        spec.setdefault("serviceAccount", spec["serviceAccountName"])  # the deprecated alias
    for container in [*(spec.get("initContainers") or ()), *(spec.get("containers") or ())]:
        _container_defaults(container)
    for volume in spec.get("volumes") or ():
        for source in ("configMap", "secret"):
            if isinstance(volume.get(source), dict):
                volume[source].setdefault("defaultMode", 420)
        if isinstance(volume.get("emptyDir"), dict) and "sizeLimit" in volume["emptyDir"]:
            volume["emptyDir"]["sizeLimit"] = canonical_quantity(volume["emptyDir"]["sizeLimit"])


def _pvc_spec_defaults(spec: Obj) -> None:
    spec.setdefault("volumeMode", "Filesystem")
    _canonical_map((spec.get("resources") or {}).get("requests"))


def server_defaults(obj: Obj, rng: Random) -> None:
    """What the API server (and, for CloudNativePG, its webhook) fills in."""
    kind, spec = obj["kind"], cast(Obj, obj.get("spec"))
    group = obj["apiVersion"].rpartition("/")[0]
    if kind == "Deployment" and group == "apps":
        spec.setdefault("replicas", 1)
        spec.setdefault("progressDeadlineSeconds", 600)
        spec.setdefault("revisionHistoryLimit", 10)
        strategy = spec.setdefault("strategy", {"type": "RollingUpdate"})
        if strategy.get("type") == "RollingUpdate":
            rolling = strategy.setdefault("rollingUpdate", {})
            rolling.setdefault("maxSurge", "25%")
            rolling.setdefault("maxUnavailable", "25%")
        _pod_defaults(spec["template"])
    elif kind == "StatefulSet" and group == "apps":
        spec.setdefault("replicas", 1)
        spec.setdefault("podManagementPolicy", "OrderedReady")
        spec.setdefault("revisionHistoryLimit", 10)
        spec.setdefault("updateStrategy", {"type": "RollingUpdate",
                                           "rollingUpdate": {"partition": 0}})
        spec.setdefault("persistentVolumeClaimRetentionPolicy",
                        {"whenDeleted": "Retain", "whenScaled": "Retain"})
        for claim in spec.get("volumeClaimTemplates") or ():
            claim.setdefault("apiVersion", "v1")
            claim.setdefault("kind", "PersistentVolumeClaim")
            claim.setdefault("metadata", {})["creationTimestamp"] = None
            _pvc_spec_defaults(claim.setdefault("spec", {}))
            claim["status"] = {"phase": "Pending"}
        _pod_defaults(spec["template"])
    elif kind == "CronJob" and group == "batch":
        spec.setdefault("concurrencyPolicy", "Allow")
        spec.setdefault("suspend", False)
        spec.setdefault("successfulJobsHistoryLimit", 3)
        spec.setdefault("failedJobsHistoryLimit", 1)
        job = spec["jobTemplate"]
        job.setdefault("metadata", {})["creationTimestamp"] = None
        _pod_defaults(job["spec"]["template"], restart="Never")
    elif kind == "Service" and group == "":
        spec.setdefault("type", "ClusterIP")
        if spec.get("clusterIP") != "None":
            spec["clusterIP"] = f"10.96.{rng.randrange(256)}.{rng.randrange(1, 255)}"
        spec["clusterIPs"] = [spec["clusterIP"]]
        spec.setdefault("ipFamilies", ["IPv4"])
        spec.setdefault("ipFamilyPolicy", "SingleStack")
        spec.setdefault("sessionAffinity", "None")
        spec.setdefault("internalTrafficPolicy", "Cluster")
        for port in spec.get("ports") or ():
            port.setdefault("protocol", "TCP")
            port.setdefault("targetPort", port.get("port"))
            if spec["type"] in ("NodePort", "LoadBalancer"):
                port.setdefault("nodePort", rng.randrange(30000, 32768))
        if spec["type"] in ("NodePort", "LoadBalancer"):
            spec.setdefault("externalTrafficPolicy", "Cluster")
        if spec["type"] == "LoadBalancer":
            spec.setdefault("allocateLoadBalancerNodePorts", True)
    elif kind == "HorizontalPodAutoscaler":
        spec.setdefault("minReplicas", 1)
        behavior = spec.get("behavior")
        if isinstance(behavior, dict):
            up = behavior.setdefault("scaleUp", {})
            up.setdefault("stabilizationWindowSeconds", 0)
            up.setdefault("selectPolicy", "Max")
            up.setdefault("policies", [{"type": "Pods", "value": 4, "periodSeconds": 15},
                                       {"type": "Percent", "value": 100, "periodSeconds": 15}])
            down = behavior.setdefault("scaleDown", {})
            down.setdefault("selectPolicy", "Max")
            down.setdefault("policies", [{"type": "Percent", "value": 100,
                                          "periodSeconds": 15}])
    elif kind == "NetworkPolicy":
        spec.setdefault("policyTypes", ["Ingress", *(["Egress"] if spec.get("egress") else [])])
        for direction in ("ingress", "egress"):
            for rule in spec.get(direction) or ():
                for port in rule.get("ports") or ():
                    port.setdefault("protocol", "TCP")
    elif kind == "PersistentVolumeClaim":
        spec.setdefault("storageClassName", "gp3")
        _pvc_spec_defaults(spec)
        spec["volumeName"] = f"pvc-{uuid.UUID(int=rng.getrandbits(128), version=4)}"
    elif kind == "Namespace":
        obj["spec"] = {"finalizers": ["kubernetes"]}
        obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = \
            obj["metadata"]["name"]
    elif kind == "PriorityClass":
        obj.setdefault("preemptionPolicy", "PreemptLowerPriority")
    elif kind == "Secret" and group == "":
        obj.setdefault("type", "Opaque")
        string_data = obj.pop("stringData", None)
        if isinstance(string_data, dict):
            data = obj.setdefault("data", {})
            for key, value in string_data.items():
                data[key] = base64.b64encode(str(value).encode()).decode()
    elif kind in ("RoleBinding", "ClusterRoleBinding"):
        for subject in obj.get("subjects") or ():
            if subject.get("kind") in ("User", "Group"):
                subject.setdefault("apiGroup", "rbac.authorization.k8s.io")
    elif kind == "ResourceQuota":
        _canonical_map(spec.get("hard"))
    elif kind == "LimitRange":
        for item in spec.get("limits") or ():
            for part in ("default", "defaultRequest", "max", "min", "maxLimitRequestRatio"):
                _canonical_map(item.get(part))
    elif kind == "Cluster" and group == "postgresql.cnpg.io":
        for key, default in (("logLevel", "info"), ("postgresGID", 26), ("postgresUID", 26),
                             ("smartShutdownTimeout", 180), ("startDelay", 3600),
                             ("stopDelay", 1800), ("switchoverDelay", 3600),
                             ("failoverDelay", 0), ("enablePDB", True),
                             ("primaryUpdateStrategy", "unsupervised")):
            spec.setdefault(key, default)
        postgresql = spec.setdefault("postgresql", {})
        parameters = postgresql.setdefault("parameters", {})
        for key, default in (("archive_mode", "on"), ("archive_timeout", "5min"),
                             ("dynamic_shared_memory_type", "posix"),
                             ("full_page_writes", "on"), ("log_destination", "csvlog"),
                             ("log_rotation_age", "0"), ("logging_collector", "on"),
                             ("wal_keep_size", "512MB"), ("wal_sender_timeout", "5s")):
            parameters.setdefault(key, default)
        postgresql.setdefault("syncReplicaElectionConstraint", {"enabled": False})
        monitoring = spec.setdefault("monitoring", {})
        monitoring.setdefault("customQueriesConfigMap",
                              [{"key": "queries", "name": "cnpg-default-monitoring"}])
        monitoring.setdefault("disableDefaultQueries", False)


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _condition(kind: str, moment: datetime, reason: str, message: str = "",
               status: str = "True") -> Obj:
    return {"lastTransitionTime": _stamp(moment), "message": message, "reason": reason,
            "status": status, "type": kind}


def status_of(obj: Obj, moment: datetime, rng: Random) -> tuple[Obj | None, str, str | None]:
    """(status, manager, subresource) as the controllers leave them."""
    kind, spec = obj["kind"], obj.get("spec") or {}
    group = obj["apiVersion"].rpartition("/")[0]
    generation = obj["metadata"].get("generation", 1)
    replicas = spec.get("replicas", 1) if isinstance(spec.get("replicas"), int) else 1
    if kind == "Deployment":
        return {"availableReplicas": replicas, "conditions": [
            _condition("Available", moment, "MinimumReplicasAvailable",
                       "Deployment has minimum availability."),
            _condition("Progressing", moment, "NewReplicaSetAvailable",
                       f'ReplicaSet "{obj["metadata"]["name"]}-{rng.getrandbits(40):010x}" '
                       "has successfully progressed.")],
            "observedGeneration": generation, "readyReplicas": replicas,
            "replicas": replicas, "updatedReplicas": replicas}, CONTROLLER, "status"
    if kind == "StatefulSet":
        revision = f"{obj['metadata']['name']}-{rng.getrandbits(40):010x}"
        return {"availableReplicas": replicas, "collisionCount": 0,
                "currentReplicas": replicas, "currentRevision": revision,
                "observedGeneration": generation, "readyReplicas": replicas,
                "replicas": replicas, "updateRevision": revision,
                "updatedReplicas": replicas}, CONTROLLER, "status"
    if kind == "CronJob":
        return {"lastScheduleTime": _stamp(moment),
                "lastSuccessfulTime": _stamp(moment + timedelta(minutes=3))}, CONTROLLER, \
            "status"
    if kind == "HorizontalPodAutoscaler":
        current = spec.get("minReplicas", 1)
        return {"conditions": [
            _condition("AbleToScale", moment, "ReadyForNewScale",
                       "recommended size matches current size"),
            _condition("ScalingActive", moment, "ValidMetricFound",
                       "the HPA was able to successfully calculate a replica count"),
            _condition("ScalingLimited", moment, "DesiredWithinRange",
                       "the desired count is within the acceptable range", "False")],
            "currentMetrics": [{"resource": {"current": {"averageUtilization": 31,
                                                         "averageValue": "37m"},
                                             "name": "cpu"}, "type": "Resource"}],
            "currentReplicas": current, "desiredReplicas": current}, CONTROLLER, "status"
    if kind == "PodDisruptionBudget":
        return {"conditions": [_condition("DisruptionAllowed", moment, "SufficientPods")],
                "currentHealthy": 3, "desiredHealthy": 2, "disruptionsAllowed": 1,
                "expectedPods": 3, "observedGeneration": generation}, CONTROLLER, "status"
    if kind == "PersistentVolumeClaim":
        return {"accessModes": spec.get("accessModes", ["ReadWriteOnce"]),
                "capacity": {"storage": ((spec.get("resources") or {}).get("requests") or {})
                             .get("storage", "1Gi")},
                "phase": "Bound"}, CONTROLLER, "status"
    if kind == "Namespace":
        return {"phase": "Active"}, "", None
    if kind == "Service":
        if spec.get("type") == "LoadBalancer":
            return {"loadBalancer": {"ingress": [{"hostname": f"k8s-{rng.getrandbits(48):012x}"
                                                  ".elb.amazonaws.com"}]}}, CONTROLLER, "status"
        return {"loadBalancer": {}}, "", None
    if kind == "Ingress":
        return {"loadBalancer": {"ingress": [{"hostname": "traefik.edge.internal"}]}}, \
            "traefik", "status"
    if kind == "ResourceQuota":
        hard = dict(spec.get("hard") or {})
        return {"hard": hard, "used": {key: "0" for key in hard}}, CONTROLLER, "status"
    if kind == "Certificate" and group == "cert-manager.io":
        return {"conditions": [_condition("Ready", moment, "Ready",
                                          "Certificate is up to date and has not expired")],
                "notAfter": _stamp(moment + timedelta(days=90)), "notBefore": _stamp(moment),
                "renewalTime": _stamp(moment + timedelta(days=75)), "revision": 1}, \
            "cert-manager-certificates-readiness", "status"
    if kind == "Cluster" and group == "postgresql.cnpg.io":
        name = obj["metadata"]["name"]
        return {"currentPrimary": f"{name}-1", "instances": spec.get("instances", 1),
                "latestGeneratedNode": spec.get("instances", 1),
                "phase": "Cluster in healthy state",
                "readyInstances": spec.get("instances", 1), "targetPrimary": f"{name}-1",
                "writeService": f"{name}-rw", "readService": f"{name}-r"}, "manager", "status"
    if kind == "ScheduledBackup":
        return {"lastCheckTime": _stamp(moment), "lastScheduleTime": _stamp(moment),
                "nextScheduleTime": _stamp(moment + timedelta(days=1))}, "manager", "status"
    if kind == "Schedule" and group == "velero.io":
        return {"lastBackup": _stamp(moment), "phase": "Enabled"}, "velero-server", None
    return None, "", None


# --------------------------------------------------------------------------- managed fields


class Shapes:
    """The schema node of each kind, to know how list items are keyed (as the server does:
    the same OpenAPI the checker bundles). Lists of custom resources are atomic."""

    def __init__(self) -> None:
        from checker.config import Config
        from checker.drift.shape import UNKNOWN, Shape
        from checker.schema import SchemaSource, is_builtin_group

        self._source = SchemaSource(Config().kubernetes_version, strict=False)
        self._shape, self._unknown, self._builtin = Shape, UNKNOWN, is_builtin_group
        self._cache: dict[tuple[str, str], Any] = {}

    def of(self, api_version: str, kind: str) -> Any:
        key = (api_version, kind)
        if key not in self._cache:
            group, _, version = api_version.rpartition("/")
            found = self._source.raw_schema(group, version, kind) \
                if self._builtin(group) else None
            self._cache[key] = self._shape(found[0], found[1]) if found else self._unknown
        return self._cache[key]


def _key_text(fields: Mapping[str, Any]) -> str:
    return json.dumps(dict(fields), sort_keys=True, separators=(",", ":"))


def _item_identity(item: Mapping[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {k: item.get(k, "TCP") for k in keys if k in item or k == "protocol"}


def _find_item(live: Any, item: Mapping[str, Any], keys: tuple[str, ...]) -> Any:
    wanted = {k: str(v) for k, v in _item_identity(item, keys).items()}
    for candidate in live if isinstance(live, list) else ():
        if isinstance(candidate, Mapping) and \
                {k: str(v) for k, v in _item_identity(candidate, keys).items()} == wanted:
            return candidate
    return None


def field_set(value: Mapping[str, Any], live: Any, shape: Any, *, dots: bool = False,
              depth: int = 0) -> Obj:
    """FieldsV1 of a mapping: `f:` members, `k:` items of keyed lists (with `.`), `v:` items
    of sets, atomic lists and empty values as leaves. `dots` marks every map below the top
    (what an Update that created the map records)."""
    out: Obj = {}
    if dots and depth > 1:
        out["."] = {}
    live_map = live if isinstance(live, Mapping) else {}
    for key, child in value.items():
        out["f:" + key] = _value_set(child, live_map.get(key), shape.field(key), dots, depth + 1)
    return out


def _value_set(value: Any, live: Any, shape: Any, dots: bool, depth: int) -> Obj:
    if isinstance(value, Mapping) and value:
        return field_set(value, live, shape, dots=dots, depth=depth)
    if isinstance(value, list) and value:
        keys = shape.list_keys
        if keys and all(isinstance(item, Mapping) for item in value):
            out: Obj = {}
            for item in value:
                live_item = _find_item(live, item, keys)
                source = live_item if live_item is not None else item
                entry = field_set(item, source, shape.item(), dots=dots, depth=0)
                entry.pop(".", None)
                out["k:" + _key_text(_item_identity(source, keys))] = {".": {}, **entry}
            return out
        if shape.is_set:
            return {"v:" + json.dumps(item, separators=(",", ":")): {} for item in value}
    return {}


def pointer_set(live: Any, shape: Any, tokens: list[str]) -> Obj:
    """FieldsV1 owning the field at `tokens` of the live object (a whole item when the
    pointer ends on an item of a keyed list)."""
    token, rest = tokens[0], tokens[1:]
    if isinstance(live, list):
        item = live[int(token)]
        keys = shape.list_keys
        if not keys or not isinstance(item, Mapping):
            return {}
        inner = pointer_set(item, shape.item(), rest) if rest else \
            {".": {}, **field_set(item, item, shape.item())}
        return {"k:" + _key_text(_item_identity(item, keys)): inner}
    child = live.get(token) if isinstance(live, Mapping) else None
    inner = pointer_set(child, shape.field(token), rest) if rest else \
        (_value_set(child, child, shape.field(token), False, 1) if isinstance(child, list)
         else {})
    return {"f:" + token: inner}


def subtract(owner: Obj, taken: Mapping[str, Any]) -> None:
    """Remove from `owner` what another manager took over (an Update of an applied field)."""
    for key, child in taken.items():
        if key not in owner or key == ".":
            continue
        if child and owner[key]:
            subtract(owner[key], child)
            if not owner[key] or set(owner[key]) == {"."}:
                del owner[key]
        else:
            del owner[key]


def merge(into: Obj, more: Mapping[str, Any]) -> Obj:
    for key, child in more.items():
        if key in into and isinstance(into[key], dict) and child:
            merge(into[key], child)
        elif key not in into:
            into[key] = copy.deepcopy(child)
    return into


def _entry(manager: str, operation: str, moment: datetime, fields: Obj, api_version: str,
           subresource: str | None = None) -> Obj:
    entry = {"apiVersion": api_version, "fieldsType": "FieldsV1", "fieldsV1": fields,
             "manager": manager, "operation": operation, "time": _stamp(moment)}
    if subresource:
        entry["subresource"] = subresource
    return entry


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _tokens(pointer: str) -> list[str]:
    return [t.replace("~1", "/").replace("~0", "~") for t in pointer[1:].split("/")]


# --------------------------------------------------------------------------- planted drift


@dataclass
class Planted:
    mutation: str
    change: str  # changed / not-live / undeclared, as drift's details say
    pointer: str  # the live pointer of the field (declared pointer for not-live)
    manager: str


def _workload_pod(obj: Mapping[str, Any]) -> Obj | None:
    spec = obj.get("spec") or {}
    if obj["kind"] in ("Deployment", "StatefulSet"):
        return spec["template"]["spec"]
    if obj["kind"] == "CronJob":
        return spec["jobTemplate"]["spec"]["template"]["spec"]
    return None


def _pod_pointer(obj: Obj) -> str:
    if obj["kind"] == "CronJob":
        return "/spec/jobTemplate/spec/template/spec"
    return "/spec/template/spec"


def _with_env_value(pod: Obj) -> tuple[int, int] | None:
    for c, container in enumerate(pod.get("containers") or ()):
        for e, env in enumerate(container.get("env") or ()):
            if "value" in env:
                return c, e
    return None


def _with_memory_limit(pod: Obj) -> int | None:
    for c, container in enumerate(pod.get("containers") or ()):
        if "memory" in ((container.get("resources") or {}).get("limits") or {}):
            return c
    return None


def mutations(obj: Mapping[str, Any], autoscaled: bool) -> list[str]:
    """The planted changes that fit this live object."""
    kind = obj["kind"]
    meta = obj["metadata"]
    found = ["label-added", "removed-from-repo"]
    labels = [k for k in meta.get("labels") or {} if k != "kubernetes.io/metadata.name"]
    if labels:
        found.append("label-removed")
    if [k for k in meta.get("annotations") or {} if k != TRACKING_ANNOTATION]:
        found.append("annotation-changed")
    pod = _workload_pod(obj)
    if pod is not None:
        found.append("image")
        if _with_env_value(pod) is not None:
            found += ["env", "env-added"]
        if _with_memory_limit(pod) is not None:
            found.append("memory-limit")
        if kind != "CronJob":
            found.append("restart")
            if not autoscaled:
                found.append("scale")
    if kind == "ConfigMap" and obj.get("data"):
        found.append("configmap-data")
    if kind == "Secret" and obj.get("data"):
        found.append("secret-data")
    if kind == "Service" and (obj["spec"].get("ports") or ()):
        found.append("service-port")
    if kind == "HorizontalPodAutoscaler":
        found.append("hpa-max")
    if kind == "Cluster" and obj["apiVersion"].startswith("postgresql.cnpg.io/"):
        found.append("cnpg-instances")
    return found


def mutate(name: str, live: Obj, applied: Obj, rng: Random) -> tuple[Planted, str | None]:
    """Plant one change in `live`; returns it and the live pointer a hand edit took over
    (None when nobody's managedFields record it, or when the applier owns it)."""
    meta = live["metadata"]
    if name == "label-added":
        meta.setdefault("labels", {})["debug.acme-finance.example/hold"] = "true"
        pointer = "/metadata/labels/debug.acme-finance.example~1hold"
        return Planted(name, "undeclared", pointer, "kubectl-label"), pointer
    if name == "removed-from-repo":
        # The repository dropped a label the applier still owns: a sync is pending.
        for target in (live, applied):
            target["metadata"].setdefault("labels", {})["finance.acme/legacy-billing"] = "v1"
        return Planted(name, "undeclared", "/metadata/labels/finance.acme~1legacy-billing",
                       APPLIER), None
    if name == "label-removed":
        labels = sorted(k for k in applied["metadata"]["labels"]
                        if k != "kubernetes.io/metadata.name")
        key = rng.choice(labels)
        del meta["labels"][key]
        return Planted(name, "not-live", f"/metadata/labels/{_escape(key)}", ""), None
    if name == "annotation-changed":
        key = rng.choice(sorted(k for k in applied["metadata"]["annotations"]
                                if k != TRACKING_ANNOTATION))
        meta["annotations"][key] = f"{meta['annotations'][key]}-edited"
        pointer = f"/metadata/annotations/{_escape(key)}"
        return Planted(name, "changed", pointer, "kubectl-annotate"), pointer
    pod = cast(Obj, _workload_pod(live))
    base = _pod_pointer(live)
    if name == "image":
        container = pod["containers"][0]
        container["image"] = container["image"].rsplit(":", 1)[0] + ":hotfix-20261126"
        pointer = f"{base}/containers/0/image"
        return Planted(name, "changed", pointer, "kubectl-set"), pointer
    if name in ("env", "env-added"):
        c, e = cast(tuple[int, int], _with_env_value(pod))
        env = pod["containers"][c]["env"]
        if name == "env":
            env[e]["value"] = f"{env[e]['value']}-override"
            pointer = f"{base}/containers/{c}/env/{e}/value"
            return Planted(name, "changed", pointer, "kubectl-edit"), pointer
        env.append({"name": "DEBUG_SQL", "value": "true"})
        pointer = f"{base}/containers/{c}/env/{len(env) - 1}"
        return Planted(name, "undeclared", pointer, "kubectl-edit"), pointer
    if name == "memory-limit":
        c = cast(int, _with_memory_limit(pod))
        limits = pod["containers"][c]["resources"]["limits"]
        limits["memory"] = "17Gi"
        pointer = f"{base}/containers/{c}/resources/limits/memory"
        return Planted(name, "changed", pointer, "kubectl-edit"), pointer
    if name == "restart":
        template_meta = live["spec"]["template"]["metadata"]
        template_meta.setdefault("annotations", {})[
            "kubectl.kubernetes.io/restartedAt"] = "2026-11-26T02:13:00Z"
        pointer = "/spec/template/metadata/annotations/kubectl.kubernetes.io~1restartedAt"
        return Planted(name, "undeclared", pointer, "kubectl-rollout"), pointer
    if name == "scale":
        live["spec"]["replicas"] = int(live["spec"]["replicas"]) + 2
        return Planted(name, "changed", "/spec/replicas", "kubectl-scale"), "/spec/replicas"
    if name == "configmap-data":
        key = rng.choice(sorted(live["data"]))
        live["data"][key] = "edited by hand"
        pointer = f"/data/{_escape(key)}"
        return Planted(name, "changed", pointer, "kubectl-edit"), pointer
    if name == "secret-data":
        key = rng.choice(sorted(live["data"]))
        live["data"][key] = base64.b64encode(f"rotated-{rng.getrandbits(64):x}".encode()).decode()
        pointer = f"/data/{_escape(key)}"
        return Planted(name, "changed", pointer, "kubectl-edit"), pointer
    if name == "service-port":
        live["spec"]["ports"][0]["targetPort"] = 18080
        pointer = "/spec/ports/0/targetPort"
        return Planted(name, "changed", pointer, "kubectl-patch"), pointer
    if name == "hpa-max":
        live["spec"]["maxReplicas"] = int(live["spec"]["maxReplicas"]) + 6
        return Planted(name, "changed", "/spec/maxReplicas", "kubectl-patch"), "/spec/maxReplicas"
    if name == "cnpg-instances":
        live["spec"]["instances"] = int(live["spec"]["instances"]) + 1
        return Planted(name, "changed", "/spec/instances", "kubectl-edit"), "/spec/instances"
    raise ValueError(name)


# --------------------------------------------------------------------------- the snapshot


def key_text(group: str, kind: str, namespace: str | None, name: str) -> str:
    return f"{group}/{kind}/{namespace or ''}/{name}"


def _sorted(value: Any) -> Any:
    """Keys sorted at every level, as kubectl prints them."""
    if isinstance(value, dict):
        return {k: _sorted(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_sorted(v) for v in value]
    return value


def _plural(kind: str) -> str:
    lower = kind.lower()
    if lower.endswith("y"):
        return lower[:-1] + "ies"
    if lower.endswith(("s", "x")):
        return lower + "es"
    return lower + "s"


class ClusterSnapshot:
    """The live objects of one cluster, built from its declared objects."""

    def __init__(self, name: str, rng: Random, shapes: Shapes) -> None:
        self.name = name
        self.rng = rng
        self.shapes = shapes
        self.version = 7_000_000 + rng.randrange(1_000_000)
        self.objects: list[Obj] = []
        self.keys: set[str] = set()
        self.counts: Counter[str] = Counter()

    def _meta(self, obj: Obj, created: datetime) -> None:
        self.version += self.rng.randrange(1, 40)
        meta = obj["metadata"]
        meta["uid"] = str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
        meta["resourceVersion"] = str(self.version)
        meta["creationTimestamp"] = _stamp(created)
        if "spec" in obj or "." in obj["apiVersion"].partition("/")[0]:
            meta["generation"] = self.rng.choice((1, 1, 1, 2, 3, 5))

    def add(self, obj: Obj) -> None:
        meta = obj["metadata"]
        group = obj["apiVersion"].rpartition("/")[0]
        key = key_text(group, obj["kind"], meta.get("namespace"), meta["name"])
        if key not in self.keys:
            self.keys.add(key)
            self.objects.append(_sorted(obj))

    def live(self, declared: Mapping[str, Any], namespace: str | None,
             fixes: list[tuple[str, str]], autoscaled: bool,
             plant: str | None) -> Planted | None:
        """Add the live counterpart of one declared object; return what was planted."""
        rng = self.rng
        live = cast(Obj, copy.deepcopy(declared))
        meta = live.setdefault("metadata", {})
        if namespace:
            meta["namespace"] = namespace
        else:
            meta.pop("namespace", None)
        for kind, pointer in fixes:  # what the server would not have stored
            *parents, last = _tokens(pointer)
            node: Any = live
            for token in parents:
                node = node[int(token)] if isinstance(node, list) else node[token]
            if kind == "schema_unknown_field":
                node.pop(last, None)
            elif isinstance(node, dict) and isinstance(node.get(last), str):
                node[last] = int(node[last])
        group = live["apiVersion"].rpartition("/")[0]
        app = f"{self.name}-{namespace or 'cluster'}"
        tracking = f"{app}:{group}/{live['kind']}:{namespace or ''}/{meta['name']}"
        meta.setdefault("annotations", {})[TRACKING_ANNOTATION] = tracking
        applied = copy.deepcopy(live)
        server_defaults(live, rng)
        created = T0 + timedelta(minutes=rng.randrange(60 * 24 * 60))
        synced = created + timedelta(minutes=rng.randrange(60 * 24 * 30))
        self._meta(live, created)
        shape = self.shapes.of(live["apiVersion"], live["kind"])
        entries: list[Obj] = []
        if live["kind"] == "Deployment":
            meta["annotations"]["deployment.kubernetes.io/revision"] = str(meta["generation"])
            entries.append(_entry(CONTROLLER, "Update", synced, {"f:metadata": {
                "f:annotations": {".": {}, "f:deployment.kubernetes.io/revision": {}}}},
                live["apiVersion"]))
        if live["kind"] == "PersistentVolumeClaim":
            meta["annotations"].update({
                "pv.kubernetes.io/bind-completed": "yes",
                "pv.kubernetes.io/bound-by-controller": "yes",
                "volume.beta.kubernetes.io/storage-provisioner": "ebs.csi.aws.com",
                "volume.kubernetes.io/storage-provisioner": "ebs.csi.aws.com"})
            meta["finalizers"] = ["kubernetes.io/pvc-protection"]
            entries.append(_entry(CONTROLLER, "Update", created, {
                "f:metadata": {"f:annotations": {
                    "f:pv.kubernetes.io/bind-completed": {},
                    "f:pv.kubernetes.io/bound-by-controller": {},
                    "f:volume.beta.kubernetes.io/storage-provisioner": {},
                    "f:volume.kubernetes.io/storage-provisioner": {}}},
                "f:spec": {"f:volumeName": {}}}, live["apiVersion"]))
        scaled = None
        if autoscaled and isinstance(live["spec"].get("replicas"), int):
            low = int(declared["spec"].get("replicas") or 1)
            live["spec"]["replicas"] = low + rng.randrange(0, 4)
            scaled = _entry(CONTROLLER, "Update", synced + timedelta(hours=3),
                            {"f:spec": {"f:replicas": {}}}, live["apiVersion"], "scale")
            self.counts["hpa-scaled"] += 1
        planted, taken = (mutate(plant, live, applied, rng) if plant else (None, None))
        client_side = rng.random() < CLIENT_SIDE_SHARE
        if client_side:
            # kubectl apply (client-side), as Argo CD does by default: the object as created,
            # defaults included, belongs to an Update; the config is kept in an annotation.
            meta["annotations"][LAST_APPLIED] = json.dumps(
                applied, sort_keys=True, separators=(",", ":")) + "\n"
            body = {k: v for k, v in live.items() if k not in ("apiVersion", "kind", "status")}
            body["metadata"] = {k: v for k, v in meta.items() if k in ("labels", "annotations")}
            applier = _entry(APPLIER, "Update", synced, field_set(body, live, shape, dots=True),
                             live["apiVersion"])
            self.counts["client-side"] += 1
        else:
            body = {k: v for k, v in applied.items() if k not in ("apiVersion", "kind")}
            body["metadata"] = {k: v for k, v in applied["metadata"].items()
                                if k in ("labels", "annotations")}
            applier = _entry(APPLIER, "Apply", synced, field_set(body, live, shape),
                             live["apiVersion"])
            self.counts["server-side"] += 1
        if scaled is not None:
            subtract(applier["fieldsV1"], scaled["fieldsV1"])
        if planted is not None and planted.change == "not-live":
            subtract(applier["fieldsV1"], pointer_set(applied, shape, _tokens(planted.pointer)))
        hand = None
        if planted is not None and taken is not None:
            fields = pointer_set(live, shape, _tokens(taken))
            subtract(applier["fieldsV1"], fields)
            when = datetime(2026, 11, 26, 2, 13, tzinfo=UTC) + timedelta(
                minutes=rng.randrange(60 * 24 * 5))
            hand = _entry(planted.manager, "Update", when, fields, live["apiVersion"],
                          "scale" if planted.mutation == "scale" else None)
        status, manager, subresource = status_of(live, synced, rng)
        if status is not None:
            live["status"] = status
            if manager:
                status_shape = shape.field("status")
                entries.append(_entry(manager, "Update", synced + timedelta(minutes=2),
                                      {"f:status": _value_set(status, status, status_shape,
                                                              True, 1)},
                                      live["apiVersion"], subresource))
        meta["managedFields"] = [applier, *entries, *(e for e in (scaled, hand) if e)]
        self.add(live)
        return planted

    def extra(self, template: Obj, suffix: str, marked: bool) -> str | None:
        """An object the estate does not declare, made from a declared one (by hand, or left
        over from a rename): with the tracking label when `marked`."""
        rng = self.rng
        live = copy.deepcopy(template)
        meta = live["metadata"]
        meta["name"] = f"{meta['name']}-{suffix}"
        group = live["apiVersion"].rpartition("/")[0]
        key = key_text(group, live["kind"], meta.get("namespace"), meta["name"])
        if key in self.keys:
            return None
        meta.pop("managedFields", None)
        meta.get("annotations", {}).pop(LAST_APPLIED, None)
        meta.get("annotations", {}).pop(TRACKING_ANNOTATION, None)
        if marked:
            meta.setdefault("labels", {})[TRACKING_LABEL] = self.name
        else:
            meta.get("labels", {}).pop(TRACKING_LABEL, None)
        created = datetime(2026, 11, 20, tzinfo=UTC) + timedelta(minutes=rng.randrange(9000))
        self._meta(live, created)
        body = {k: v for k, v in live.items()
                if k not in ("apiVersion", "kind", "status", "metadata")}
        body["metadata"] = {k: v for k, v in meta.items() if k in ("labels", "annotations")}
        shape = self.shapes.of(live["apiVersion"], live["kind"])
        meta["managedFields"] = [_entry("kubectl-create", "Update", created,
                                        field_set(body, live, shape, dots=True),
                                        live["apiVersion"])]
        self.add(live)
        return key

    def system(self, kind: str, api_version: str, name: str, namespace: str | None,
               body: Obj | None = None, owner: Obj | None = None,
               labels: Mapping[str, str] | None = None) -> None:
        """An object the cluster or a controller made: never the estate's."""
        group = api_version.rpartition("/")[0]
        if key_text(group, kind, namespace, name) in self.keys:
            return
        body = copy.deepcopy(body or {})
        obj: Obj = {"apiVersion": api_version, "kind": kind,
                    "metadata": {"name": name, **({"namespace": namespace} if namespace else {}),
                                 **({"labels": dict(labels)} if labels else {}),
                                 **body.pop("metadata", {})},
                    **body}
        created = T0 - timedelta(days=self.rng.randrange(30, 400))
        self._meta(obj, created)
        manager = CONTROLLER
        if owner is not None:
            owner_meta = owner["metadata"]
            obj["metadata"]["ownerReferences"] = [{
                "apiVersion": owner["apiVersion"], "blockOwnerDeletion": True,
                "controller": True, "kind": owner["kind"], "name": owner_meta["name"],
                "uid": owner_meta["uid"]}]
            manager = "manager"
        fields = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind", "metadata")}
        if fields:
            shape = self.shapes.of(api_version, kind)
            obj["metadata"]["managedFields"] = [_entry(
                manager, "Update", created, field_set(fields, obj, shape, dots=True),
                api_version)]
        self.add(obj)
        self.counts["unmarked"] += 1

    def write(self, out: Path) -> int:
        out.mkdir(parents=True, exist_ok=True)
        to_yaml = _emitter()
        by_type: dict[tuple[str, str], list[Obj]] = {}
        for obj in self.objects:
            by_type.setdefault((obj["apiVersion"], obj["kind"]), []).append(obj)
        written = 0
        for (api_version, kind), items in sorted(by_type.items()):
            items.sort(key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"]))
            group = api_version.rpartition("/")[0]
            name = f"{_plural(kind)}.{group}.yaml" if group else f"{_plural(kind)}.yaml"
            dump = {"apiVersion": "v1", "items": items, "kind": "List",
                    "metadata": {"resourceVersion": ""}}
            (out / name).write_text(to_yaml(dump), encoding="utf-8")
            written += len(items)
        return written


def _emitter() -> Any:
    """generate_estate.py's block-style YAML writer (quotes what YAML 1.1 would misread)."""
    sys.path.insert(0, str(HERE))
    try:
        from generate_estate import to_yaml
    finally:
        sys.path.remove(str(HERE))
    return to_yaml


def _system_objects(snap: ClusterSnapshot, namespaces: Iterable[str],
                    declared: list[Obj]) -> None:
    """What a real dump also holds: per-namespace system objects, kube-system, system RBAC,
    objects operators make for the estate's custom resources (with ownerReferences), TLS
    Secrets cert-manager writes."""
    ca = {"data": {"ca.crt": "-----BEGIN CERTIFICATE-----\nMIIC/jCCAeagAwIBAgIBADANBgkqhkiG"
                   "9w0BAQsFADAVMRMwEQYDVQQDEwprdWJlcm5ldGVz\n-----END CERTIFICATE-----\n"}}
    for namespace in sorted(set(namespaces) | {"default", "kube-system"}):
        snap.system("ConfigMap", "v1", "kube-root-ca.crt", namespace, ca)
        snap.system("ServiceAccount", "v1", "default", namespace)
    for namespace in ("default", "kube-system", "kube-public", "kube-node-lease"):
        snap.system("Namespace", "v1", namespace, None,
                    {"spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}},
                    labels={"kubernetes.io/metadata.name": namespace})
    for name in ("coredns", "kube-proxy", "extension-apiserver-authentication",
                 "aws-auth", "kubeadm-config"):
        snap.system("ConfigMap", "v1", name, "kube-system", {"data": {"config": "…"}})
    rbac = "rbac.authorization.k8s.io/v1"
    bootstrap = {"kubernetes.io/bootstrapping": "rbac-defaults"}
    for name in ("system:controller:deployment-controller", "system:kube-scheduler",
                 "system:node", "system:discovery", "system:basic-user",
                 "system:controller:replicaset-controller", "system:kube-dns",
                 "system:aggregate-to-edit"):
        snap.system("ClusterRole", rbac, name, None, {"rules": [
            {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]}]},
            labels=bootstrap)
        snap.system("ClusterRoleBinding", rbac, name, None, {
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                        "name": name},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User",
                          "name": name}]}, labels=bootstrap)
    for name in ("admin", "edit", "view"):
        snap.system("ClusterRole", rbac, name, None, {
            "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {
                f"rbac.authorization.k8s.io/aggregate-to-{name}": "true"}}]},
            "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]},
            labels=bootstrap)
    for obj in declared:
        meta, kind = obj["metadata"], obj["kind"]
        namespace = meta.get("namespace")
        if kind == "Cluster" and obj["apiVersion"].startswith("postgresql.cnpg.io/"):
            name = meta["name"]
            labels = {"cnpg.io/cluster": name}
            for suffix, role in (("rw", "primary"), ("ro", "replica"), ("r", "any")):
                snap.system("Service", "v1", f"{name}-{suffix}", namespace, {"spec": {
                    "ports": [{"name": "postgres", "port": 5432, "protocol": "TCP",
                               "targetPort": 5432}],
                    "selector": {"cnpg.io/cluster": name, "cnpg.io/instanceRole": role},
                    "type": "ClusterIP"}}, owner=obj, labels=labels)
            for suffix in ("ca", "replication", "server"):
                snap.system("Secret", "v1", f"{name}-{suffix}", namespace, {
                    "data": {"tls.crt": "LS0tLS1CRUdJTi0tLS0t", "tls.key": "LS0tLS1CRUdJTg=="},
                    "type": "kubernetes.io/tls"}, owner=obj, labels=labels)
            snap.system("PodDisruptionBudget", "policy/v1", f"{name}-primary", namespace, {
                "spec": {"maxUnavailable": 1, "selector": {"matchLabels": {
                    "cnpg.io/cluster": name, "cnpg.io/instanceRole": "primary"}}}},
                owner=obj, labels=labels)
            snap.system("ServiceAccount", "v1", name, namespace, owner=obj, labels=labels)
        elif kind == "Certificate" and obj["apiVersion"].startswith("cert-manager.io/"):
            secret = (obj.get("spec") or {}).get("secretName")
            if secret:
                snap.system("Secret", "v1", secret, namespace, {
                    "data": {"tls.crt": "LS0tLS1CRUdJTi0tLS0t", "tls.key": "LS0tLS1CRUdJTg=="},
                    "type": "kubernetes.io/tls",
                    "metadata": {"annotations": {
                        "cert-manager.io/certificate-name": meta["name"],
                        "cert-manager.io/issuer-kind": "ClusterIssuer",
                        "cert-manager.io/issuer-name": "letsencrypt-prod"}}})


def build_snapshot(estate: Path, live_dir: Path, seed: int) -> Obj:
    """Write the live snapshot of every cluster of the estate; return what was planted."""
    from checker.config import Config
    from checker.drift.run import DEFAULT_NAMESPACE
    from checker.pipeline import load_declared

    summary = json.loads((estate / ".estate.json").read_text())
    fixes: dict[tuple[str, str, str | None, str], list[tuple[str, str]]] = {}
    for item in summary["violation_details"]:
        if item["type"] in ("schema_unknown_field", "schema_wrong_type"):
            cluster = item["path"].split("/")[1]
            fixes.setdefault((cluster, item["kind"], item["namespace"], item["name"]), []).append(
                (item["type"], item["pointer"]))
    shapes = Shapes()
    config = Config()
    planted: Obj = {"format": FORMAT, "seed": seed, "clusters": {}}
    for cluster_dir in sorted((estate / "clusters").iterdir()):
        cluster = cluster_dir.name
        rng = Random(f"drift-bench:{seed}:{cluster}")
        loaded = load_declared([str(cluster_dir)], root=cluster_dir, config=config,
                               default_namespace=config.namespace or DEFAULT_NAMESPACE)
        if loaded.loaded.errors:
            raise SystemExit(f"{cluster}: the estate does not load: {loaded.loaded.errors[:3]}")
        manifests = loaded.loaded.manifests
        by_kind = Counter((m.resource.group, m.resource.kind) for m in manifests)
        autoscaled = {(m.resource.namespace, str(m.obj["spec"]["scaleTargetRef"]["kind"]),
                       str(m.obj["spec"]["scaleTargetRef"]["name"]))
                      for m in manifests if m.resource.kind == "HorizontalPodAutoscaler"}
        snap = ClusterSnapshot(cluster, rng, shapes)
        record: Obj = {"declared": len(manifests), "missing": [], "extra": [],
                       "modified": {}, "schema_fixed": {}}
        for manifest in manifests:
            resource = manifest.resource
            key = key_text(resource.group, resource.kind, resource.namespace, resource.name)
            draw = rng.random()
            if draw < MISSING_SHARE and by_kind[(resource.group, resource.kind)] >= 5 \
                    and resource.kind != "Namespace":
                record["missing"].append(key)
                snap.keys.add(key)  # nothing else may take its name
                continue
            scaled = (resource.namespace, resource.kind, resource.name) in autoscaled
            plant = None
            if draw < MISSING_SHARE + MODIFIED_SHARE:
                plant = rng.choice(mutations(manifest.obj, scaled))
            object_fixes = fixes.get((cluster, resource.kind, resource.namespace, resource.name),
                                     [])
            done = snap.live(manifest.obj, resource.namespace, object_fixes, scaled, plant)
            if done is not None:
                record["modified"][key] = asdict(done)
            # Drift ignores the replicas of an HPA's target, `replicas: "3"` included.
            fixed = [p for _, p in object_fixes if not (scaled and p == "/spec/replicas")]
            if fixed:
                record["schema_fixed"][key] = fixed
        candidates = [o for o in snap.objects
                      if o["kind"] in ("ConfigMap", "Secret", "Deployment", "Service")
                      and o["apiVersion"] in ("v1", "apps/v1")]
        count = max(2, round(EXTRA_SHARE * len(manifests)))
        for index in range(count):
            template = rng.choice(candidates)
            made = snap.extra(template, ("manual", "old", "debug")[index % 3] + f"-{index}",
                              marked=True)
            if made is not None:
                record["extra"].append(made)
        for index in range(count):  # hand-made, but not marked as the estate's
            if snap.extra(rng.choice(candidates), f"scratch-{index}", marked=False):
                snap.counts["unmarked"] += 1
        _system_objects(snap, {m.resource.namespace for m in manifests if m.resource.namespace},
                        [o for o in snap.objects if "ownerReferences" not in o["metadata"]])
        record["live"] = snap.write(live_dir / cluster)
        record["counts"] = dict(snap.counts)
        planted["clusters"][cluster] = record
    return planted


def prepare(documents: int, seed: int, work: Path, python: str) -> tuple[Path, Path, Obj]:
    """The estate and its live snapshot under WORK/drift-N, reused while unchanged."""
    base = work / f"drift-{documents}"
    estate, live, record = base / "estate", base / "live", base / "planted.json"
    subprocess.run([python, str(HERE / "generate_estate.py"), "--documents", str(documents),
                    "--seed", str(seed), "--out", str(estate)], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    digest = hashlib.sha256((estate / ".estate.json").read_bytes()).hexdigest()
    script = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()
    if record.is_file():
        planted = json.loads(record.read_text())
        if planted.get("estate") == digest and planted.get("script") == script:
            print(f"drift-{documents}: reusing the live snapshot in {live}", file=sys.stderr)
            return estate, live, planted
    if live.exists():
        shutil.rmtree(live)
    started = time.perf_counter()
    planted = build_snapshot(estate, live, seed)
    planted.update(estate=digest, script=script, documents=documents)
    record.write_text(json.dumps(planted, indent=1) + "\n")
    print(f"drift-{documents}: live snapshot written to {live} in "
          f"{time.perf_counter() - started:.1f}s", file=sys.stderr)
    return estate, live, planted


# --------------------------------------------------------------------------- checking


def check_reports(planted: Obj, reports: dict[str, Obj]) -> Obj:
    """Planted against found, from the drift command's own JSON reports."""
    found_missing, found_extra = set(), set()
    fields: dict[str, list[Obj]] = {}
    errors = []
    for cluster, report in reports.items():
        errors += [f"{cluster}: {e['message']}" for e in report["errors"]]
        for finding in report["findings"]:
            resource = finding["resource"]
            key = f"{cluster}|" + key_text(resource["apiVersion"].rpartition("/")[0],
                                           resource["kind"], resource["namespace"],
                                           resource["name"])
            if finding["rule_id"] == "DRF001":
                found_missing.add(key)
            elif finding["rule_id"] == "DRF002":
                found_extra.add(key)
            elif finding["rule_id"] == "DRF003":
                fields.setdefault(key, []).append(finding)
    want_missing: set[str] = set()
    want_extra: set[str] = set()
    want_modified: dict[str, Obj] = {}
    schema_fixed: set[str] = set()
    for cluster, record in planted["clusters"].items():
        want_missing |= {f"{cluster}|{k}" for k in record["missing"]}
        want_extra |= {f"{cluster}|{k}" for k in record["extra"]}
        want_modified |= {f"{cluster}|{k}": v for k, v in record["modified"].items()}
        schema_fixed |= {f"{cluster}|{k}" for k in record["schema_fixed"]}
    def is_planted(finding: Obj, plant: Obj | None) -> bool:
        """The planted field: same change, same live pointer, or the same declared pointer
        (which, for a member of a `kind: List`, starts with the member's `/items/N`)."""
        details = finding["details"]
        return plant is not None and details["change"] == plant["change"] and (
            details.get("live_pointer") == plant["pointer"]
            or finding["location"]["pointer"] == plant["pointer"]
            or finding["location"]["pointer"].endswith(plant["pointer"])
            and re.fullmatch(r"/items/\d+", finding["location"]["pointer"][
                :-len(plant["pointer"])]) is not None)

    field_hits = 0
    for key, planted_field in want_modified.items():
        if any(is_planted(finding, planted_field) for finding in fields.get(key, ())):
            field_hits += 1
    expected_objects = set(want_modified) | schema_fixed
    unexpected: Counter[str] = Counter()
    examples: dict[str, str] = {}
    for key, findings in fields.items():
        plant = want_modified.get(key)
        for finding in findings:
            details = finding["details"]
            if is_planted(finding, plant) or key in schema_fixed:
                continue
            kind = finding["resource"]["kind"]
            label = f"{kind} {details['change']} {re.sub(r'=[^],]*', '=…', details['path'])}"
            unexpected[label] += 1
            examples.setdefault(label, finding["message"])
    return {
        "missing": {"planted": len(want_missing), "found": len(found_missing),
                    "matched": len(want_missing & found_missing)},
        "extra": {"planted": len(want_extra), "found": len(found_extra),
                  "matched": len(want_extra & found_extra)},
        "modified": {"planted": len(want_modified), "schema_fixed": len(schema_fixed),
                     "found": len(fields), "matched": len(set(want_modified) & set(fields)),
                     "planted_field_found": field_hits,
                     "unexpected_objects": len(set(fields) - expected_objects),
                     "fields_found": sum(len(v) for v in fields.values())},
        "unexpected_fields": dict(unexpected.most_common()),
        "unexpected_examples": examples,
        "errors": errors,
    }


def sanity_problems(check: Obj, compared: int) -> list[str]:
    problems = []
    for what in ("missing", "extra", "modified"):
        numbers = check[what]
        if numbers["planted"] and numbers["matched"] < 0.9 * numbers["planted"]:
            problems.append(f"{what}: only {numbers['matched']} of {numbers['planted']} "
                            "planted objects were found")
    modified = check["modified"]
    if modified["planted"] and modified["planted_field_found"] < 0.9 * modified["planted"]:
        problems.append(f"modified: the planted field was reported for only "
                        f"{modified['planted_field_found']} of {modified['planted']} objects")
    if modified["unexpected_objects"] > 0.02 * compared:
        problems.append(f"modified: {modified['unexpected_objects']} objects reported modified "
                        "that were not (over 2% of the compared objects)")
    for what in ("missing", "extra"):
        if check[what]["found"] > 1.1 * check[what]["planted"] + 2:
            problems.append(f"{what}: {check[what]['found']} found for "
                            f"{check[what]['planted']} planted")
    if check["errors"]:
        problems.append(f"drift reported errors: {check['errors'][:3]}")
    return problems


# --------------------------------------------------------------------------- main


def run_size(documents: int, args: argparse.Namespace, python: str) -> Obj:
    estate, live, planted = prepare(documents, args.seed, args.work, python)
    clusters = sorted(planted["clusters"])
    base = args.work / f"drift-{documents}"
    reports_dir = base / "reports"
    reports_dir.mkdir(exist_ok=True)
    pairs = [(c, str(estate / "clusters" / c), str(live / c)) for c in clusters]
    profile = str(base / "profile.txt") if args.profile else ""

    floors, drifts, phases = [], [], []
    load_average = [os.getloadavg()]
    for attempt in range(args.repeat):
        floor = ZERO
        for _, cluster_estate, cluster_live in pairs:
            floor = floor + measure([python, "-c", FLOOR_SCRIPT, cluster_estate, cluster_live],
                                    base)
        floors.append(floor)
        drift = ZERO
        for name, cluster_estate, cluster_live in pairs:
            drift = drift + measure([python, "-m", "checker", "drift", cluster_estate,
                                     "--live", cluster_live, "--format",
                                     f"json={reports_dir / name}.json"], base)
        drifts.append(drift)
        phase_out = base / "phases.json"
        spec = {"clusters": pairs, "warm": 2,
                "profile": profile if attempt == 0 else ""}
        sample = measure([python, "-c", PHASES_SCRIPT, json.dumps(spec)], base, phase_out)
        phase = json.loads(phase_out.read_text())
        phase["sample"] = asdict(sample)
        phases.append(phase)
        load_average.append(os.getloadavg())
        print(f"drift-{documents}: run {attempt + 1}/{args.repeat}: floor {floor.wall:.2f}s, "
              f"drift {drift.wall:.2f}s, comparison "
              f"{sum(c['compare_cold_s'] for c in phase['clusters'].values()):.2f}s",
              file=sys.stderr)

    def total(phase: Obj, key: str) -> float:
        return sum(c[key] for c in phase["clusters"].values())

    best = {key: min(total(p, key) for p in phases)
            for key in ("declared_s", "live_s", "compare_cold_s", "compare_cold_cpu_s",
                        "compare_warm_s")}
    first = phases[0]["clusters"]
    counts = {key: sum(c[key] for c in first.values())
              for key in ("declared", "live", "compared", "unchecked", "errors", "fields")}
    drift_counts: Counter[str] = Counter()
    for c in first.values():
        drift_counts.update(c["drifts"])
    reports = {c: json.loads((reports_dir / f"{c}.json").read_text()) for c in clusters}
    check = check_reports(planted, reports)
    floor = min(floors, key=lambda s: s.wall)
    drift = min(drifts, key=lambda s: s.wall)
    return {
        "load_average": load_average,
        "documents": documents, "clusters": len(clusters), "repeat": args.repeat,
        "floor": asdict(floor), "drift": asdict(drift),
        "phases": best, "counts": counts, "drifts": dict(drift_counts),
        "snapshot": {"files_bytes": sum(p.stat().st_size for p in live.rglob("*.yaml")),
                     "estate_bytes": sum(p.stat().st_size
                                         for p in (estate / "clusters").rglob("*.yaml")),
                     "counts": dict(sum((Counter(r["counts"])
                                         for r in planted["clusters"].values()), Counter()))},
        "check": check,
        "profile": profile or None,
    }


def print_tables(results: list[Obj]) -> None:
    print("| documents (clusters) | objects declared / live | CSafeLoader load: wall s "
          "(CPU s, peak MB) | drift: wall s (CPU s, peak MB) | drift ÷ load |")
    print("|---:|---:|---:|---:|---:|")
    for r in results:
        f, d, c = r["floor"], r["drift"], r["counts"]
        print(f"| {r['documents']:,} ({r['clusters']}) | {c['declared']:,} / {c['live']:,} "
              f"| {f['wall']:.2f} ({f['cpu']:.2f}, {f['peak_mb']:.0f}) "
              f"| {d['wall']:.2f} ({d['cpu']:.2f}, {d['peak_mb']:.0f}) "
              f"| {d['wall'] / f['wall']:.2f}× |")
    print()
    print("| documents | load declared (rendering) s | load live s | comparison s, cold (CPU; "
          "warm) | µs per compared object | comparison ÷ load | comparison ÷ CSafeLoader load |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        p, c = r["phases"], r["counts"]
        load = p["declared_s"] + p["live_s"]
        print(f"| {r['documents']:,} | {p['declared_s']:.2f} | {p['live_s']:.2f} "
              f"| **{p['compare_cold_s']:.2f}** ({p['compare_cold_cpu_s']:.2f}; "
              f"{p['compare_warm_s']:.2f}) "
              f"| {1e6 * p['compare_cold_s'] / max(c['compared'], 1):.0f} "
              f"| {p['compare_cold_s'] / load:.3f}× "
              f"| {p['compare_cold_s'] / r['floor']['wall']:.3f}× |")
    print()
    print("| documents | compared | missing: planted / found | extra: planted / found "
          "| modified: planted (+ schema-fixed) / found objects | planted field reported "
          "| other objects reported modified | field findings |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        k = r["check"]
        m = k["modified"]
        print(f"| {r['documents']:,} | {r['counts']['compared']:,} "
              f"| {k['missing']['planted']} / {k['missing']['found']} "
              f"| {k['extra']['planted']} / {k['extra']['found']} "
              f"| {m['planted']} (+{m['schema_fixed']}) / {m['found']} "
              f"| {m['planted_field_found']} | {m['unexpected_objects']} "
              f"| {m['fields_found']} |")
    for r in results:
        loads = ", ".join(f"{a[0]:.1f}" for a in r["load_average"])
        print(f"\n{r['documents']:,} documents: load average (1 min) before and after each run: "
              f"{loads}")
    for r in results:
        unexpected = r["check"]["unexpected_fields"]
        if unexpected:
            print(f"\n{r['documents']:,} documents: field findings nobody planted "
                  "(kind, change, path: count — example):")
            for label, count in list(unexpected.items())[:25]:
                print(f"- {label}: {count} — {r['check']['unexpected_examples'][label]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, nargs="+", default=[10000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--work", type=Path, default=None,
                        help="where to generate estates and snapshots (default: a temporary "
                             "directory)")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument("--profile", action="store_true",
                        help="cProfile one cold comparison (WORK/drift-N/profile.txt)")
    args = parser.parse_args()
    args.work = (args.work or Path(tempfile.mkdtemp(prefix="gitops-drift-bench-"))).resolve()
    args.work.mkdir(parents=True, exist_ok=True)
    python = sys.executable
    results = [run_size(size, args, python) for size in args.documents]
    print_tables(results)
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=1) + "\n")
    problems = [f"{r['documents']:,} documents: {p}" for r in results
                for p in sanity_problems(r["check"], r["counts"]["compared"])]
    if problems:
        raise SystemExit("sanity check failed — drift did not find what was planted:\n  "
                         + "\n  ".join(problems))


if __name__ == "__main__":
    main()
