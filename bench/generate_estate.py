#!/usr/bin/env python3
"""Generate a deterministic, realistic synthetic GitOps estate for benchmarks.

The estate looks like a finance platform's GitOps repository: several clusters, each
with tiered namespaces (critical / standard / nonprod) running Odoo, CloudNativePG
PostgreSQL clusters, Redis, Traefik and in-house services. Exactly ``--documents``
Kubernetes documents are written (a ``kind: List`` counts as one); a share of them
carries injected policy or schema violations, recorded only in ``DIR/.estate.json``.

Usage::

    python bench/generate_estate.py --documents 10000 --out /tmp/estate [--seed 1]
        [--violation-share 0.1]

The same arguments always produce byte-identical output.
"""

from __future__ import annotations

import argparse
import base64
import copy
import json
import re
import shutil
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from random import Random
from typing import Any, cast

Obj = dict[str, Any]

TIER_LABEL = "gitops-checker.io/tier"
DOMAIN = "acme-finance.example"
REGISTRY = "registry.acme-finance.example"
MANIFEST_MARKER = ".estate.json"

# --------------------------------------------------------------------------- YAML output

_PLAIN = re.compile(r"[A-Za-z/][A-Za-z0-9_./@:+=()-]*|[0-9]+(?:m|k|M|G|Ki|Mi|Gi|Ti|s|h|ms)")
_YAML11_WORDS = frozenset(["y", "n", "yes", "no", "on", "off", "true", "false", "null", "~"])


_QUOTED: dict[str, str] = {}


def _quote(text: str) -> str:
    """Return ``text`` as a YAML scalar: plain when unambiguous, else double-quoted."""
    done = _QUOTED.get(text)
    if done is not None:
        return done
    if (
        _PLAIN.fullmatch(text)
        and not text.endswith(":")
        and text.lower() not in _YAML11_WORDS
    ):
        done = text
    else:
        done = json.dumps(text)
    if len(_QUOTED) < 500_000:
        _QUOTED[text] = done
    return done


def _scalar(value: Any) -> str:
    """Render a non-collection (or empty collection) value on one line."""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "null"
    if isinstance(value, str):
        return _quote(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, dict):
        return "{}"
    if isinstance(value, list):
        return "[]"
    raise TypeError(f"cannot emit {type(value).__name__}")


def _literal(text: str, indent: int, out: list[str]) -> str:
    """Append the body of a literal block scalar; return its header indicator."""
    pad = " " * indent
    body = text.removesuffix("\n")
    for line in body.split("\n"):
        out.append(f"{pad}{line}\n" if line else "\n")
    return "|" if text.endswith("\n") else "|-"


def _is_literal(value: str) -> bool:
    """Multi-line strings become literal blocks unless their whitespace would not survive."""
    return (
        "\n" in value
        and not value.endswith("\n\n")
        and not value.startswith((" ", "\n"))
        and " \n" not in value
        and "\t" not in value
    )


def _emit_map(obj: Obj, indent: int, out: list[str]) -> None:
    pad = " " * indent
    for key, value in obj.items():
        k = _quote(key)
        kind = type(value)
        if kind is str:
            if "\n" in value and _is_literal(value):
                body: list[str] = []
                head = _literal(value, indent + 2, body)
                out.append(f"{pad}{k}: {head}\n")
                out.extend(body)
            else:
                out.append(f"{pad}{k}: {_quote(value)}\n")
        elif kind is dict and value:
            out.append(f"{pad}{k}:\n")
            _emit_map(value, indent + 2, out)
        elif kind is list and value:
            out.append(f"{pad}{k}:\n")
            _emit_list(value, indent + 2, out)
        else:
            out.append(f"{pad}{k}: {_scalar(value)}\n")


def _emit_list(items: list[Any], indent: int, out: list[str]) -> None:
    pad = " " * indent
    for item in items:
        kind = type(item)
        if kind is dict and item:
            sub: list[str] = []
            _emit_map(item, indent + 2, sub)
            sub[0] = f"{pad}- {sub[0][indent + 2:]}"
            out.extend(sub)
        elif kind is list and item:
            out.append(f"{pad}-\n")
            _emit_list(item, indent + 2, out)
        elif kind is str and "\n" in item and _is_literal(item):
            body: list[str] = []
            head = _literal(item, indent + 2, body)
            out.append(f"{pad}- {head}\n")
            out.extend(body)
        else:
            out.append(f"{pad}- {_scalar(item)}\n")


def to_yaml(obj: Obj) -> str:
    """Serialise one mapping as a block-style YAML document (no document marker)."""
    out: list[str] = []
    _emit_map(obj, 0, out)
    return "".join(out)


# --------------------------------------------------------------------------- estate model


@dataclass(frozen=True)
class ClusterSpec:
    name: str
    env: str  # "prod" or "staging"
    region: str


@dataclass(frozen=True)
class NamespaceSpec:
    name: str
    tier: str
    team: str
    cost_center: str
    part_of: str
    curated: tuple[tuple[str, str], ...]
    entities: tuple[str, ...]
    platform: bool = False


@dataclass
class Doc:
    """One top-level YAML document and what is known about it."""

    obj: Obj
    path: str
    index: int
    tier: str | None
    violation: str | None = None
    pointer: str = ""


@dataclass
class ManifestFile:
    path: str
    docs: list[Doc]
    header: str = ""
    leading_marker: bool = False


@dataclass
class AppCtx:
    """Everything an archetype builder needs to know about the app it builds."""

    rng: Random
    cluster: ClusterSpec
    ns: NamespaceSpec
    name: str
    version: str
    dbs: list[str]
    caches: list[str]

    @property
    def tier(self) -> str:
        return self.ns.tier

    @property
    def nonprod(self) -> bool:
        return self.ns.tier == "nonprod"

    @property
    def critical(self) -> bool:
        return self.ns.tier == "critical"

    def host(self, name: str | None = None) -> str:
        sub = name or self.name
        if self.cluster.env == "staging":
            return f"{sub}.{self.ns.name}.staging.{DOMAIN}"
        return f"{sub}.{self.cluster.region}.{DOMAIN}"


CLUSTERS: tuple[ClusterSpec, ...] = (
    ClusterSpec("prod-eu-west-1", "prod", "eu-west-1"),
    ClusterSpec("staging-eu-west-1", "staging", "eu-west-1"),
    ClusterSpec("prod-eu-central-1", "prod", "eu-central-1"),
    ClusterSpec("prod-us-east-1", "prod", "us-east-1"),
    ClusterSpec("staging-us-east-1", "staging", "us-east-1"),
    ClusterSpec("dr-eu-north-1", "prod", "eu-north-1"),
    ClusterSpec("prod-ap-southeast-1", "prod", "ap-southeast-1"),
    ClusterSpec("dev-eu-west-1", "staging", "eu-west-1"),
)

_FIN_ENTITIES = (
    "ledger", "journal", "invoice", "payables", "receivables", "treasury", "fx-rates",
    "tax", "audit", "consolidation", "budget", "expense", "billing", "settlement",
    "cashflow", "fixed-assets", "vendor", "customer", "statement", "accruals",
    "intercompany", "revenue", "collections", "credit-control", "cost-allocation",
)

PLATFORM_NAMESPACES: tuple[NamespaceSpec, ...] = (
    NamespaceSpec("traefik", "critical", "platform", "plt-1000", "edge", (), (), True),
    NamespaceSpec("velero", "standard", "platform", "plt-1000", "backup", (), (), True),
)

PROD_NAMESPACES: tuple[NamespaceSpec, ...] = (
    NamespaceSpec(
        "finance-ledger", "critical", "gl-platform", "fin-4012", "finance-platform",
        (("ledger-db", "postgres"), ("ledger-api", "web"), ("ledger-cache", "redis"),
         ("journal-posting", "worker"), ("period-close", "cron"), ("audit-trail", "web"),
         ("reconciliation", "cron"), ("subledger-sync", "worker")),
        _FIN_ENTITIES,
    ),
    NamespaceSpec(
        "erp-prod", "critical", "erp", "fin-4020", "odoo-erp",
        (("odoo-db", "postgres"), ("odoo", "odoo"), ("odoo-redis", "redis"),
         ("odoo-bank-connector", "worker"), ("odoo-edi-gateway", "web"),
         ("odoo-report-render", "worker"), ("odoo-import", "cron")),
        ("odoo-pos", "odoo-mail", "odoo-stock", "odoo-payroll", "odoo-crm", "odoo-helpdesk",
         "odoo-website", "odoo-portal", "odoo-documents", "odoo-sign"),
    ),
    NamespaceSpec(
        "payments", "critical", "payments", "fin-4031", "payments-platform",
        (("payments-db", "postgres"), ("payment-gateway", "web"), ("payout-scheduler", "cron"),
         ("fx-rates", "web"), ("payment-events", "worker"), ("payments-cache", "redis"),
         ("sepa-export", "cron"), ("card-tokenizer", "web")),
        ("chargeback", "refund", "mandate", "sepa", "swift", "ach", "wallet", "payout",
         "dispute", "fraud-score", "kyc", "sanctions-screening"),
    ),
    NamespaceSpec(
        "treasury", "critical", "treasury", "fin-4044", "treasury-platform",
        (("treasury-db", "postgres"), ("cash-position", "web"),
         ("bank-statement-import", "cron"), ("liquidity-forecast", "worker")),
        ("hedging", "netting", "bank-connectivity", "cash-pooling", "investment",
         "debt", "covenant", "fx-exposure"),
    ),
    NamespaceSpec(
        "reporting", "standard", "reporting", "fin-5010", "reporting-platform",
        (("reporting-db", "postgres"), ("report-builder", "web"), ("export-worker", "worker"),
         ("nightly-rollup", "cron"), ("report-cache", "redis"), ("bi-dashboard", "web")),
        ("kpi", "board-pack", "regulatory", "xbrl", "management-accounts", "variance",
         "forecast", "cohort", "margin", "aging"),
    ),
    NamespaceSpec(
        "data-exports", "standard", "data", "fin-5022", "data-platform",
        (("export-api", "web"), ("gl-extract", "cron"), ("sftp-uploader", "worker")),
        ("warehouse", "lakehouse", "snapshot", "cdc", "datamart", "archive", "bank-feed"),
    ),
)

STAGING_NAMESPACES: tuple[NamespaceSpec, ...] = (
    NamespaceSpec(
        "erp-staging", "nonprod", "erp", "fin-4020", "odoo-erp",
        (("odoo-db", "postgres"), ("odoo", "odoo"), ("odoo-redis", "redis"),
         ("odoo-import", "cron"), ("odoo-edi-gateway", "web")),
        ("odoo-pos", "odoo-mail", "odoo-stock", "odoo-payroll", "odoo-crm", "odoo-portal"),
    ),
    NamespaceSpec(
        "ci", "nonprod", "developer-experience", "eng-9001", "ci-platform",
        (("ci-runner", "worker"), ("test-db", "postgres"), ("artifact-cache", "redis"),
         ("workspace-cleanup", "cron"), ("preview-api", "web")),
        ("buildkit", "lint", "contract-tests", "e2e", "fixtures", "mock-bank", "sonar"),
    ),
    NamespaceSpec(
        "finance-ledger-staging", "nonprod", "gl-platform", "fin-4012", "finance-platform",
        (("ledger-db", "postgres"), ("ledger-api", "web"), ("journal-posting", "worker"),
         ("period-close", "cron")),
        _FIN_ENTITIES,
    ),
    NamespaceSpec(
        "sandbox", "nonprod", "developer-experience", "eng-9001", "sandbox",
        (("demo-api", "web"), ("demo-db", "postgres")),
        ("spike", "poc", "playground", "prototype", "experiment"),
    ),
)

