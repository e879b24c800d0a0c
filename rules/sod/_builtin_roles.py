"""The ClusterRoles every Kubernetes cluster has without the estate declaring them.

Only those a GitOps repository commonly binds are modelled: the user-facing `cluster-admin`,
`admin`, `edit` and `view` (with the `system:aggregate-to-*` roles they are aggregated from,
so that an estate ClusterRole labelled `rbac.authorization.k8s.io/aggregate-to-edit: "true"`
widens `edit` and `admin` exactly as the aggregation controller would), and the harmless
discovery roles that the API server binds to every caller.

The rules follow the API server's bootstrap policy (kubernetes/kubernetes,
plugin/pkg/auth/authorizer/rbac/bootstrappolicy) in substance; read-only status subresources
and deprecated `extensions` duplicates are folded away because no rule of this pack asks about
them. What matters for the pack is kept exact: who can read Secrets, who can edit workloads,
who can write RBAC objects, who can impersonate.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_READ = ["get", "list", "watch"]
_WRITE = ["create", "delete", "deletecollection", "patch", "update"]
_AGGREGATE = "rbac.authorization.k8s.io/aggregate-to-"


def _rule(groups: list[str], resources: list[str], verbs: list[str]) -> dict[str, Any]:
    return {"apiGroups": groups, "resources": resources, "verbs": verbs}


def _aggregated(name: str, target: str, labels: Mapping[str, str] | None = None
                ) -> dict[str, Any]:
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": {"name": name, "labels": dict(labels or {})},
            "aggregationRule": {"clusterRoleSelectors": [
                {"matchLabels": {_AGGREGATE + target: "true"}}]}}


def _plain(name: str, rules: list[dict[str, Any]], labels: Mapping[str, str] | None = None
           ) -> dict[str, Any]:
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": {"name": name, "labels": dict(labels or {})}, "rules": rules}


BUILTIN_CLUSTER_ROLES: Mapping[str, Mapping[str, Any]] = {role["metadata"]["name"]: role for role in [
    _plain("cluster-admin", [
        _rule(["*"], ["*"], ["*"]),
        {"nonResourceURLs": ["*"], "verbs": ["*"]},
    ]),
    _aggregated("admin", "admin"),
    _aggregated("edit", "edit", {_AGGREGATE + "admin": "true"}),
    _aggregated("view", "view", {_AGGREGATE + "edit": "true"}),
    _plain("system:aggregate-to-admin", [
        _rule(["authorization.k8s.io"], ["localsubjectaccessreviews"], ["create"]),
        _rule(["rbac.authorization.k8s.io"], ["rolebindings", "roles"], _WRITE + _READ),
    ], {_AGGREGATE + "admin": "true"}),
    _plain("system:aggregate-to-edit", [
        _rule([""], ["pods/attach", "pods/exec", "pods/portforward", "pods/proxy", "secrets",
                     "services/proxy"], _READ),
        _rule([""], ["serviceaccounts"], ["impersonate"]),
        _rule([""], ["pods", "pods/attach", "pods/exec", "pods/portforward", "pods/proxy"],
              _WRITE),
        _rule([""], ["pods/eviction"], ["create"]),
        _rule([""], ["configmaps", "events", "persistentvolumeclaims", "replicationcontrollers",
                     "replicationcontrollers/scale", "secrets", "serviceaccounts", "services",
                     "services/proxy"], _WRITE),
        _rule([""], ["serviceaccounts/token"], ["create"]),
        _rule(["apps"], ["daemonsets", "deployments", "deployments/rollback",
                         "deployments/scale", "replicasets", "replicasets/scale",
                         "statefulsets", "statefulsets/scale"], _WRITE),
        _rule(["autoscaling"], ["horizontalpodautoscalers"], _WRITE),
        _rule(["batch"], ["cronjobs", "jobs"], _WRITE),
        _rule(["policy"], ["poddisruptionbudgets"], _WRITE),
        _rule(["networking.k8s.io"], ["ingresses", "networkpolicies"], _WRITE),
        _rule(["coordination.k8s.io"], ["leases"], _WRITE + _READ),
    ], {_AGGREGATE + "edit": "true"}),
    _plain("system:aggregate-to-view", [
        _rule([""], ["configmaps", "endpoints", "persistentvolumeclaims", "pods",
                     "replicationcontrollers", "replicationcontrollers/scale", "serviceaccounts",
                     "services", "bindings", "events", "limitranges", "namespaces",
                     "namespaces/status", "pods/log", "pods/status", "resourcequotas"], _READ),
        _rule(["discovery.k8s.io"], ["endpointslices"], _READ),
        _rule(["apps"], ["controllerrevisions", "daemonsets", "deployments", "deployments/scale",
                         "replicasets", "replicasets/scale", "statefulsets",
                         "statefulsets/scale"], _READ),
        _rule(["autoscaling"], ["horizontalpodautoscalers"], _READ),
        _rule(["batch"], ["cronjobs", "jobs"], _READ),
        _rule(["policy"], ["poddisruptionbudgets"], _READ),
        _rule(["networking.k8s.io"], ["ingresses", "networkpolicies"], _READ),
    ], {_AGGREGATE + "view": "true"}),
    _plain("system:basic-user", [
        _rule(["authorization.k8s.io"], ["selfsubjectaccessreviews", "selfsubjectrulesreviews"],
              ["create"]),
        _rule(["authentication.k8s.io"], ["selfsubjectreviews"], ["create"]),
    ]),
    _plain("system:discovery", [
        {"nonResourceURLs": ["/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez",
                             "/openapi", "/openapi/*", "/readyz", "/version", "/version/"],
         "verbs": ["get"]},
    ]),
    _plain("system:public-info-viewer", [
        {"nonResourceURLs": ["/healthz", "/livez", "/readyz", "/version", "/version/"],
         "verbs": ["get"]},
    ]),
    _plain("system:service-account-issuer-discovery", [
        {"nonResourceURLs": ["/.well-known/openid-configuration", "/openid/v1/jwks"],
         "verbs": ["get"]},
    ]),
]}
"""Built-in ClusterRoles by name, as objects (the estate's own definition wins)."""
