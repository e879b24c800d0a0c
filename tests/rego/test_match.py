"""Gatekeeper `spec.match` semantics: `constraint_matches` and `validate_match`."""

from __future__ import annotations

from typing import Any

import pytest

from checker.rego.match import MatchError, constraint_matches, validate_match


def _obj(kind: str = "Pod", api: str = "v1", name: str | None = "web", ns: str | None = "prod",
         labels: dict[str, str] | None = None, generate_name: str | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    if name is not None:
        meta["name"] = name
    if generate_name is not None:
        meta["generateName"] = generate_name
    if ns is not None:
        meta["namespace"] = ns
    if labels is not None:
        meta["labels"] = labels
    return {"apiVersion": api, "kind": kind, "metadata": meta}


def _namespace(name: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    return _obj("Namespace", name=name, ns=None, labels=labels)


POD = _obj(labels={"app": "web", "tier": "frontend"})
POD_NO_LABELS = _obj()
POD_DEV = _obj(ns="dev")
POD_KUBE = _obj(ns="kube-system")
POD_GK = _obj(ns="gatekeeper-system")
POD_UNDECLARED = _obj(ns="staging")
POD_NO_NS = _obj(ns=None)
POD_GENERATED = _obj(name=None, generate_name="web-")
DEPLOYMENT = _obj("Deployment", "apps/v1")
WIDGET = _obj("Widget", "example.com/v1alpha1")
CLUSTER_ROLE = _obj("ClusterRole", "rbac.authorization.k8s.io/v1", name="reader", ns=None)
NS_PROD = _namespace("prod", {"env": "prod", "team": "a"})
NS_KUBE = _namespace("kube-system")

NAMESPACES: dict[str, dict[str, Any]] = {
    "prod": NS_PROD,
    "dev": _namespace("dev", {"env": "dev"}),
    "kube-system": NS_KUBE,
    "gatekeeper-system": _namespace("gatekeeper-system", {"kubernetes.io/metadata.name": "wrong"}),
}

CLUSTER_SCOPED = {"ClusterRole", "Namespace"}


def _expr(key: str, operator: str, *values: str) -> dict[str, Any]:
    expr: dict[str, Any] = {"key": key, "operator": operator}
    if values:
        expr["values"] = list(values)
    return expr


def _sel(*exprs: dict[str, Any], **labels: str) -> dict[str, Any]:
    sel: dict[str, Any] = {}
    if labels:
        sel["matchLabels"] = labels
    if exprs:
        sel["matchExpressions"] = list(exprs)
    return sel


NAME_LABEL = "kubernetes.io/metadata.name"

CASES = [
    # --- no match / empty matchers --------------------------------------------------------
    pytest.param(None, POD, True, id="no-match-block"),
    pytest.param({}, POD, True, id="empty-match"),
    pytest.param({}, CLUSTER_ROLE, True, id="empty-match-cluster-scoped"),
    pytest.param({"kinds": []}, DEPLOYMENT, True, id="empty-kinds-list"),
    pytest.param({"namespaces": [], "excludedNamespaces": []}, POD, True, id="empty-ns-lists"),
    pytest.param({"name": ""}, POD, True, id="empty-name"),
    pytest.param({"kinds": None, "labelSelector": None}, POD, True, id="null-matchers"),
    # --- kinds ----------------------------------------------------------------------------
    pytest.param({"kinds": [{"apiGroups": [""], "kinds": ["Pod"]}]}, POD, True,
                 id="kinds-core-pod"),
    pytest.param({"kinds": [{"apiGroups": ["apps"], "kinds": ["Pod"]}]}, POD, False,
                 id="kinds-wrong-group"),
    pytest.param({"kinds": [{"apiGroups": [""], "kinds": ["Deployment"]}]}, POD, False,
                 id="kinds-wrong-kind"),
    pytest.param({"kinds": [{"apiGroups": [""], "kinds": ["Deployment"]}]}, DEPLOYMENT, False,
                 id="kinds-core-group-is-not-apps"),
    pytest.param({"kinds": [{"apiGroups": ["apps"], "kinds": ["Deployment"]}]}, DEPLOYMENT,
                 True, id="kinds-apps-deployment"),
    pytest.param({"kinds": [{"apiGroups": ["example.com"], "kinds": ["Widget"]}]}, WIDGET, True,
                 id="kinds-crd-group"),
    pytest.param({"kinds": [{"apiGroups": ["*"], "kinds": ["Deployment"]}]}, DEPLOYMENT, True,
                 id="kinds-group-wildcard"),
    pytest.param({"kinds": [{"apiGroups": ["apps"], "kinds": ["*"]}]}, DEPLOYMENT, True,
                 id="kinds-kind-wildcard"),
    pytest.param({"kinds": [{"apiGroups": ["apps"], "kinds": ["*"]}]}, POD, False,
                 id="kinds-kind-wildcard-wrong-group"),
    pytest.param({"kinds": [{"apiGroups": ["*"], "kinds": ["*"]}]}, CLUSTER_ROLE, True,
                 id="kinds-both-wildcards"),
    pytest.param({"kinds": [{"kinds": ["Deployment"]}]}, DEPLOYMENT, True,
                 id="kinds-entry-without-groups-means-any-group"),
    pytest.param({"kinds": [{"apiGroups": ["apps"]}]}, DEPLOYMENT, True,
                 id="kinds-entry-without-kinds-means-any-kind"),
    pytest.param({"kinds": [{}]}, WIDGET, True, id="kinds-empty-entry"),
    pytest.param({"kinds": [{"apiGroups": [""], "kinds": ["pod"]}]}, POD, False,
                 id="kinds-case-sensitive"),
    pytest.param({"kinds": [{"apiGroups": ["apps"], "kinds": ["Deployment"]},
                            {"apiGroups": [""], "kinds": ["Pod"]}]}, POD, True,
                 id="kinds-any-entry-matches"),
    pytest.param({"kinds": [{"apiGroups": ["apps"], "kinds": ["Deployment"]},
                            {"apiGroups": [""], "kinds": ["Service"]}]}, POD, False,
                 id="kinds-no-entry-matches"),
    pytest.param({"kinds": [{"apiGroups": ["", "apps"], "kinds": ["Pod", "Deployment"]}]},
                 DEPLOYMENT, True, id="kinds-lists-are-any-of"),
    # --- scope ----------------------------------------------------------------------------
    pytest.param({"scope": "*"}, CLUSTER_ROLE, True, id="scope-star"),
    pytest.param({"scope": "Cluster"}, CLUSTER_ROLE, True, id="scope-cluster-cluster-role"),
    pytest.param({"scope": "Cluster"}, POD, False, id="scope-cluster-pod"),
    pytest.param({"scope": "Cluster"}, NS_PROD, True, id="scope-cluster-namespace"),
    pytest.param({"scope": "Namespaced"}, POD, True, id="scope-namespaced-pod"),
    pytest.param({"scope": "Namespaced"}, POD_NO_NS, True, id="scope-namespaced-pod-no-ns"),
    pytest.param({"scope": "Namespaced"}, CLUSTER_ROLE, False,
                 id="scope-namespaced-cluster-role"),
    pytest.param({"scope": "Namespaced"}, NS_PROD, False, id="scope-namespaced-namespace"),
    pytest.param({"scope": "cluster"}, POD, True, id="scope-unknown-matches-all"),
    pytest.param({"namespace": ["dev"]}, POD, True, id="unknown-key-is-ignored"),
    # --- namespaces -----------------------------------------------------------------------
    pytest.param({"namespaces": ["prod"]}, POD, True, id="ns-exact"),
    pytest.param({"namespaces": ["prod"]}, POD_DEV, False, id="ns-not-listed"),
    pytest.param({"namespaces": ["dev", "prod"]}, POD, True, id="ns-any-listed"),
    pytest.param({"namespaces": ["pro"]}, POD, False, id="ns-no-implicit-prefix"),
    pytest.param({"namespaces": ["kube-*"]}, POD_KUBE, True, id="ns-prefix-glob"),
    pytest.param({"namespaces": ["kube-*"]}, POD_GK, False, id="ns-prefix-glob-miss"),
    pytest.param({"namespaces": ["*-system"]}, POD_GK, True, id="ns-suffix-glob"),
    pytest.param({"namespaces": ["*-system"]}, POD, False, id="ns-suffix-glob-miss"),
    pytest.param({"namespaces": ["*keeper*"]}, POD_GK, True, id="ns-infix-glob"),
    pytest.param({"namespaces": ["*"]}, POD_DEV, True, id="ns-star"),
    pytest.param({"namespaces": ["prod"]}, NS_PROD, True, id="ns-namespace-object-own-name"),
    pytest.param({"namespaces": ["dev"]}, NS_PROD, False, id="ns-namespace-object-other"),
    pytest.param({"namespaces": ["prod"]}, CLUSTER_ROLE, True, id="ns-ignores-cluster-scoped"),
    pytest.param({"namespaces": ["prod"]}, POD_NO_NS, False, id="ns-missing-is-empty-name"),
    pytest.param({"namespaces": ["*"]}, POD_NO_NS, True, id="ns-star-matches-empty-name"),
    pytest.param({"namespaces": ["staging"]}, POD_UNDECLARED, True,
                 id="ns-undeclared-still-by-name"),
    # --- excludedNamespaces ---------------------------------------------------------------
    pytest.param({"excludedNamespaces": ["prod"]}, POD, False, id="exns-exact"),
    pytest.param({"excludedNamespaces": ["prod"]}, POD_DEV, True, id="exns-not-listed"),
    pytest.param({"excludedNamespaces": ["kube-*"]}, POD_KUBE, False, id="exns-prefix-glob"),
    pytest.param({"excludedNamespaces": ["*-system"]}, POD_GK, False, id="exns-suffix-glob"),
    pytest.param({"excludedNamespaces": ["*-system"]}, POD, True, id="exns-suffix-glob-miss"),
    pytest.param({"excludedNamespaces": ["kube-*"]}, NS_KUBE, False,
                 id="exns-namespace-object-itself"),
    pytest.param({"excludedNamespaces": ["*"]}, CLUSTER_ROLE, True,
                 id="exns-ignores-cluster-scoped"),
    pytest.param({"excludedNamespaces": ["prod"]}, POD_NO_NS, True, id="exns-missing-ns"),
    pytest.param({"namespaces": ["*-system"], "excludedNamespaces": ["kube-*"]}, POD_KUBE, False,
                 id="exns-wins-over-namespaces"),
    pytest.param({"namespaces": ["*-system"], "excludedNamespaces": ["kube-*"]}, POD_GK, True,
                 id="ns-and-exns-both-hold"),
    # --- labelSelector --------------------------------------------------------------------
    pytest.param({"labelSelector": {}}, POD_NO_LABELS, True, id="labels-empty-selector"),
    pytest.param({"labelSelector": _sel(app="web")}, POD, True, id="labels-matchlabels"),
    pytest.param({"labelSelector": _sel(app="api")}, POD, False, id="labels-matchlabels-value"),
    pytest.param({"labelSelector": _sel(app="web")}, POD_NO_LABELS, False,
                 id="labels-matchlabels-absent"),
    pytest.param({"labelSelector": _sel(app="web", tier="backend")}, POD, False,
                 id="labels-matchlabels-all-must-hold"),
    pytest.param({"labelSelector": _sel(_expr("app", "In", "api", "web"))}, POD, True,
                 id="labels-in"),
    pytest.param({"labelSelector": _sel(_expr("app", "In", "api"))}, POD, False,
                 id="labels-in-other-value"),
    pytest.param({"labelSelector": _sel(_expr("app", "In", "web"))}, POD_NO_LABELS, False,
                 id="labels-in-absent"),
    pytest.param({"labelSelector": _sel(_expr("app", "NotIn", "web"))}, POD, False,
                 id="labels-notin-listed"),
    pytest.param({"labelSelector": _sel(_expr("app", "NotIn", "api"))}, POD, True,
                 id="labels-notin-other-value"),
    pytest.param({"labelSelector": _sel(_expr("app", "NotIn", "web"))}, POD_NO_LABELS, True,
                 id="labels-notin-absent"),
    pytest.param({"labelSelector": _sel(_expr("app", "Exists"))}, POD, True, id="labels-exists"),
    pytest.param({"labelSelector": _sel(_expr("app", "Exists"))}, POD_NO_LABELS, False,
                 id="labels-exists-absent"),
    pytest.param({"labelSelector": _sel(_expr("app", "DoesNotExist"))}, POD, False,
                 id="labels-doesnotexist-present"),
    pytest.param({"labelSelector": _sel(_expr("app", "DoesNotExist"))}, POD_NO_LABELS, True,
                 id="labels-doesnotexist-absent"),
    pytest.param({"labelSelector": _sel(_expr("tier", "Exists"), app="web")}, POD, True,
                 id="labels-labels-and-expressions"),
    pytest.param({"labelSelector": _sel(_expr("tier", "DoesNotExist"), app="web")}, POD, False,
                 id="labels-expressions-anded"),
    pytest.param({"labelSelector": _sel(_expr(NAME_LABEL, "In", "prod"))}, NS_PROD, True,
                 id="labels-namespace-object-has-name-label"),
    pytest.param({"labelSelector": _sel(env="prod")}, CLUSTER_ROLE, False,
                 id="labels-apply-to-cluster-scoped"),
    # --- namespaceSelector ----------------------------------------------------------------
    pytest.param({"namespaceSelector": _sel(env="prod")}, POD, True, id="nssel-declared-match"),
    pytest.param({"namespaceSelector": _sel(env="prod")}, POD_DEV, False,
                 id="nssel-declared-mismatch"),
    pytest.param({"namespaceSelector": _sel(env="prod")}, POD_KUBE, False,
                 id="nssel-declared-no-labels"),
    pytest.param({"namespaceSelector": _sel(_expr("env", "NotIn", "prod"))}, POD_KUBE, True,
                 id="nssel-notin-absent"),
    pytest.param({"namespaceSelector": _sel(_expr("env", "In", "dev", "prod"))}, POD_DEV, True,
                 id="nssel-in"),
    pytest.param({"namespaceSelector": _sel(_expr("team", "Exists"))}, POD_DEV, False,
                 id="nssel-exists"),
    pytest.param({"namespaceSelector": _sel(_expr("team", "DoesNotExist"))}, POD_DEV, True,
                 id="nssel-doesnotexist"),
    pytest.param({"namespaceSelector": _sel(env="prod")}, NS_PROD, True,
                 id="nssel-namespace-object-own-labels"),
    pytest.param({"namespaceSelector": _sel(env="dev")}, NS_PROD, False,
                 id="nssel-namespace-object-own-labels-mismatch"),
    pytest.param({"namespaceSelector": _sel(env="prod")}, CLUSTER_ROLE, True,
                 id="nssel-ignores-cluster-scoped"),
    pytest.param({"namespaceSelector": _sel(_expr(NAME_LABEL, "In", "prod"))}, POD, True,
                 id="nssel-implicit-name-label"),
    pytest.param({"namespaceSelector": _sel(_expr(NAME_LABEL, "NotIn", "kube-system"))},
                 POD_KUBE, False, id="nssel-implicit-name-label-notin"),
    pytest.param({"namespaceSelector": _sel(**{NAME_LABEL: "gatekeeper-system"})}, POD_GK, True,
                 id="nssel-name-label-overrides-manifest"),
    pytest.param({"namespaceSelector": _sel(env="prod")}, POD_UNDECLARED, True,
                 id="nssel-undeclared-unknown-label-assumed"),
    pytest.param({"namespaceSelector": _sel(_expr("env", "DoesNotExist"), team="x")},
                 POD_UNDECLARED, True, id="nssel-undeclared-all-unknown"),
    pytest.param({"namespaceSelector": _sel(_expr(NAME_LABEL, "In", "prod"))}, POD_UNDECLARED,
                 False, id="nssel-undeclared-name-label-known"),
    pytest.param({"namespaceSelector": _sel(_expr(NAME_LABEL, "In", "staging"), env="prod")},
                 POD_UNDECLARED, True, id="nssel-undeclared-name-label-and-unknown"),
    pytest.param({"namespaceSelector": _sel(env="prod")}, POD_NO_NS, True,
                 id="nssel-missing-ns-is-undeclared"),
    # --- name -----------------------------------------------------------------------------
    pytest.param({"name": "web"}, POD, True, id="name-exact"),
    pytest.param({"name": "api"}, POD, False, id="name-mismatch"),
    pytest.param({"name": "we"}, POD, False, id="name-no-implicit-prefix"),
    pytest.param({"name": "we*"}, POD, True, id="name-prefix-glob"),
    pytest.param({"name": "*eb"}, POD, True, id="name-suffix-glob"),
    pytest.param({"name": "*x*"}, POD, False, id="name-infix-glob-miss"),
    pytest.param({"name": "reader"}, CLUSTER_ROLE, True, id="name-cluster-scoped"),
    pytest.param({"name": "prod"}, NS_PROD, True, id="name-namespace-object"),
    pytest.param({"name": "web-*"}, POD_GENERATED, True, id="name-prefix-glob-generate-name"),
    pytest.param({"name": "*eb-*"}, POD_GENERATED, True, id="name-infix-glob-generate-name"),
    pytest.param({"name": "*-"}, POD_GENERATED, False, id="name-suffix-glob-not-generate-name"),
    pytest.param({"name": "web-"}, POD_GENERATED, False, id="name-exact-not-generate-name"),
    # --- source ---------------------------------------------------------------------------
    pytest.param({"source": "All"}, POD, True, id="source-all"),
    pytest.param({"source": "Original"}, POD, True, id="source-original"),
    pytest.param({"source": "Generated"}, POD, False, id="source-generated"),
    # --- combined -------------------------------------------------------------------------
    pytest.param({"kinds": [{"apiGroups": [""], "kinds": ["Pod"]}], "namespaces": ["prod"],
                  "labelSelector": _sel(app="web"), "namespaceSelector": _sel(team="a"),
                  "name": "w*", "scope": "Namespaced"}, POD, True, id="combined-all-hold"),
    pytest.param({"kinds": [{"apiGroups": [""], "kinds": ["Pod"]}], "namespaces": ["prod"],
                  "labelSelector": _sel(app="api")}, POD, False, id="combined-label-fails"),
    pytest.param({"kinds": [{"apiGroups": [""], "kinds": ["Pod"]}], "namespaces": ["dev"],
                  "labelSelector": _sel(app="web")}, POD, False, id="combined-ns-fails"),
    pytest.param({"kinds": [{"apiGroups": ["apps"], "kinds": ["Deployment"]}],
                  "namespaces": ["prod"]}, POD, False, id="combined-kind-fails"),
    pytest.param({"kinds": [{"apiGroups": ["rbac.authorization.k8s.io"],
                             "kinds": ["ClusterRole"]}],
                  "namespaces": ["prod"], "excludedNamespaces": ["*"],
                  "namespaceSelector": _sel(env="nope")}, CLUSTER_ROLE, True,
                 id="combined-ns-matchers-ignore-cluster-scoped"),
    pytest.param({"namespaces": ["prod"], "scope": "Namespaced"}, CLUSTER_ROLE, False,
                 id="combined-scope-excludes-cluster-scoped"),
]


@pytest.mark.parametrize(("match", "obj", "expected"), CASES)
def test_constraint_matches(match: dict[str, Any] | None, obj: dict[str, Any],
                            expected: bool) -> None:
    cluster_scoped = obj["kind"] in CLUSTER_SCOPED
    assert constraint_matches(match, obj, NAMESPACES, cluster_scoped=cluster_scoped) is expected


def test_cluster_scoped_flag_wins_over_metadata_namespace() -> None:
    stray = _obj("ClusterRole", "rbac.authorization.k8s.io/v1", ns="prod")
    assert constraint_matches({"namespaces": ["dev"]}, stray, NAMESPACES, cluster_scoped=True)
    assert not constraint_matches({"scope": "Namespaced"}, stray, NAMESPACES,
                                  cluster_scoped=True)


def test_object_without_metadata() -> None:
    bare = {"apiVersion": "v1", "kind": "Pod"}
    assert constraint_matches({"kinds": [{"apiGroups": [""], "kinds": ["Pod"]}]}, bare, {},
                              cluster_scoped=False)
    assert not constraint_matches({"name": "web"}, bare, {}, cluster_scoped=False)
    assert not constraint_matches({"labelSelector": _sel(app="web")}, bare, {},
                                  cluster_scoped=False)


def test_does_not_mutate_inputs() -> None:
    match = {"namespaceSelector": _sel(env="prod"), "labelSelector": _sel(app="web")}
    before = repr((match, POD, NAMESPACES))
    constraint_matches(match, POD, NAMESPACES, cluster_scoped=False)
    constraint_matches(match, NS_PROD, NAMESPACES, cluster_scoped=True)
    assert repr((match, POD, NAMESPACES)) == before


VALID = {
    "kinds": [{"apiGroups": ["", "apps"], "kinds": ["Pod", "Deployment"]}],
    "scope": "Namespaced",
    "namespaces": ["prod", "kube-*", "*-system"],
    "excludedNamespaces": ["kube-system"],
    "labelSelector": {"matchLabels": {"app.kubernetes.io/name": "web"},
                      "matchExpressions": [_expr("tier", "In", "a", "b"),
                                           _expr("x", "NotIn", "y"),
                                           _expr("e", "Exists"),
                                           {"key": "d", "operator": "DoesNotExist", "values": []}]},
    "namespaceSelector": {"matchLabels": {"env": ""}},
    "name": "web-*",
    "source": "All",
}


@pytest.mark.parametrize("match", [
    pytest.param(None, id="none"),
    pytest.param({}, id="empty"),
    pytest.param(VALID, id="every-key"),
    pytest.param({"scope": "", "source": "", "name": ""}, id="empty-strings-are-defaults"),
    pytest.param({"kinds": [{"apiGroups": ["*"], "kinds": ["*"]}]}, id="wildcards"),
])
def test_validate_match_accepts(match: Any) -> None:
    assert validate_match(match) == []


# (match, expected substrings of one message, fatal: constraint_matches raises MatchError)
PROBLEMS = [
    pytest.param(["kinds"], ["match: must be an object", "list"], True, id="match-not-object"),
    pytest.param({"kinds": {"apiGroups": [""]}}, ["match.kinds: must be a list"], True,
                 id="kinds-not-list"),
    pytest.param({"kinds": ["Pod"]}, ["match.kinds[0]: must be an object"], True,
                 id="kinds-entry-not-object"),
    pytest.param({"kinds": [{"apiGroups": "", "kinds": ["Pod"]}]},
                 ["match.kinds[0].apiGroups: must be a list of strings"], True,
                 id="apigroups-not-list"),
    pytest.param({"kinds": [{"apiGroups": [""], "kinds": [3]}]},
                 ["match.kinds[0].kinds[0]: must be a string"], True, id="kind-not-string"),
    pytest.param({"scope": 1}, ["match.scope: must be a string"], True, id="scope-not-string"),
    pytest.param({"namespaces": "prod"}, ["match.namespaces: must be a list"], True,
                 id="namespaces-not-list"),
    pytest.param({"excludedNamespaces": [None]}, ["match.excludedNamespaces[0]: must be a string"],
                 True, id="excluded-item-not-string"),
    pytest.param({"name": ["web"]}, ["match.name: must be a string"], True,
                 id="name-not-string"),
    pytest.param({"labelSelector": ["app=web"]}, ["match.labelSelector: must be a label selector"],
                 True, id="selector-not-object"),
    pytest.param({"labelSelector": {"matchLabels": ["app"]}},
                 ["match.labelSelector.matchLabels: must be a map"], True,
                 id="matchlabels-not-map"),
    pytest.param({"labelSelector": {"matchLabels": {"tier": 1}}},
                 ["match.labelSelector.matchLabels.tier", "must be a string"], True,
                 id="matchlabels-value-not-string"),
    pytest.param({"labelSelector": {"matchLabels": {"bad key": "x"}}},
                 ["match.labelSelector.matchLabels.bad key", "not a valid label key"], True,
                 id="matchlabels-invalid-key"),
    pytest.param({"namespaceSelector": {"matchLabels": {"env": "no spaces"}}},
                 ["match.namespaceSelector.matchLabels.env", "not a valid label value"], True,
                 id="matchlabels-invalid-value"),
    pytest.param({"labelSelector": {"matchExpressions": {"key": "app"}}},
                 ["match.labelSelector.matchExpressions: must be a list"], True,
                 id="expressions-not-list"),
    pytest.param({"labelSelector": {"matchExpressions": ["app"]}},
                 ["match.labelSelector.matchExpressions[0]: must be an object"], True,
                 id="expression-not-object"),
    pytest.param({"labelSelector": _sel(_expr("app", "Foo", "web"))},
                 ["match.labelSelector.matchExpressions[0].operator", "unknown operator 'Foo'",
                  "'In'"], True, id="unknown-operator"),
    pytest.param({"namespaceSelector": _sel(_expr("app", "notin", "web"))},
                 ["match.namespaceSelector.matchExpressions[0].operator",
                  "did you mean 'NotIn'"], True, id="operator-wrong-case"),
    pytest.param({"labelSelector": {"matchExpressions": [{"key": "app"}]}},
                 ["match.labelSelector.matchExpressions[0].operator: is required"], True,
                 id="operator-missing"),
    pytest.param({"labelSelector": {"matchExpressions": [{"operator": "Exists"}]}},
                 ["match.labelSelector.matchExpressions[0].key: is required"], True,
                 id="key-missing"),
    pytest.param({"labelSelector": _sel(_expr("-app", "Exists"))},
                 ["matchExpressions[0].key", "not a valid label key"], True,
                 id="key-invalid"),
    pytest.param({"labelSelector": _sel(_expr("app", "In"))},
                 ["matchExpressions[0].values: must not be empty with operator In"], True,
                 id="in-without-values"),
    pytest.param({"labelSelector": {"matchExpressions": [
                     {"key": "app", "operator": "NotIn", "values": []}]}},
                 ["matchExpressions[0].values: must not be empty with operator NotIn"], True,
                 id="notin-empty-values"),
    pytest.param({"labelSelector": _sel(_expr("app", "Exists", "web"))},
                 ["matchExpressions[0].values: must be empty with operator Exists"], True,
                 id="exists-with-values"),
    pytest.param({"labelSelector": {"matchExpressions": [
                     {"key": "app", "operator": "In", "values": "web"}]}},
                 ["matchExpressions[0].values: must be a list of strings"], True,
                 id="values-not-list"),
    pytest.param({"source": "Expanded"}, ["match.source", "'Generated'"], True,
                 id="source-invalid"),
    # lint-level: reported, but matching goes on as Gatekeeper's would
    pytest.param({"namespace": ["prod"]},
                 ["match.namespace: unknown key", "did you mean 'namespaces'?"], False,
                 id="unknown-key"),
    pytest.param({"kinds": [{"apiGroup": [""], "kinds": ["Pod"]}]},
                 ["match.kinds[0].apiGroup: unknown key", "did you mean 'apiGroups'?"], False,
                 id="unknown-key-in-kinds-entry"),
    pytest.param({"labelSelector": {"matchLabel": {"app": "web"}}},
                 ["match.labelSelector.matchLabel: unknown key", "Gatekeeper ignores",
                  "did you mean 'matchLabels'?"],
                 False, id="unknown-key-in-selector"),
    pytest.param({"labelSelector": {"matchExpressions": [
                     {"key": "app", "operator": "Exists", "weight": 1}]}},
                 ["matchExpressions[0].weight: unknown key", "known keys: 'key', 'operator'"],
                 False,
                 id="unknown-key-in-expression"),
    pytest.param({"scope": "cluster"}, ["match.scope: unknown scope 'cluster'", "'Cluster'"],
                 False, id="unknown-scope"),
    pytest.param({"namespaces": ["Kube-*"]}, ["match.namespaces[0]", "not a valid name or glob"],
                 False, id="glob-uppercase"),
    pytest.param({"excludedNamespaces": ["kube*system"]},
                 ["match.excludedNamespaces[0]", "not a valid name or glob"], False,
                 id="glob-star-in-middle"),
    pytest.param({"name": "web_*"}, ["match.name", "not a valid name or glob"], False,
                 id="name-glob-invalid"),
    pytest.param({"kinds": [{"apiGroups": ["*", "apps"], "kinds": ["Pod"]}]},
                 ["match.kinds[0].apiGroups: '*' must be the only entry"], False,
                 id="group-star-not-alone"),
    pytest.param({"kinds": [{"apiGroups": ["apps/v1"], "kinds": ["Deployment"]}]},
                 ["match.kinds[0].apiGroups[0]", "has a version"], False, id="group-with-version"),
    pytest.param({"kinds": [{"apiGroups": ["core"], "kinds": ["Pod"]}]},
                 ["match.kinds[0].apiGroups[0]", "core API group is written \"\""], False,
                 id="group-core"),
    pytest.param({"kinds": [{"apiGroups": [""], "kinds": ["pods"]}]},
                 ["match.kinds[0].kinds[0]", "looks like a resource name"], False,
                 id="kind-resource-name"),
]


@pytest.mark.parametrize(("match", "fragments", "fatal"), PROBLEMS)
def test_validate_match_reports(match: Any, fragments: list[str], fatal: bool) -> None:
    problems = validate_match(match)
    assert any(all(f in p for f in fragments) for p in problems), problems
    if fatal:
        with pytest.raises(MatchError) as caught:
            constraint_matches(match, POD, NAMESPACES, cluster_scoped=False)
        assert all(f in str(caught.value) for f in fragments)
    else:
        assert isinstance(constraint_matches(match, POD, NAMESPACES, cluster_scoped=False), bool)


def test_validate_match_reports_every_problem() -> None:
    problems = validate_match({
        "kinds": "Pod",
        "labelSelector": _sel(_expr("app", "Foo")),
        "bogus": 1,
    })
    assert len(problems) == 3
    assert [p.split(":")[0] for p in problems] == [
        "match.bogus", "match.kinds", "match.labelSelector.matchExpressions[0].operator"]


def test_match_error_is_value_error() -> None:
    with pytest.raises(ValueError, match=r"match\.kinds: must be a list"):
        constraint_matches({"kinds": "Pod"}, POD, NAMESPACES, cluster_scoped=False)