ARCHETYPE_WEIGHTS: tuple[tuple[str, float], ...] = (
    ("web", 0.36), ("worker", 0.26), ("cron", 0.20), ("postgres", 0.09), ("redis", 0.09),
)
ARCHETYPE_SUFFIX: dict[str, tuple[str, ...]] = {
    "web": ("api", "service", "gateway", "portal"),
    "worker": ("worker", "consumer", "processor"),
    "cron": ("sync", "export", "import", "job"),
    "postgres": ("db",),
    "redis": ("cache",),
}

# --------------------------------------------------------------------------- helpers

_ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def secret_text(rng: Random, length: int = 24) -> str:
    return "".join(rng.choices(_ALNUM, k=length))


def std_labels(ctx: AppCtx, component: str, name: str | None = None) -> Obj:
    return {
        "app.kubernetes.io/name": name or ctx.name,
        "app.kubernetes.io/instance": f"{name or ctx.name}-{ctx.cluster.env}",
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/part-of": ctx.ns.part_of,
        "app.kubernetes.io/version": ctx.version,
        "app.kubernetes.io/managed-by": "argocd",
        "team": ctx.ns.team,
        "cost-center": ctx.ns.cost_center,
    }


def std_annotations(ctx: AppCtx, name: str | None = None) -> Obj:
    return {
        "finance.acme/owner": f"{ctx.ns.team}@{DOMAIN}",
        "finance.acme/source": f"https://git.{DOMAIN}/{ctx.ns.team}/{name or ctx.name}",
    }


def selector_labels(name: str, env: str) -> Obj:
    return {"app.kubernetes.io/name": name, "app.kubernetes.io/instance": f"{name}-{env}"}


def meta(name: str, namespace: str | None, labels: Obj | None = None,
         annotations: Obj | None = None) -> Obj:
    m: Obj = {"name": name}
    if namespace is not None:
        m["namespace"] = namespace
    if labels:
        m["labels"] = labels
    if annotations:
        m["annotations"] = annotations
    return m


_RES_TABLE: dict[str, tuple[tuple[str, str, str, str], ...]] = {
    # (request cpu, request memory, limit cpu, limit memory)
    "critical": (("250m", "512Mi", "1", "1Gi"), ("500m", "1Gi", "2", "2Gi"),
                 ("1", "2Gi", "2", "4Gi"), ("750m", "1536Mi", "1500m", "3Gi")),
    "standard": (("100m", "256Mi", "500m", "512Mi"), ("250m", "512Mi", "1", "1Gi"),
                 ("200m", "384Mi", "800m", "768Mi")),
    "nonprod": (("50m", "128Mi", "250m", "256Mi"), ("100m", "256Mi", "500m", "512Mi")),
}


def resources(rng: Random, tier: str, small: bool = False) -> Obj:
    if small:
        return {"requests": {"cpu": "25m", "memory": "32Mi"},
                "limits": {"cpu": "100m", "memory": "64Mi"}}
    rc, rm, lc, lm = rng.choice(_RES_TABLE[tier])
    return {"requests": {"cpu": rc, "memory": rm}, "limits": {"cpu": lc, "memory": lm}}


def container_security(read_only: bool = True, uid: int | None = None) -> Obj:
    sc: Obj = {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": read_only,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
    }
    if uid is not None:
        sc["runAsUser"] = uid
    return sc


def pod_security(uid: int = 10001) -> Obj:
    return {
        "runAsNonRoot": True,
        "runAsUser": uid,
        "runAsGroup": uid,
        "fsGroup": uid,
        "fsGroupChangePolicy": "OnRootMismatch",
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def http_probe(path: str, port: str, initial: int, period: int, failures: int = 3) -> Obj:
    return {
        "httpGet": {"path": path, "port": port, "scheme": "HTTP"},
        "initialDelaySeconds": initial,
        "periodSeconds": period,
        "timeoutSeconds": 2,
        "successThreshold": 1,
        "failureThreshold": failures,
    }


def scheduling(ctx: AppCtx, sel: Obj, spec: Obj) -> None:
    """Add affinity, spread constraints, tolerations and priority to a pod spec."""
    if ctx.nonprod:
        spec["nodeSelector"] = {"node.kubernetes.io/pool": "general"}
        return
    pool = "finance-critical" if ctx.critical else "general"
    spec["priorityClassName"] = "finance-critical" if ctx.critical else "finance-standard"
    spec["affinity"] = {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{
                    "matchExpressions": [
                        {"key": "node.kubernetes.io/pool", "operator": "In", "values": [pool]},
                        {"key": "kubernetes.io/arch", "operator": "In", "values": ["amd64"]},
                    ],
                }],
            },
        },
        "podAntiAffinity": {
            "preferredDuringSchedulingIgnoredDuringExecution": [{
                "weight": 100,
                "podAffinityTerm": {
                    "labelSelector": {"matchLabels": dict(sel)},
                    "topologyKey": "kubernetes.io/hostname",
                },
            }],
        },
    }
    spec["topologySpreadConstraints"] = [{
        "maxSkew": 1,
        "topologyKey": "topology.kubernetes.io/zone",
        "whenUnsatisfiable": "ScheduleAnyway",
        "labelSelector": {"matchLabels": dict(sel)},
    }]
    if ctx.critical:
        spec["tolerations"] = [{
            "key": "dedicated", "operator": "Equal", "value": "finance", "effect": "NoSchedule",
        }]


def replicas_for(ctx: AppCtx, lo: int = 2, hi: int = 4) -> int:
    if ctx.nonprod:
        return 1
    if ctx.critical:
        return ctx.rng.randint(max(lo, 2), max(hi, 3))
    return ctx.rng.randint(1, 3)


def app_env(ctx: AppCtx, port: int) -> list[Obj]:
    env: list[Obj] = [
        {"name": "APP_ENV", "value": "production" if ctx.cluster.env == "prod" else "staging"},
        {"name": "HTTP_PORT", "value": str(port)},
        {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "POD_NAMESPACE",
         "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
        {"name": "GOMEMLIMIT",
         "valueFrom": {"resourceFieldRef": {"resource": "limits.memory", "divisor": "1"}}},
    ]
    if ctx.dbs:
        db = ctx.rng.choice(ctx.dbs)
        env += [
            {"name": "DB_HOST", "value": f"{db}-rw.{ctx.ns.name}.svc"},
            {"name": "DB_NAME", "value": db.removesuffix("-db").replace("-", "_")},
            {"name": "DB_USER",
             "valueFrom": {"secretKeyRef": {"name": f"{db}-app", "key": "username"}}},
            {"name": "DB_PASSWORD",
             "valueFrom": {"secretKeyRef": {"name": f"{db}-app", "key": "password"}}},
        ]
    if ctx.caches:
        cache = ctx.rng.choice(ctx.caches)
        env += [
            {"name": "REDIS_URL", "value": f"redis://{cache}.{ctx.ns.name}.svc:6379/0"},
            {"name": "REDIS_PASSWORD", "valueFrom": {
                "secretKeyRef": {"name": f"{cache}-auth", "key": "password", "optional": False}}},
        ]
    env.append({"name": "OTEL_EXPORTER_OTLP_ENDPOINT",
                "value": "http://otel-collector.monitoring.svc:4317"})
    return env


def image(ctx: AppCtx, name: str | None = None) -> str:
    return f"{REGISTRY}/{ctx.ns.team}/{name or ctx.name}:{ctx.version}"


def app_container(ctx: AppCtx, name: str, port: int, *, args: list[str] | None = None) -> Obj:
    c: Obj = {
        "name": name,
        "image": image(ctx),
        "imagePullPolicy": "IfNotPresent",
    }
    if args:
        c["args"] = args
    c["ports"] = [
        {"name": "http", "containerPort": port, "protocol": "TCP"},
        {"name": "metrics", "containerPort": 9090, "protocol": "TCP"},
    ]
    c["env"] = app_env(ctx, port)
    c["envFrom"] = [{"configMapRef": {"name": f"{ctx.name}-config"}},
                    {"secretRef": {"name": f"{ctx.name}-secrets"}}]
    c["resources"] = resources(ctx.rng, ctx.tier)
    c["startupProbe"] = http_probe("/healthz/started", "http", 5, 5, 24)
    c["readinessProbe"] = http_probe("/healthz/ready", "http", 5, 10)
    c["livenessProbe"] = http_probe("/healthz/live", "http", 15, 20)
    c["securityContext"] = container_security()
    c["volumeMounts"] = [
        {"name": "config", "mountPath": "/etc/app", "readOnly": True},
        {"name": "tmp", "mountPath": "/tmp"},
    ]
    return c


def app_volumes(ctx: AppCtx) -> list[Obj]:
    return [
        {"name": "config", "configMap": {
            "name": f"{ctx.name}-config", "defaultMode": 0o444,
            "items": [{"key": "application.yaml", "path": "application.yaml"}]}},
        {"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}},
    ]


def pod_template(ctx: AppCtx, sel: Obj, labels: Obj, containers: list[Obj],
                 volumes: list[Obj], *, init: list[Obj] | None = None,
                 grace: int = 60, annotations: Obj | None = None) -> Obj:
    spec: Obj = {
        "serviceAccountName": ctx.name,
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "terminationGracePeriodSeconds": grace,
        "securityContext": pod_security(),
        "imagePullSecrets": [{"name": "registry-credentials"}],
    }
    scheduling(ctx, sel, spec)
    if init:
        spec["initContainers"] = init
    spec["containers"] = containers
    spec["volumes"] = volumes
    tmeta: Obj = {"labels": labels}
    tmeta["annotations"] = annotations or {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": "9090",
        "prometheus.io/path": "/metrics",
    }
    return {"metadata": tmeta, "spec": spec}


def deployment(ctx: AppCtx, component: str, containers: list[Obj], volumes: list[Obj], *,
               name: str | None = None, replicas: int | None = None,
               init: list[Obj] | None = None) -> Obj:
    name = name or ctx.name
    sel = selector_labels(name, ctx.cluster.env)
    labels = std_labels(ctx, component, name)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta(name, ctx.ns.name, labels, {
            "argocd.argoproj.io/sync-wave": "2",
            "reloader.stakater.com/auto": "true",
            "finance.acme/owner": f"{ctx.ns.team}@{DOMAIN}",
        }),
        "spec": {
            "replicas": replicas_for(ctx) if replicas is None else replicas,
            "revisionHistoryLimit": 5,
            "progressDeadlineSeconds": 600,
            "selector": {"matchLabels": sel},
            "strategy": {"type": "RollingUpdate",
                         "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 0}},
            "template": pod_template(ctx, sel, labels, containers, volumes, init=init),
        },
    }


def service(ctx: AppCtx, component: str, ports: list[Obj], *, name: str | None = None,
            headless: bool = False, select: str | None = None) -> Obj:
    name = name or ctx.name
    spec: Obj = {"type": "ClusterIP"}
    if headless:
        spec["clusterIP"] = "None"
        spec["publishNotReadyAddresses"] = True
    spec["selector"] = selector_labels(select or ctx.name, ctx.cluster.env)
    spec["ports"] = ports
    spec["sessionAffinity"] = "None"
    spec["internalTrafficPolicy"] = "Cluster"
    spec["ipFamilyPolicy"] = "SingleStack"
    spec["ipFamilies"] = ["IPv4"]
    annotations = {"service.kubernetes.io/topology-mode": "Auto"}
    if not headless:
        annotations["prometheus.io/probe"] = "true"
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta(name, ctx.ns.name, std_labels(ctx, component, select or ctx.name),
                         annotations),
        "spec": spec,
    }


def service_account(ctx: AppCtx, name: str | None = None) -> Obj:
    name = name or ctx.name
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": meta(name, ctx.ns.name, std_labels(ctx, "identity", name), {
            **std_annotations(ctx, name),
            "eks.amazonaws.com/role-arn":
                f"arn:aws:iam::4{ctx.rng.randint(10**10, 10**11 - 1)}:role/{ctx.ns.name}-{name}",
        }),
        "automountServiceAccountToken": False,
        "imagePullSecrets": [{"name": "registry-credentials"}],
    }


def role_and_binding(ctx: AppCtx) -> list[Obj]:
    labels = std_labels(ctx, "rbac")
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": meta(ctx.name, ctx.ns.name, labels, std_annotations(ctx)),
        "rules": [
            {"apiGroups": [""], "resources": ["configmaps"],
             "resourceNames": [f"{ctx.name}-config"], "verbs": ["get", "list", "watch"]},
            {"apiGroups": [""], "resources": ["secrets"],
             "resourceNames": [f"{ctx.name}-secrets"], "verbs": ["get"]},
            {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"],
             "verbs": ["get", "create", "update"]},
        ],
    }
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": meta(ctx.name, ctx.ns.name, labels, std_annotations(ctx)),
        "subjects": [{"kind": "ServiceAccount", "name": ctx.name, "namespace": ctx.ns.name}],
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": ctx.name},
    }
    return [role, binding]


def app_configmap(ctx: AppCtx, port: int) -> Obj:
    rng = ctx.rng
    app_yaml = (
        "server:\n"
        f"  port: {port}\n"
        "  shutdown: graceful\n"
        "  max-request-size: 10MB\n"
        "logging:\n"
        f"  level: {'info' if ctx.cluster.env == 'prod' else 'debug'}\n"
        "  format: json\n"
        "finance:\n"
        f"  base-currency: {rng.choice(['EUR', 'USD', 'GBP'])}\n"
        f"  fiscal-year-start: \"{rng.choice(['01-01', '04-01', '07-01'])}\"\n"
        "  rounding-mode: HALF_EVEN\n"
        f"  posting-batch-size: {rng.choice([250, 500, 1000])}\n"
        "  four-eyes-approval: true\n"
        "tracing:\n"
        f"  sample-ratio: {rng.choice(['0.05', '0.1', '0.25'])}\n"
    )
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": meta(f"{ctx.name}-config", ctx.ns.name, std_labels(ctx, "config"),
                         std_annotations(ctx)),
        "data": {
            "LOG_LEVEL": "info" if ctx.cluster.env == "prod" else "debug",
            "TZ": rng.choice(["Europe/Amsterdam", "Europe/London", "UTC", "America/New_York"]),
            "FEATURE_FLAGS": rng.choice(["multi-currency,auto-reconcile",
                                         "multi-currency", "auto-reconcile,bulk-post"]),
            "HTTP_TIMEOUT": rng.choice(["30s", "60s", "15s"]),
            "ENABLE_AUDIT_LOG": "true",
            "AUDIT_SINK": f"kafka://audit-events.{ctx.ns.name}.svc:9092/{ctx.name}",
            "MAX_DB_CONNECTIONS": str(rng.choice([10, 20, 40])),
            "SHUTDOWN_GRACE_PERIOD": "45s",
            "application.yaml": app_yaml,
        },
    }


def app_secret(ctx: AppCtx) -> Obj:
    rng = ctx.rng
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": meta(f"{ctx.name}-secrets", ctx.ns.name, std_labels(ctx, "config"), {
            "reconcile.external-secrets.io/managed": "false",
            "finance.acme/rotated-at": f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
            "finance.acme/rotation-policy": rng.choice(["90d", "180d"]),
        }),
        "type": "Opaque",
        "data": {
            "API_TOKEN": b64(secret_text(rng, 40)),
            "SIGNING_KEY": b64(secret_text(rng, 64)),
            "WEBHOOK_SECRET": b64(secret_text(rng, 32)),
            "SENTRY_DSN": b64(f"https://{secret_text(rng, 32).lower()}@sentry.{DOMAIN}/"
                              f"{rng.randint(10, 999)}"),
        },
    }


def hpa(ctx: AppCtx, target: str, lo: int, hi: int) -> Obj:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": meta(target, ctx.ns.name, std_labels(ctx, "autoscaling", target),
                         std_annotations(ctx, target)),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": target},
            "minReplicas": lo,
            "maxReplicas": hi,
            "metrics": [
                {"type": "Resource", "resource": {
                    "name": "cpu",
                    "target": {"type": "Utilization",
                               "averageUtilization": ctx.rng.choice([60, 70, 75])}}},
                {"type": "Resource", "resource": {
                    "name": "memory",
                    "target": {"type": "Utilization", "averageUtilization": 80}}},
            ],
            "behavior": {
                "scaleDown": {"stabilizationWindowSeconds": 300, "selectPolicy": "Max",
                              "policies": [{"type": "Percent", "value": 50,
                                            "periodSeconds": 60}]},
                "scaleUp": {"stabilizationWindowSeconds": 0, "selectPolicy": "Max",
                            "policies": [{"type": "Pods", "value": 4, "periodSeconds": 60},
                                         {"type": "Percent", "value": 100,
                                          "periodSeconds": 60}]},
            },
        },
    }


def pdb(ctx: AppCtx, target: str) -> Obj:
    spec: Obj = {}
    if ctx.rng.random() < 0.5:
        spec["minAvailable"] = 1
    else:
        spec["maxUnavailable"] = "25%"
    spec["selector"] = {"matchLabels": selector_labels(target, ctx.cluster.env)}
    spec["unhealthyPodEvictionPolicy"] = "AlwaysAllow"
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": meta(target, ctx.ns.name, std_labels(ctx, "availability", target),
                         std_annotations(ctx, target)),
        "spec": spec,
    }


def _dns_egress() -> Obj:
    return {
        "to": [{"namespaceSelector": {"matchLabels": {
                    "kubernetes.io/metadata.name": "kube-system"}},
                "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
        "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
    }


def network_policy(ctx: AppCtx, target: str, port: int, *, from_traefik: bool,
                   peers: Iterable[tuple[str, int]] = ()) -> Obj:
    ingress_from: list[Obj] = [{"podSelector": {"matchLabels": {
        "app.kubernetes.io/part-of": ctx.ns.part_of}}}]
    if from_traefik:
        ingress_from.append({
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "traefik"}},
            "podSelector": {"matchLabels": {"app.kubernetes.io/name": "traefik"}},
        })
    egress: list[Obj] = [_dns_egress()]
    for peer, peer_port in peers:
        egress.append({
            "to": [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": peer}}}],
            "ports": [{"protocol": "TCP", "port": peer_port}],
        })
    egress.append({
        "to": [{"ipBlock": {"cidr": "0.0.0.0/0",
                            "except": ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]}}],
        "ports": [{"protocol": "TCP", "port": 443}],
    })
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": meta(target, ctx.ns.name, std_labels(ctx, "network", target),
                         std_annotations(ctx, target)),
        "spec": {
            "podSelector": {"matchLabels": selector_labels(target, ctx.cluster.env)},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [
                {"from": ingress_from, "ports": [{"protocol": "TCP", "port": port}]},
                {"from": [{"namespaceSelector": {"matchLabels": {
                    "kubernetes.io/metadata.name": "monitoring"}}}],
                 "ports": [{"protocol": "TCP", "port": 9090}]},
            ],
            "egress": egress,
        },
    }


def _peers(ctx: AppCtx) -> list[tuple[str, int]]:
    peers = [(db, 5432) for db in ctx.dbs[:2]]
    peers += [(c, 6379) for c in ctx.caches[:1]]
    return peers


def exposure(ctx: AppCtx, svc_port_name: str, svc_port: int) -> list[Obj]:
    """Either a networking.k8s.io Ingress or a Traefik IngressRoute + Middleware + Certificate."""
    host = ctx.host()
    issuer = "letsencrypt-prod" if ctx.cluster.env == "prod" else "letsencrypt-staging"
    labels = std_labels(ctx, "edge")
    if ctx.rng.random() < 0.5:
        return [{
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "metadata": meta(ctx.name, ctx.ns.name, labels, {
                "cert-manager.io/cluster-issuer": issuer,
                "traefik.ingress.kubernetes.io/router.entrypoints": "websecure",
                "traefik.ingress.kubernetes.io/router.tls": "true",
                "traefik.ingress.kubernetes.io/router.middlewares":
                    "traefik-secure-headers@kubernetescrd",
            }),
            "spec": {
                "ingressClassName": "traefik",
                "tls": [{"hosts": [host], "secretName": f"{ctx.name}-tls"}],
                "rules": [{"host": host, "http": {"paths": [
                    {"path": "/", "pathType": "Prefix", "backend": {"service": {
                        "name": ctx.name, "port": {"name": svc_port_name}}}},
                ]}}],
            },
        }]
    rl = f"{ctx.name}-ratelimit"
    route = {
        "apiVersion": "traefik.io/v1alpha1",
        "kind": "IngressRoute",
        "metadata": meta(ctx.name, ctx.ns.name, labels),
        "spec": {
            "entryPoints": ["websecure"],
            "routes": [{
                "match": f"Host(`{host}`) && PathPrefix(`/`)",
                "kind": "Rule",
                "priority": 10,
                "services": [{"name": ctx.name, "port": svc_port, "kind": "Service",
                              "passHostHeader": True, "scheme": "http"}],
                "middlewares": [{"name": rl},
                                {"name": "secure-headers", "namespace": "traefik"}],
            }],
            "tls": {"secretName": f"{ctx.name}-tls"},
        },
    }
    avg = ctx.rng.choice([50, 100, 200, 400])
    middleware = {
        "apiVersion": "traefik.io/v1alpha1",
        "kind": "Middleware",
        "metadata": meta(rl, ctx.ns.name, labels),
        "spec": {"rateLimit": {
            "average": avg,
            "burst": avg * 2,
            "period": "1s",
            "sourceCriterion": {"ipStrategy": {"depth": 1}},
        }},
    }
    cert = {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "metadata": meta(f"{ctx.name}-tls", ctx.ns.name, labels),
        "spec": {
            "secretName": f"{ctx.name}-tls",
            "dnsNames": [host],
            "duration": "2160h",
            "renewBefore": "360h",
            "privateKey": {"algorithm": "ECDSA", "size": 256, "rotationPolicy": "Always"},
            "usages": ["digital signature", "key encipherment", "server auth"],
            "issuerRef": {"name": issuer, "kind": "ClusterIssuer", "group": "cert-manager.io"},
        },
    }
    return [route, middleware, cert]


# --------------------------------------------------------------------------- archetypes

Files = list[tuple[str, list[Obj]]]


def rbac_file(ctx: AppCtx, with_role: bool = True) -> tuple[str, list[Obj]]:
    objs = [service_account(ctx)] + (role_and_binding(ctx) if with_role else [])
    if with_role and ctx.rng.random() < 0.25:
        return "rbac.yaml", [{"apiVersion": "v1", "kind": "List", "metadata": {},
                              "items": objs}]
    return "rbac.yaml", objs


def build_web(ctx: AppCtx) -> Files:
    port = ctx.rng.choice([8080, 8000, 3000])
    migrate: list[Obj] | None = None
    if ctx.dbs and ctx.rng.random() < 0.5:
        mig = app_container(ctx, "migrate", port, args=["migrate", "--wait-for-db", "60s"])
        for key in ("ports", "startupProbe", "readinessProbe", "livenessProbe", "envFrom"):
            del mig[key]
        mig["env"] = [e for e in mig["env"] if e["name"].startswith(("DB_", "APP_"))]
        mig["volumeMounts"] = mig["volumeMounts"][:1]
        migrate = [mig]
    dep = deployment(ctx, "api", [app_container(ctx, "api", port)], app_volumes(ctx),
                     init=migrate)
    svc = service(ctx, "api", [
        {"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"},
        {"name": "metrics", "port": 9090, "targetPort": "metrics", "protocol": "TCP"},
    ])
    files: Files = [("deployment.yaml", [dep, svc]),
                    ("config.yaml", [app_configmap(ctx, port), app_secret(ctx)]),
                    rbac_file(ctx)]
    exposed = ctx.rng.random() < 0.75
    if exposed:
        files.append(("ingress.yaml", exposure(ctx, "http", 80)))
    policies = [network_policy(ctx, ctx.name, port, from_traefik=exposed, peers=_peers(ctx))]
    if not ctx.nonprod:
        reps = dep["spec"]["replicas"]
        policies = [hpa(ctx, ctx.name, max(reps, 2 if ctx.critical else 1), reps * 4),
                    pdb(ctx, ctx.name)] + policies
    files.append(("policies.yaml", policies))
    return files


def build_worker(ctx: AppCtx) -> Files:
    port = 8081
    c = app_container(ctx, "worker", port, args=["worker", "--concurrency",
                                                  str(ctx.rng.choice([4, 8, 16]))])
    c["ports"] = c["ports"][1:] + [{"name": "http", "containerPort": port, "protocol": "TCP"}]
    volumes = app_volumes(ctx)
    spool: Obj | None = None
    if ctx.rng.random() < 0.3:
        claim = f"{ctx.name}-spool"
        c["volumeMounts"].append({"name": "spool", "mountPath": "/var/spool/app"})
        volumes.append({"name": "spool", "persistentVolumeClaim": {"claimName": claim}})
        spool = {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": meta(claim, ctx.ns.name, std_labels(ctx, "storage"),
                             {"finance.acme/retention": "30d"}),
            "spec": {
                "accessModes": ["ReadWriteMany"],
                "storageClassName": "efs-sc",
                "volumeMode": "Filesystem",
                "resources": {"requests": {"storage": ctx.rng.choice(["5Gi", "20Gi", "50Gi"])}},
            },
        }
    dep = deployment(ctx, "worker", [c], volumes)
    files: Files = [("deployment.yaml", [dep] + ([spool] if spool else [])),
                    ("config.yaml", [app_configmap(ctx, port), app_secret(ctx)]),
                    rbac_file(ctx)]
    policies = [network_policy(ctx, ctx.name, port, from_traefik=False, peers=_peers(ctx))]
    if not ctx.nonprod:
        policies.insert(0, pdb(ctx, ctx.name))
        if ctx.rng.random() < 0.4:
            reps = dep["spec"]["replicas"]
            policies.insert(0, hpa(ctx, ctx.name, max(reps, 1), reps * 3))
    files.append(("policies.yaml", policies))
    return files


def build_cron(ctx: AppCtx) -> Files:
    rng = ctx.rng
    c = app_container(ctx, "job", 8080, args=["run", ctx.name, "--since", "24h"])
    for key in ("ports", "startupProbe", "readinessProbe", "livenessProbe"):
        del c[key]
    sel = selector_labels(ctx.name, ctx.cluster.env)
    labels = std_labels(ctx, "batch")
    tmpl = pod_template(ctx, sel, labels, [c], app_volumes(ctx), grace=120,
                        annotations={"cluster-autoscaler.kubernetes.io/safe-to-evict": "false"})
    tmpl["spec"]["restartPolicy"] = "OnFailure"
    minute, hour = rng.randint(0, 59), rng.randint(0, 5)
    cron = {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": meta(ctx.name, ctx.ns.name, labels,
                         {"finance.acme/runbook": f"https://runbooks.{DOMAIN}/{ctx.name}"}),
        "spec": {
            "schedule": rng.choice([f"{minute} {hour} * * *", f"{minute} */6 * * *",
                                    f"{minute} {hour} * * 1-5", f"{minute} {hour} 1 * *"]),
            "timeZone": rng.choice(["Europe/Amsterdam", "Etc/UTC", "America/New_York"]),
            "concurrencyPolicy": "Forbid",
            "startingDeadlineSeconds": 600,
            "successfulJobsHistoryLimit": 3,
            "failedJobsHistoryLimit": 5,
            "suspend": False,
            "jobTemplate": {
                "metadata": {"labels": labels},
                "spec": {
                    "backoffLimit": 2,
                    "activeDeadlineSeconds": rng.choice([1800, 3600, 7200]),
                    "ttlSecondsAfterFinished": 86400,
                    "template": tmpl,
                },
            },
        },
    }
    files: Files = [("cronjob.yaml", [cron]),
                    ("config.yaml", [app_configmap(ctx, 8080), app_secret(ctx)]),
                    rbac_file(ctx, with_role=False)]
    if rng.random() < 0.35:
        return [("manifests.yaml", [d for _, docs in files for d in docs])]
    return files


def build_postgres(ctx: AppCtx) -> Files:
    rng = ctx.rng
    name = ctx.name
    dbname = name.removesuffix("-db").replace("-", "_")
    labels = std_labels(ctx, "database")
    instances = 1 if ctx.nonprod else 3
    size = rng.choice(["20Gi", "50Gi", "100Gi", "250Gi"]) if not ctx.nonprod else "10Gi"
    bucket = f"s3://acme-pg-backups-{ctx.cluster.region}/{ctx.ns.name}/{name}"
    pg_version = rng.choice(["16.4", "16.6", "17.2"])
    cluster: Obj = {
        "apiVersion": "postgresql.cnpg.io/v1",
        "kind": "Cluster",
        "metadata": meta(name, ctx.ns.name, labels),
        "spec": {
            "description": f"PostgreSQL for {ctx.ns.part_of} ({dbname})",
            "instances": instances,
            "imageName": f"ghcr.io/cloudnative-pg/postgresql:{pg_version}",
            "primaryUpdateStrategy": "unsupervised",
            "primaryUpdateMethod": "switchover",
            "enableSuperuserAccess": False,
            "postgresql": {
                "parameters": {
                    "max_connections": rng.choice(["200", "300", "500"]),
                    "shared_buffers": rng.choice(["512MB", "1GB", "2GB"]),
                    "effective_cache_size": "3GB",
                    "work_mem": "16MB",
                    "log_min_duration_statement": "1000",
                    "timezone": "UTC",
                },
                "pg_hba": ["hostssl all all 10.0.0.0/8 scram-sha-256"],
            },
            "bootstrap": {"initdb": {"database": dbname, "owner": dbname,
                                     "secret": {"name": f"{name}-app"},
                                     "dataChecksums": True, "encoding": "UTF8"}},
            "storage": {"size": size, "storageClass": "gp3-encrypted"},
            "walStorage": {"size": "10Gi", "storageClass": "gp3-encrypted"},
            "resources": resources(rng, ctx.tier),
            "affinity": {"enablePodAntiAffinity": True,
                         "topologyKey": "topology.kubernetes.io/zone",
                         "podAntiAffinityType": "required" if ctx.critical else "preferred"},
            "monitoring": {"enablePodMonitor": True},
            "backup": {
                "retentionPolicy": "30d" if ctx.critical else "7d",
                "barmanObjectStore": {
                    "destinationPath": bucket,
                    "s3Credentials": {
                        "accessKeyId": {"name": f"{name}-s3", "key": "ACCESS_KEY_ID"},
                        "secretAccessKey": {"name": f"{name}-s3", "key": "ACCESS_SECRET_KEY"},
                    },
                    "wal": {"compression": "gzip", "maxParallel": 4},
                    "data": {"compression": "gzip", "jobs": 2},
                },
            },
        },
    }
    if not ctx.nonprod:
        cluster["spec"]["minSyncReplicas"] = 1
        cluster["spec"]["maxSyncReplicas"] = 1
    backup = {
        "apiVersion": "postgresql.cnpg.io/v1",
        "kind": "ScheduledBackup",
        "metadata": meta(f"{name}-daily", ctx.ns.name, labels),
        "spec": {
            "schedule": f"0 {rng.randint(0, 59)} {rng.randint(0, 4)} * * *",
            "backupOwnerReference": "self",
            "cluster": {"name": name},
            "immediate": True,
            "method": "barmanObjectStore",
        },
    }
    creds = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": meta(f"{name}-app", ctx.ns.name, labels),
        "type": "kubernetes.io/basic-auth",
        "data": {"username": b64(dbname), "password": b64(secret_text(rng, 32))},
    }
    s3 = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": meta(f"{name}-s3", ctx.ns.name, labels),
        "type": "Opaque",
        "data": {"ACCESS_KEY_ID": b64("AKIA" + secret_text(rng, 16).upper()),
                 "ACCESS_SECRET_KEY": b64(secret_text(rng, 40))},
    }
    np = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": meta(name, ctx.ns.name, labels),
        "spec": {
            "podSelector": {"matchLabels": {"cnpg.io/cluster": name}},
            "policyTypes": ["Ingress"],
            "ingress": [
                {"from": [{"podSelector": {"matchLabels": {
                    "app.kubernetes.io/part-of": ctx.ns.part_of}}},
                          {"podSelector": {"matchLabels": {"cnpg.io/cluster": name}}}],
                 "ports": [{"protocol": "TCP", "port": 5432}]},
                {"from": [{"namespaceSelector": {"matchLabels": {
                    "kubernetes.io/metadata.name": "cnpg-system"}}}],
                 "ports": [{"protocol": "TCP", "port": 8000}]},
                {"from": [{"namespaceSelector": {"matchLabels": {
                    "kubernetes.io/metadata.name": "monitoring"}}}],
                 "ports": [{"protocol": "TCP", "port": 9187}]},
            ],
        },
    }
    files: Files = [("cluster.yaml", [cluster, backup]), ("secrets.yaml", [creds, s3]),
                    ("networkpolicy.yaml", [np])]
    if not ctx.nonprod and rng.random() < 0.5:
        files.append(("monitoring.yaml", [{
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": meta(f"{name}-monitoring", ctx.ns.name, labels),
            "data": {"queries.yaml": (
                "pg_ledger_backlog:\n"
                f"  query: \"SELECT count(*) AS pending FROM {dbname}.outbox WHERE sent_at IS NULL\"\n"
                "  metrics:\n"
                "    - pending:\n"
                "        usage: GAUGE\n"
                "        description: Unsent outbox rows\n"
            )},
        }]))
    return files


def build_redis(ctx: AppCtx) -> Files:
    rng = ctx.rng
    name = ctx.name
    sel = selector_labels(name, ctx.cluster.env)
    labels = std_labels(ctx, "cache")
    maxmem_mb = rng.choice([256, 512, 768, 1536])
    conf = (
        "bind 0.0.0.0\n"
        "port 6379\n"
        "protected-mode yes\n"
        f"maxmemory {maxmem_mb}mb\n"
        f"maxmemory-policy {rng.choice(['allkeys-lru', 'volatile-lru', 'allkeys-lfu'])}\n"
        "appendonly yes\n"
        "appendfsync everysec\n"
        "save 900 1\n"
        "save 300 10\n"
        "tcp-keepalive 60\n"
        "timeout 0\n"
        "lazyfree-lazy-eviction yes\n"
        "io-threads 2\n"
    )
    mem_limit = f"{maxmem_mb * 2}Mi"
    redis_c = {
        "name": "redis",
        "image": f"docker.io/library/redis:{rng.choice(['7.2.5', '7.4.1'])}-alpine",
        "imagePullPolicy": "IfNotPresent",
        "command": ["redis-server", "/etc/redis/redis.conf", "--requirepass",
                    "$(REDIS_PASSWORD)"],
        "ports": [{"name": "redis", "containerPort": 6379, "protocol": "TCP"}],
        "env": [{"name": "REDIS_PASSWORD", "valueFrom": {"secretKeyRef": {
            "name": f"{name}-auth", "key": "password"}}}],
        "resources": {"requests": {"cpu": "100m", "memory": f"{maxmem_mb + 128}Mi"},
                      "limits": {"cpu": "1", "memory": mem_limit}},
        "readinessProbe": {"exec": {"command": ["sh", "-c", "redis-cli -a \"$REDIS_PASSWORD\" ping"]},
                           "initialDelaySeconds": 5, "periodSeconds": 10, "timeoutSeconds": 3},
        "livenessProbe": {"tcpSocket": {"port": "redis"}, "initialDelaySeconds": 15,
                          "periodSeconds": 20},
        "securityContext": container_security(uid=999),
        "volumeMounts": [{"name": "data", "mountPath": "/data"},
                         {"name": "config", "mountPath": "/etc/redis", "readOnly": True}],
    }
    exporter = {
        "name": "exporter",
        "image": "quay.io/oliver006/redis_exporter:v1.62.0",
        "ports": [{"name": "metrics", "containerPort": 9121, "protocol": "TCP"}],
        "env": [{"name": "REDIS_PASSWORD", "valueFrom": {"secretKeyRef": {
            "name": f"{name}-auth", "key": "password"}}}],
        "resources": resources(rng, ctx.tier, small=True),
        "securityContext": container_security(uid=59000),
    }
    reps = 1 if ctx.nonprod else 3
    tmpl = pod_template(ctx, sel, labels, [redis_c, exporter], [
        {"name": "config", "configMap": {"name": f"{name}-config"}}], grace=30,
        annotations={"prometheus.io/scrape": "true", "prometheus.io/port": "9121"})
    tmpl["spec"]["securityContext"] = pod_security(999)
    sts = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": meta(name, ctx.ns.name, labels),
        "spec": {
            "serviceName": f"{name}-headless",
            "replicas": reps,
            "podManagementPolicy": "OrderedReady",
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
            "selector": {"matchLabels": sel},
            "template": tmpl,
            "volumeClaimTemplates": [{
                "metadata": {"name": "data", "labels": sel},
                "spec": {
                    "accessModes": ["ReadWriteOnce"],
                    "storageClassName": "gp3-encrypted",
                    "volumeMode": "Filesystem",
                    "resources": {"requests": {"storage": rng.choice(["5Gi", "10Gi", "20Gi"])}},
                },
            }],
            "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain",
                                                     "whenScaled": "Retain"},
        },
    }
    ports = [{"name": "redis", "port": 6379, "targetPort": "redis", "protocol": "TCP"}]
    cm = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": meta(f"{name}-config", ctx.ns.name, labels),
        "data": {"redis.conf": conf},
    }
    auth = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": meta(f"{name}-auth", ctx.ns.name, labels),
        "type": "Opaque",
        "data": {"password": b64(secret_text(rng, 32))},
    }
    files: Files = [
        ("statefulset.yaml", [sts, service(ctx, "cache", ports, name=f"{name}-headless",
                                           headless=True),
                              service(ctx, "cache", ports)]),
        ("config.yaml", [cm, auth]),
        ("serviceaccount.yaml", [service_account(ctx)]),
    ]
    pol = [network_policy(ctx, name, 6379, from_traefik=False)]
    if not ctx.nonprod:
        pol.insert(0, pdb(ctx, name))
    files.append(("policies.yaml", pol))
    return files


def build_odoo(ctx: AppCtx) -> Files:
    rng = ctx.rng
    name = ctx.name
    db = next((d for d in ctx.dbs if d.startswith("odoo")), ctx.dbs[0] if ctx.dbs else "odoo-db")
    odoo_tag = rng.choice(["17.0", "17.0.20240915", "18.0", "16.0"])
    ctx.version = odoo_tag
    workers = rng.choice([4, 6, 8])
    conf = (
        "[options]\n"
        "addons_path = /mnt/extra-addons,/usr/lib/python3/dist-packages/odoo/addons\n"
        "data_dir = /var/lib/odoo\n"
        f"db_host = {db}-rw\n"
        "db_port = 5432\n"
        "db_name = odoo\n"
        "db_sslmode = require\n"
        "dbfilter = ^odoo$\n"
        "list_db = False\n"
        "proxy_mode = True\n"
        f"workers = {workers}\n"
        "max_cron_threads = 2\n"
        "limit_memory_soft = 2147483648\n"
        "limit_memory_hard = 2684354560\n"
        "limit_time_cpu = 600\n"
        "limit_time_real = 1200\n"
        "limit_request = 8192\n"
        "gevent_port = 8072\n"
        "log_level = info\n"
        "log_handler = :INFO,werkzeug:WARNING\n"
    )
    env = [
        {"name": "HOST", "value": f"{db}-rw"},
        {"name": "USER", "valueFrom": {"secretKeyRef": {"name": f"{db}-app", "key": "username"}}},
        {"name": "PASSWORD",
         "valueFrom": {"secretKeyRef": {"name": f"{db}-app", "key": "password"}}},
        {"name": "ODOO_RC", "value": "/etc/odoo/odoo.conf"},
    ]
    mounts = [{"name": "config", "mountPath": "/etc/odoo", "readOnly": True},
              {"name": "filestore", "mountPath": "/var/lib/odoo"},
              {"name": "tmp", "mountPath": "/tmp"}]
    img = f"{REGISTRY}/erp/odoo:{odoo_tag}"
    web: Obj = {
        "name": "odoo",
        "image": img,
        "imagePullPolicy": "IfNotPresent",
        "args": ["--config", "/etc/odoo/odoo.conf", "--no-database-list"],
        "ports": [{"name": "http", "containerPort": 8069, "protocol": "TCP"},
                  {"name": "longpolling", "containerPort": 8072, "protocol": "TCP"}],
        "env": env,
        "resources": resources(rng, ctx.tier),
        "startupProbe": http_probe("/web/health", "http", 10, 10, 30),
        "readinessProbe": http_probe("/web/health", "http", 10, 15),
        "livenessProbe": http_probe("/web/health", "http", 60, 30, 5),
        "securityContext": container_security(read_only=False, uid=101),
        "volumeMounts": mounts,
    }
    wait = {
        "name": "wait-for-db",
        "image": "docker.io/library/postgres:16-alpine",
        "command": ["sh", "-c", f"until pg_isready -h {db}-rw -p 5432; do sleep 2; done"],
        "resources": resources(rng, ctx.tier, small=True),
        "securityContext": container_security(uid=70),
    }
    vols = [{"name": "config", "configMap": {"name": f"{name}-config"}},
            {"name": "filestore", "persistentVolumeClaim": {"claimName": f"{name}-filestore"}},
            {"name": "tmp", "emptyDir": {"medium": "Memory", "sizeLimit": "512Mi"}}]
    dep = deployment(ctx, "web", [web], vols, init=[wait])
    dep["spec"]["template"]["spec"]["securityContext"] = pod_security(101)
    cron_c = copy.deepcopy(web)
    cron_c["name"] = "odoo-cron"
    cron_c["args"] = ["--config", "/etc/odoo/odoo.conf", "--max-cron-threads", "4",
                      "--workers", "0", "--http-port", "8069"]
    cron_c["ports"] = cron_c["ports"][:1]
    cron_c["resources"] = resources(rng, ctx.tier)
    cron_dep = deployment(ctx, "cron", [cron_c], copy.deepcopy(vols), name=f"{name}-cron",
                          replicas=1 if ctx.nonprod else 2)
    cron_dep["spec"]["template"]["spec"]["securityContext"] = pod_security(101)
    cron_dep["spec"]["template"]["spec"]["serviceAccountName"] = name
    cron_dep["spec"]["strategy"] = {"type": "Recreate"}
    svc = service(ctx, "web", [
        {"name": "http", "port": 8069, "targetPort": "http", "protocol": "TCP"},
        {"name": "longpolling", "port": 8072, "targetPort": "longpolling", "protocol": "TCP"},
    ])
    labels = std_labels(ctx, "storage")
    pvc = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": meta(f"{name}-filestore", ctx.ns.name, labels,
                         {"helm.sh/resource-policy": "keep"}),
        "spec": {
            "accessModes": ["ReadWriteMany"],
            "storageClassName": "efs-sc",
            "volumeMode": "Filesystem",
            "resources": {"requests": {"storage": rng.choice(["50Gi", "100Gi", "200Gi"])}},
        },
    }
    cm = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": meta(f"{name}-config", ctx.ns.name, std_labels(ctx, "config")),
        "data": {"odoo.conf": conf, "ODOO_WORKERS": str(workers)},
    }
    sec = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": meta(f"{name}-secrets", ctx.ns.name, std_labels(ctx, "config")),
        "type": "Opaque",
        "data": {"admin_passwd": b64(secret_text(rng, 32)),
                 "smtp_password": b64(secret_text(rng, 20))},
    }
    files: Files = [
        ("deployment.yaml", [dep, svc]),
        ("cron.yaml", [cron_dep]),
        ("config.yaml", [cm, sec]),
        ("storage.yaml", [pvc]),
        ("serviceaccount.yaml", [service_account(ctx)]),
        ("ingress.yaml", exposure(ctx, "http", 8069)),
    ]
    pol = [network_policy(ctx, name, 8069, from_traefik=True, peers=_peers(ctx))]
    if not ctx.nonprod:
        reps = dep["spec"]["replicas"]
        pol = [hpa(ctx, name, reps, reps * 3), pdb(ctx, name)] + pol
    files.append(("policies.yaml", pol))
    return files


ARCHETYPES: dict[str, Callable[[AppCtx], Files]] = {
    "web": build_web, "worker": build_worker, "cron": build_cron,
    "postgres": build_postgres, "redis": build_redis, "odoo": build_odoo,
}

# --------------------------------------------------------------------------- estate builder


class EstateBuilder:
    """Collects files until exactly ``target`` Kubernetes documents have been produced."""

    def __init__(self, target: int, seed: int) -> None:
        self.target = target
        self.rng = Random(seed)
        self.count = 0
        self.files: list[ManifestFile] = []
        self.raw: dict[str, str] = {}
        self.ns_tier: dict[str, str] = {}

    @property
    def full(self) -> bool:
        return self.count >= self.target

    def add(self, path: str, objs: list[Obj], tier: str | None) -> bool:
        """Add a manifest file (truncated at the target); return whether anything was added."""
        room = self.target - self.count
        if room <= 0 or not objs:
            return False
        objs = objs[:room]
        header = ""
        r = self.rng.random()
        if r < 0.15:
            header = "# Managed by GitOps. Changes go through pull-request review.\n"
        elif r < 0.22:
            header = f"# Source: {path.rsplit('/', 2)[-2]}\n"
        mf = ManifestFile(path, [], header, leading_marker=self.rng.random() < 0.3)
        for i, obj in enumerate(objs):
            mf.docs.append(Doc(obj, path, i, tier))
        self.files.append(mf)
        self.count += len(objs)
        return True

    # ---------------------------------------------------------------- cluster level

    def namespace_base(self, cluster: ClusterSpec, ns: NamespaceSpec) -> None:
        rng = self.rng
        base = f"clusters/{cluster.name}/namespaces/{ns.name}"
        labels = {
            "kubernetes.io/metadata.name": ns.name,
            TIER_LABEL: ns.tier,
            "team": ns.team,
            "cost-center": ns.cost_center,
            "pod-security.kubernetes.io/enforce": "baseline" if ns.name == "ci" else "restricted",
            "pod-security.kubernetes.io/enforce-version": "latest",
            "pod-security.kubernetes.io/audit": "restricted",
        }
        namespace = {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": meta(ns.name, None, labels, {
                "finance.acme/owner": f"{ns.team}@{DOMAIN}",
                "finance.acme/data-classification":
                    "confidential" if ns.tier == "critical" else "internal",
                "scheduler.alpha.kubernetes.io/node-selector":
                    "node.kubernetes.io/pool=" + ("finance-critical" if ns.tier == "critical"
                                                  else "general"),
            }),
        }
        scale = {"critical": 4, "standard": 2, "nonprod": 1}[ns.tier]
        base_labels = {
            TIER_LABEL: ns.tier,
            "team": ns.team,
            "app.kubernetes.io/part-of": "namespace-baseline",
            "app.kubernetes.io/managed-by": "argocd",
        }
        base_notes = {"finance.acme/owner": f"platform@{DOMAIN}",
                      "finance.acme/source": f"https://git.{DOMAIN}/platform/namespaces"}
        quota = {
            "apiVersion": "v1",
            "kind": "ResourceQuota",
            "metadata": meta("compute", ns.name, base_labels, base_notes),
            "spec": {"hard": {
                "requests.cpu": str(20 * scale),
                "requests.memory": f"{40 * scale}Gi",
                "limits.cpu": str(40 * scale),
                "limits.memory": f"{80 * scale}Gi",
                "requests.storage": f"{500 * scale}Gi",
                "persistentvolumeclaims": str(25 * scale),
                "pods": str(100 * scale),
                "services.loadbalancers": "1" if ns.name == "traefik" else "0",
                "count/cronjobs.batch": str(20 * scale),
            }},
        }
        limits: Obj = {
            "apiVersion": "v1",
            "kind": "LimitRange",
            "metadata": meta("defaults", ns.name, base_labels, base_notes),
            "spec": {"limits": [
                {"type": "Container",
                 "default": {"cpu": "500m", "memory": "512Mi"},
                 "defaultRequest": {"cpu": "100m", "memory": "128Mi"},
                 "max": {"cpu": "8", "memory": "16Gi"},
                 "min": {"cpu": "10m", "memory": "16Mi"},
                 "maxLimitRequestRatio": {"cpu": "10"}},
                {"type": "PersistentVolumeClaim",
                 "max": {"storage": "1Ti"}, "min": {"storage": "1Gi"}},
            ]},
        }
        docs = [namespace, quota, limits]
        if rng.random() < 0.2:
            docs = [{"apiVersion": "v1", "kind": "List", "metadata": {}, "items": docs}]
        self.add(f"{base}/namespace.yaml", docs, ns.tier)
        deny = {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": meta("default-deny-all", ns.name, base_labels, base_notes),
            "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
        }
        dns = {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": meta("allow-dns", ns.name, base_labels, base_notes),
            "spec": {"podSelector": {}, "policyTypes": ["Egress"], "egress": [_dns_egress()]},
        }
        mon = {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": meta("allow-monitoring", ns.name, base_labels, base_notes),
            "spec": {
                "podSelector": {},
                "policyTypes": ["Ingress"],
                "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {
                    "kubernetes.io/metadata.name": "monitoring"}}}],
                    "ports": [{"protocol": "TCP", "port": 9090}]}],
            },
        }
        self.add(f"{base}/network-policies.yaml", [deny, dns, mon], ns.tier)
        cfg = json.dumps({"auths": {REGISTRY: {
            "username": "robot$" + ns.team,
            "password": secret_text(rng, 32),
            "auth": b64(f"robot${ns.team}:{secret_text(rng, 16)}"),
        }}}, sort_keys=True)
        self.add(f"{base}/registry-credentials.yaml", [{
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": meta("registry-credentials", ns.name, base_labels, base_notes),
            "type": "kubernetes.io/dockerconfigjson",
            "data": {".dockerconfigjson": b64(cfg)},
        }], ns.tier)

    def cluster_base(self, cluster: ClusterSpec, namespaces: list[NamespaceSpec]) -> None:
        root = f"clusters/{cluster.name}"
        rbac = "rbac.authorization.k8s.io"
        prio = [{
            "apiVersion": "scheduling.k8s.io/v1",
            "kind": "PriorityClass",
            "metadata": meta(name, None),
            "value": value,
            "globalDefault": False,
            "preemptionPolicy": "PreemptLowerPriority",
            "description": desc,
        } for name, value, desc in (
            ("finance-critical", 100000, "Ledger, ERP and payment workloads."),
            ("finance-standard", 10000, "Reporting and batch workloads."),
        )]
        self.add(f"{root}/cluster/priority-classes.yaml", prio, None)
        self.add(f"{root}/cluster/ingress-class.yaml", [{
            "apiVersion": "networking.k8s.io/v1",
            "kind": "IngressClass",
            "metadata": meta("traefik", None, None,
                             {"ingressclass.kubernetes.io/is-default-class": "true"}),
            "spec": {"controller": "traefik.io/ingress-controller"},
        }], None)
        roles = [
            {"apiVersion": f"{rbac}/v1", "kind": "ClusterRole",
             "metadata": meta("finance-auditor", None, {"rbac.acme/audience": "audit"}),
             "rules": [
                 {"apiGroups": ["", "apps", "batch"],
                  "resources": ["pods", "services", "configmaps", "deployments",
                                "statefulsets", "cronjobs", "jobs"],
                  "verbs": ["get", "list", "watch"]},
                 {"apiGroups": ["postgresql.cnpg.io"], "resources": ["clusters", "backups",
                                                                     "scheduledbackups"],
                  "verbs": ["get", "list", "watch"]},
                 {"apiGroups": ["velero.io"], "resources": ["backups", "schedules", "restores"],
                  "verbs": ["get", "list"]},
             ]},
            {"apiVersion": f"{rbac}/v1", "kind": "ClusterRole",
             "metadata": meta("gitops-deployer", None, {"rbac.acme/audience": "automation"}),
             "rules": [
                 {"apiGroups": ["", "apps", "batch", "networking.k8s.io", "policy",
                                "autoscaling"],
                  "resources": ["deployments", "statefulsets", "services", "configmaps",
                                "secrets", "serviceaccounts", "cronjobs", "ingresses",
                                "networkpolicies", "poddisruptionbudgets",
                                "horizontalpodautoscalers", "persistentvolumeclaims"],
                  "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"]},
                 {"apiGroups": ["traefik.io", "cert-manager.io", "postgresql.cnpg.io"],
                  "resources": ["ingressroutes", "middlewares", "certificates", "clusters",
                                "scheduledbackups"],
                  "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"]},
             ]},
            {"apiVersion": f"{rbac}/v1", "kind": "ClusterRole",
             "metadata": meta("oncall-debug", None, {"rbac.acme/audience": "humans"}),
             "rules": [
                 {"apiGroups": [""], "resources": ["pods", "pods/log", "events"],
                  "verbs": ["get", "list", "watch"]},
                 {"apiGroups": [""], "resources": ["pods/portforward"], "verbs": ["create"]},
             ]},
        ]
        self.add(f"{root}/cluster/rbac/cluster-roles.yaml", roles, None)
        bindings = []
        for name, role, subject in (
            ("finance-auditors", "finance-auditor",
             {"kind": "Group", "apiGroup": rbac, "name": "acme:finance-audit"}),
            ("argocd-gitops-deployer", "gitops-deployer",
             {"kind": "ServiceAccount", "name": "argocd-application-controller",
              "namespace": "argocd"}),
            ("platform-oncall-view", "view",
             {"kind": "Group", "apiGroup": rbac, "name": "acme:platform-oncall"}),
            ("platform-oncall-debug", "oncall-debug",
             {"kind": "Group", "apiGroup": rbac, "name": "acme:platform-oncall"}),
            ("sre-readonly", "view",
             {"kind": "Group", "apiGroup": rbac, "name": "acme:sre"}),
        ):
            bindings.append({
                "apiVersion": f"{rbac}/v1", "kind": "ClusterRoleBinding",
                "metadata": meta(name, None),
                "subjects": [subject],
                "roleRef": {"apiGroup": rbac, "kind": "ClusterRole", "name": role},
            })
        self.add(f"{root}/cluster/rbac/cluster-role-bindings.yaml", bindings, None)
        for ns in namespaces:
            self.namespace_base(cluster, ns)
        self.traefik(cluster)
        self.velero(cluster, namespaces)
        self.raw[f"{root}/cluster/kustomization.yaml"] = to_yaml({
            "apiVersion": "kustomize.config.k8s.io/v1beta1",
            "kind": "Kustomization",
            "resources": ["priority-classes.yaml", "ingress-class.yaml",
                          "rbac/cluster-roles.yaml", "rbac/cluster-role-bindings.yaml"],
        })
        self.raw[f"{root}/namespaces/traefik/traefik/values.yaml"] = to_yaml(
            traefik_values(cluster))

    def traefik(self, cluster: ClusterSpec) -> None:
        ns = PLATFORM_NAMESPACES[0]
        ctx = AppCtx(self.rng, cluster, ns, "traefik", "3.1.4", [], [])
        base = f"clusters/{cluster.name}/namespaces/traefik/traefik"
        rbac = "rbac.authorization.k8s.io"
        labels = std_labels(ctx, "ingress-controller")
        c = {
            "name": "traefik",
            "image": "docker.io/library/traefik:v3.1.4",
            "imagePullPolicy": "IfNotPresent",
            "args": ["--entryPoints.web.address=:8000", "--entryPoints.websecure.address=:8443",
                     "--entryPoints.web.http.redirections.entryPoint.to=websecure",
                     "--providers.kubernetescrd", "--providers.kubernetesingress",
                     "--metrics.prometheus=true", "--ping=true", "--accesslog=true",
                     "--log.format=json"],
            "ports": [{"name": "web", "containerPort": 8000, "protocol": "TCP"},
                      {"name": "websecure", "containerPort": 8443, "protocol": "TCP"},
                      {"name": "metrics", "containerPort": 9100, "protocol": "TCP"},
                      {"name": "traefik", "containerPort": 9000, "protocol": "TCP"}],
            "resources": {"requests": {"cpu": "500m", "memory": "256Mi"},
                          "limits": {"cpu": "2", "memory": "512Mi"}},
            "readinessProbe": http_probe("/ping", "traefik", 2, 10, 1),
            "livenessProbe": http_probe("/ping", "traefik", 2, 10, 3),
            "securityContext": container_security(uid=65532),
            "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
        }
        dep = deployment(ctx, "ingress-controller", [c],
                         [{"name": "tmp", "emptyDir": {}}], replicas=3)
        dep["spec"]["template"]["spec"]["automountServiceAccountToken"] = True
        dep["spec"]["template"]["spec"]["securityContext"] = pod_security(65532)
        svc = service(ctx, "ingress-controller", [
            {"name": "web", "port": 80, "targetPort": "web", "protocol": "TCP"},
            {"name": "websecure", "port": 443, "targetPort": "websecure", "protocol": "TCP"},
        ])
        svc["metadata"]["annotations"] = {
            "service.beta.kubernetes.io/aws-load-balancer-type": "external",
            "service.beta.kubernetes.io/aws-load-balancer-scheme": "internet-facing",
            "service.beta.kubernetes.io/aws-load-balancer-nlb-target-type": "ip",
        }
        svc["spec"]["type"] = "LoadBalancer"
        svc["spec"]["externalTrafficPolicy"] = "Local"
        del svc["spec"]["internalTrafficPolicy"]
        sa = service_account(ctx)
        cr = {
            "apiVersion": f"{rbac}/v1", "kind": "ClusterRole",
            "metadata": meta("traefik", None, labels),
            "rules": [
                {"apiGroups": [""], "resources": ["services", "endpoints", "secrets", "nodes"],
                 "verbs": ["get", "list", "watch"]},
                {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"],
                 "verbs": ["list", "watch"]},
                {"apiGroups": ["networking.k8s.io"],
                 "resources": ["ingresses", "ingressclasses"], "verbs": ["get", "list", "watch"]},
                {"apiGroups": ["networking.k8s.io"], "resources": ["ingresses/status"],
                 "verbs": ["update"]},
                {"apiGroups": ["traefik.io"],
                 "resources": ["ingressroutes", "middlewares", "tlsoptions", "serverstransports",
                               "traefikservices", "tlsstores"],
                 "verbs": ["get", "list", "watch"]},
            ],
        }
        crb = {
            "apiVersion": f"{rbac}/v1", "kind": "ClusterRoleBinding",
            "metadata": meta("traefik", None, labels),
            "subjects": [{"kind": "ServiceAccount", "name": "traefik", "namespace": "traefik"}],
            "roleRef": {"apiGroup": rbac, "kind": "ClusterRole", "name": "traefik"},
        }
        headers = {
            "apiVersion": "traefik.io/v1alpha1", "kind": "Middleware",
            "metadata": meta("secure-headers", "traefik", labels),
            "spec": {"headers": {
                "stsSeconds": 63072000, "stsIncludeSubdomains": True, "stsPreload": True,
                "forceSTSHeader": True, "frameDeny": True, "contentTypeNosniff": True,
                "browserXssFilter": True, "referrerPolicy": "strict-origin-when-cross-origin",
                "customResponseHeaders": {"X-Powered-By": "", "Server": ""},
            }},
        }
        limit = {
            "apiVersion": "traefik.io/v1alpha1", "kind": "Middleware",
            "metadata": meta("default-ratelimit", "traefik", labels),
            "spec": {"rateLimit": {"average": 300, "burst": 600, "period": "1s"}},
        }
        self.add(f"{base}/rbac.yaml", [sa, cr, crb], "critical")
        self.add(f"{base}/deployment.yaml", [dep, svc, pdb(ctx, "traefik")], "critical")
        self.add(f"{base}/middlewares.yaml", [headers, limit], "critical")
        self.raw[f"{base}/kustomization.yaml"] = to_yaml({
            "apiVersion": "kustomize.config.k8s.io/v1beta1",
            "kind": "Kustomization",
            "namespace": "traefik",
            "resources": ["rbac.yaml", "deployment.yaml", "middlewares.yaml"],
        })

    def velero(self, cluster: ClusterSpec, namespaces: list[NamespaceSpec]) -> None:
        scheds: list[Obj] = []
        for ns in namespaces:
            if ns.platform or ns.tier == "nonprod":
                continue
            hourly = ns.tier == "critical"
            scheds.append({
                "apiVersion": "velero.io/v1",
                "kind": "Schedule",
                "metadata": meta(f"{ns.name}-{'6h' if hourly else 'daily'}", "velero",
                                 {TIER_LABEL: ns.tier, "team": ns.team}),
                "spec": {
                    "schedule": "0 */6 * * *" if hourly else "30 1 * * *",
                    "useOwnerReferencesInBackup": False,
                    "template": {
                        "includedNamespaces": [ns.name],
                        "excludedResources": ["events", "events.events.k8s.io"],
                        "snapshotVolumes": True,
                        "defaultVolumesToFsBackup": False,
                        "storageLocation": "default",
                        "volumeSnapshotLocations": [f"aws-{cluster.region}"],
                        "ttl": "720h0m0s" if hourly else "336h0m0s",
                        "metadata": {"labels": {"backup.acme/tier": ns.tier}},
                    },
                },
            })
        scheds.append({
            "apiVersion": "velero.io/v1",
            "kind": "Schedule",
            "metadata": meta("cluster-resources-daily", "velero"),
            "spec": {"schedule": "0 3 * * *", "template": {
                "includeClusterResources": True,
                "includedNamespaces": ["*"],
                "snapshotVolumes": False,
                "storageLocation": "default",
                "ttl": "2160h0m0s",
            }},
        })
        base = f"clusters/{cluster.name}/namespaces/velero/schedules"
        for i in range(0, len(scheds), 4):
            self.add(f"{base}/schedules-{i // 4 + 1}.yaml", scheds[i:i + 4], "standard")

    # ---------------------------------------------------------------- apps

    def add_app(self, cluster: ClusterSpec, ns: NamespaceSpec, state: dict[str, Any]) -> None:
        rng = self.rng
        idx = state["next"]
        state["next"] += 1
        if idx < len(ns.curated):
            name, arch = ns.curated[idx]
        else:
            arch = rng.choices([a for a, _ in ARCHETYPE_WEIGHTS],
                               [w for _, w in ARCHETYPE_WEIGHTS])[0]
            name = f"{rng.choice(ns.entities)}-{rng.choice(ARCHETYPE_SUFFIX[arch])}"
        used: set[str] = state["used"]
        base_name, n = name, 2
        while name in used:
            name, n = f"{base_name}-{n}", n + 1
        used.add(name)
        version = f"{rng.randint(1, 4)}.{rng.randint(0, 24)}.{rng.randint(0, 15)}"
        ctx = AppCtx(rng, cluster, ns, name, version, list(state["dbs"]), list(state["caches"]))
        files = ARCHETYPES[arch](ctx)
        if arch == "postgres":
            state["dbs"].append(name)
        elif arch == "redis":
            state["caches"].append(name)
        base = f"clusters/{cluster.name}/namespaces/{ns.name}/{name}"
        written = [fname for fname, objs in files if self.add(f"{base}/{fname}", objs, ns.tier)]
        if written and rng.random() < 0.6:
            self.raw[f"{base}/kustomization.yaml"] = to_yaml({
                "apiVersion": "kustomize.config.k8s.io/v1beta1",
                "kind": "Kustomization",
                "namespace": ns.name,
                "labels": [{"pairs": {"app.kubernetes.io/part-of": ns.part_of},
                            "includeSelectors": False}],
                "resources": written,
            })

    def build(self) -> None:
        n_clusters = min(len(CLUSTERS), max(2, 1 + self.target // 2000))
        clusters = CLUSTERS[:n_clusters]
        plans: list[tuple[ClusterSpec, list[NamespaceSpec]]] = []
        for cluster in clusters:
            app_ns = list(PROD_NAMESPACES if cluster.env == "prod" else STAGING_NAMESPACES)
            plans.append((cluster, app_ns))
            self.cluster_base(cluster, list(PLATFORM_NAMESPACES) + app_ns)
        states = {(c.name, ns.name): {"next": 0, "used": set(), "dbs": [], "caches": []}
                  for c, nss in plans for ns in nss}
        while not self.full:
            for cluster, nss in plans:
                for ns in nss:
                    if self.full:
                        break
                    self.add_app(cluster, ns, states[(cluster.name, ns.name)])
        self.raw[".github/workflows/ci.yml"] = to_yaml(ci_workflow())
        self.raw["charts/odoo/Chart.yaml"] = to_yaml({
            "apiVersion": "v2", "name": "odoo", "description": "Odoo ERP for ACME Finance",
            "type": "application", "version": "1.10.0", "appVersion": "17.0",
        })
        self.raw["charts/odoo/values.yaml"] = to_yaml(odoo_values())


def traefik_values(cluster: ClusterSpec) -> Obj:
    """Helm-style values for the Traefik chart (not a Kubernetes document)."""
    return {
        "deployment": {"replicas": 3},
        "image": {"tag": "v3.1.4"},
        "ingressClass": {"enabled": True, "isDefaultClass": True},
        "ports": {"web": {"redirectTo": {"port": "websecure"}},
                  "websecure": {"tls": {"enabled": True}}},
        "service": {"annotations": {
            "service.beta.kubernetes.io/aws-load-balancer-type": "external"}},
        "logs": {"access": {"enabled": True}, "general": {"level": "INFO"}},
        "metrics": {"prometheus": {"entryPoint": "metrics"}},
        "providers": {"kubernetesCRD": {"enabled": True, "allowCrossNamespace": True},
                      "kubernetesIngress": {"enabled": True}},
        "nodeSelector": {"topology.kubernetes.io/region": cluster.region},
    }


def odoo_values() -> Obj:
    """Helm-style values.yaml for an Odoo chart."""
    return {
        "replicaCount": 3,
        "image": {"repository": f"{REGISTRY}/erp/odoo", "tag": "17.0",
                  "pullPolicy": "IfNotPresent"},
        "odoo": {"workers": 6, "maxCronThreads": 2, "proxyMode": True, "listDb": False,
                 "dbFilter": "^odoo$", "withoutDemo": "all"},
        "postgresql": {"enabled": False, "externalHost": "odoo-db-rw", "port": 5432,
                       "sslmode": "require"},
        "ingress": {"enabled": True, "className": "traefik",
                    "hosts": [{"host": f"erp.{DOMAIN}", "paths": ["/"]}],
                    "tls": [{"secretName": "odoo-tls", "hosts": [f"erp.{DOMAIN}"]}]},
        "resources": {"requests": {"cpu": "500m", "memory": "1Gi"},
                      "limits": {"cpu": "2", "memory": "3Gi"}},
        "persistence": {"enabled": True, "storageClass": "efs-sc", "size": "100Gi",
                        "accessMode": "ReadWriteMany"},
        "autoscaling": {"enabled": True, "minReplicas": 3, "maxReplicas": 9,
                        "targetCPUUtilizationPercentage": 70},
        "features": {"mailcatcher": "off", "demoData": "no", "longpolling": "yes"},
    }


def ci_workflow() -> Obj:
    """A GitHub Actions workflow (not a Kubernetes document)."""
    return {
        "name": "validate-manifests",
        "on": {"pull_request": {"paths": ["clusters/**", "charts/**"]},
               "push": {"branches": ["main"]}},
        "permissions": {"contents": "read", "security-events": "write"},
        "concurrency": {"group": "validate-${{ github.ref }}", "cancel-in-progress": True},
        "jobs": {"validate": {
            "runs-on": "ubuntu-24.04",
            "timeout-minutes": 15,
            "steps": [
                {"uses": "actions/checkout@v4", "with": {"fetch-depth": 0}},
                {"name": "Set up Python", "uses": "actions/setup-python@v5",
                 "with": {"python-version": "3.11"}},
                {"name": "Install gitops-checker", "run": "pip install gitops-checker==0.1.0"},
                {"name": "Check policies and drift",
                 "run": "gitops-checker check clusters/ --format sarif --output results.sarif\n"
                        "gitops-checker check clusters/ --format text\n"},
                {"name": "Upload SARIF", "if": "always()",
                 "uses": "github/codeql-action/upload-sarif@v3",
                 "with": {"sarif_file": "results.sarif"}},
            ],
        }},
    }


# --------------------------------------------------------------------------- violations

# Applied in this order; types with few eligible documents come first so that their
# shortfall can be carried over to the broadly applicable types at the end.
VIOLATION_WEIGHTS: tuple[tuple[str, float], ...] = (
    ("cluster_admin_binding", 0.05),
    ("ingress_without_tls", 0.11),
    ("single_replica_critical", 0.12),
    ("schema_wrong_type", 0.10),
    ("schema_unknown_field", 0.10),
    ("privileged_container", 0.12),
    ("latest_image", 0.20),
    ("missing_resources", 0.20),
)
# At most 1/n of the eligible documents get these, so that most stay compliant.
_POOL_CAP = {"cluster_admin_binding": 3, "ingress_without_tls": 2}
_WORKLOADS = ("Deployment", "StatefulSet", "CronJob")


def _pod_spec(obj: Obj) -> Obj:
    if obj["kind"] == "CronJob":
        return cast(Obj, obj["spec"]["jobTemplate"]["spec"]["template"]["spec"])
    return cast(Obj, obj["spec"]["template"]["spec"])


def _pod_pointer(obj: Obj) -> str:
    if obj["kind"] == "CronJob":
        return "/spec/jobTemplate/spec/template/spec"
    return "/spec/template/spec"


def eligible(doc: Doc, vtype: str) -> bool:
    """Whether violation ``vtype`` can be injected into ``doc``."""
    kind = doc.obj.get("kind")
    if vtype in ("missing_resources", "latest_image", "privileged_container"):
        return kind in _WORKLOADS
    if vtype == "ingress_without_tls":
        return kind == "Ingress"
    if vtype == "cluster_admin_binding":
        return kind == "ClusterRoleBinding"
    if vtype == "single_replica_critical":
        return kind == "Deployment" and doc.tier == "critical"
    if vtype == "schema_unknown_field":
        return kind in _WORKLOADS + ("Service", "ConfigMap", "Ingress")
    if vtype == "schema_wrong_type":
        return kind in _WORKLOADS + ("Service", "HorizontalPodAutoscaler")
    raise ValueError(vtype)


def inject(doc: Doc, vtype: str, rng: Random) -> str:
    """Mutate ``doc.obj`` to carry violation ``vtype``; return the JSON pointer at fault."""
    obj = doc.obj
    kind = obj["kind"]
    if vtype in ("missing_resources", "latest_image", "privileged_container"):
        pod = _pod_spec(obj)
        c = pod["containers"][0]
        ptr = f"{_pod_pointer(obj)}/containers/0"
        if vtype == "missing_resources":
            if rng.random() < 0.5 or "limits" not in c.get("resources", {}):
                c.pop("resources", None)
                return f"{ptr}/resources"
            del c["resources"]["limits"]
            return f"{ptr}/resources/limits"
        if vtype == "latest_image":
            c["image"] = c["image"].rsplit(":", 1)[0] + ":latest"
            return f"{ptr}/image"
        sc = c.setdefault("securityContext", {})
        sc["privileged"] = True
        sc["allowPrivilegeEscalation"] = True
        sc.pop("runAsNonRoot", None)
        sc["runAsUser"] = 0
        pod["securityContext"].pop("runAsNonRoot", None)
        return f"{ptr}/securityContext/privileged"
    if vtype == "ingress_without_tls":
        del obj["spec"]["tls"]
        obj["metadata"]["annotations"].pop("traefik.ingress.kubernetes.io/router.tls", None)
        obj["metadata"]["annotations"]["traefik.ingress.kubernetes.io/router.entrypoints"] = "web"
        return "/spec/tls"
    if vtype == "cluster_admin_binding":
        obj["roleRef"]["name"] = "cluster-admin"
        return "/roleRef/name"
    if vtype == "single_replica_critical":
        obj["spec"]["replicas"] = 1
        return "/spec/replicas"
    if vtype == "schema_unknown_field":
        if kind in ("Deployment", "StatefulSet"):
            if rng.random() < 0.5:
                obj["spec"]["replica"] = obj["spec"]["replicas"]
                return "/spec/replica"
            _pod_spec(obj)["containers"][0]["imagePullPolicyy"] = "Always"
            return f"{_pod_pointer(obj)}/containers/0/imagePullPolicyy"
        if kind == "CronJob":
            obj["spec"]["timezone"] = obj["spec"]["timeZone"]
            return "/spec/timezone"
        if kind == "Service":
            obj["spec"]["selectors"] = dict(obj["spec"]["selector"])
            return "/spec/selectors"
        if kind == "ConfigMap":
            obj["immutible"] = True
            return "/immutible"
        path = obj["spec"]["rules"][0]["http"]["paths"][0]
        path["pathtype"] = path["pathType"]
        return "/spec/rules/0/http/paths/0/pathtype"
    if vtype == "schema_wrong_type":
        if kind in ("Deployment", "StatefulSet"):
            if rng.random() < 0.5:
                obj["spec"]["replicas"] = str(obj["spec"]["replicas"])
                return "/spec/replicas"
            port = _pod_spec(obj)["containers"][0]["ports"][0]
            port["containerPort"] = str(port["containerPort"])
            return f"{_pod_pointer(obj)}/containers/0/ports/0/containerPort"
        if kind == "CronJob":
            obj["spec"]["successfulJobsHistoryLimit"] = "3"
            return "/spec/successfulJobsHistoryLimit"
        if kind == "Service":
            obj["spec"]["ports"][0]["port"] = str(obj["spec"]["ports"][0]["port"])
            return "/spec/ports/0/port"
        obj["spec"]["minReplicas"] = str(obj["spec"]["minReplicas"])
        return "/spec/minReplicas"
    raise ValueError(vtype)


def inject_violations(docs: list[Doc], share: float, rng: Random) -> None:
    """Pick ``round(share * len(docs))`` distinct documents and inject one violation each."""
    total = round(share * len(docs))
    quotas = {v: int(total * w) for v, w in VIOLATION_WEIGHTS}
    left = total - sum(quotas.values())
    for v, _ in sorted(VIOLATION_WEIGHTS, key=lambda vw: -vw[1]):
        if left <= 0:
            break
        quotas[v] += 1
        left -= 1
    used: set[int] = set()
    carry = 0
    for vtype, _ in VIOLATION_WEIGHTS:
        want = quotas[vtype] + carry
        pool = [i for i, d in enumerate(docs) if i not in used and eligible(d, vtype)]
        cap = len(pool) if vtype not in _POOL_CAP else -(-len(pool) // _POOL_CAP[vtype])
        take = min(want, cap)
        carry = want - take
        for i in sorted(rng.sample(pool, take)):
            used.add(i)
            doc = docs[i]
            doc.obj = copy.deepcopy(doc.obj)  # builders may share sub-objects between docs
            doc.violation = vtype
            doc.pointer = inject(doc, vtype, rng)


# --------------------------------------------------------------------------- output


def render(mf: ManifestFile) -> str:
    parts = [mf.header]
    for i, doc in enumerate(mf.docs):
        if i or mf.leading_marker:
            parts.append("---\n")
        parts.append(to_yaml(doc.obj))
    return "".join(parts)


def prepare_out(out: Path) -> None:
    """Create ``out``; replace it only when it holds a previously generated estate."""
    if out.exists():
        if not out.is_dir():
            raise SystemExit(f"error: {out} exists and is not a directory")
        if any(out.iterdir()):
            if not (out / MANIFEST_MARKER).is_file():
                raise SystemExit(f"error: {out} is not empty and holds no generated estate")
            shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)


def generate(documents: int, out: Path, seed: int, share: float) -> Obj:
    """Build the estate, write it under ``out`` and return the summary written to .estate.json."""
    builder = EstateBuilder(documents, seed)
    builder.build()
    docs = [d for mf in builder.files for d in mf.docs]
    inject_violations(docs, share, Random(seed * 7919 + 17))

    prepare_out(out)
    texts: dict[str, str] = {mf.path: render(mf) for mf in builder.files}
    raw = {p: t for p, t in builder.raw.items() if p not in texts}
    total_bytes = doc_bytes = 0
    for path in sorted(set(texts) | set(raw)):
        data = (texts.get(path) or raw[path]).encode()
        target = out / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        total_bytes += len(data)
        if path in texts:
            doc_bytes += len(data)

    by_kind: dict[str, int] = {}
    objects: dict[str, int] = {}
    for d in docs:
        kind = d.obj["kind"]
        by_kind[kind] = by_kind.get(kind, 0) + 1
        for item in d.obj.get("items", [d.obj]) if kind == "List" else [d.obj]:
            objects[item["kind"]] = objects.get(item["kind"], 0) + 1
    violations: dict[str, int] = {v: 0 for v, _ in VIOLATION_WEIGHTS}
    detail = []
    for d in docs:
        if d.violation:
            violations[d.violation] += 1
            m = d.obj["metadata"]
            detail.append({"type": d.violation, "path": d.path, "doc": d.index,
                           "kind": d.obj["kind"], "namespace": m.get("namespace"),
                           "name": m["name"], "pointer": d.pointer})
    tiers: dict[str, str] = {}
    for d in docs:
        for item in d.obj.get("items", [d.obj]) if d.obj["kind"] == "List" else [d.obj]:
            if item["kind"] == "Namespace":
                tiers[item["metadata"]["name"]] = item["metadata"]["labels"][TIER_LABEL]
    summary = {
        "generator": "bench/generate_estate.py",
        "seed": seed,
        "violation_share": share,
        "documents": len(docs),
        "documents_by_kind": dict(sorted(by_kind.items())),
        "objects_by_kind": dict(sorted(objects.items())),
        "files": len(texts) + len(raw),
        "manifest_files": len(texts),
        "other_yaml_files": len(raw),
        "total_bytes": total_bytes,
        "manifest_bytes": doc_bytes,
        "average_bytes_per_document": round(doc_bytes / len(docs), 1) if docs else 0,
        "clusters": sorted({p.split("/")[1] for p in texts if p.startswith("clusters/")}),
        "namespace_tiers": dict(sorted(tiers.items())),
        "violations_total": sum(violations.values()),
        "violations": violations,
        "violation_details": detail,
    }
    (out / MANIFEST_MARKER).write_text(json.dumps(summary, indent=2, sort_keys=False) + "\n")
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--documents", type=int, required=True,
                        help="exact number of Kubernetes documents to write")
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--violation-share", type=float, default=0.1,
                        help="share of documents given one injected violation (0..1)")
    args = parser.parse_args(argv)
    if args.documents < 1:
        parser.error("--documents must be at least 1")
    if not 0.0 <= args.violation_share <= 1.0:
        parser.error("--violation-share must be between 0 and 1")
    start = time.perf_counter()
    summary = generate(args.documents, args.out, args.seed, args.violation_share)
    elapsed = time.perf_counter() - start
    print(f"wrote {summary['documents']} documents in {summary['manifest_files']} files "
          f"({summary['total_bytes']:,} bytes, {summary['violations_total']} violations) "
          f"to {args.out} in {elapsed:.2f}s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
