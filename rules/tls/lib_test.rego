package gitops_checker.tls.lib_test

import rego.v1

import data.gitops_checker.tls.lib

middleware(ns, name, spec) := {"apiVersion": "traefik.io/v1alpha1", "kind": "Middleware", "metadata": {"name": name, "namespace": ns}, "spec": spec}

inventory := {"namespace": {
	"edge": {"traefik.io/v1alpha1": {"Middleware": {"to-https": middleware("edge", "to-https", {"redirectScheme": {"scheme": "https"}})}}},
	"erp-prod": {"traefik.containo.us/v1alpha1": {"Middleware": {"limit": middleware("erp-prod", "limit", {"rateLimit": {"average": 1}})}}},
}}

test_resolve_by_name_namespace_and_id if {
	count(lib.resolve("Middleware", {"name": "limit"}, "erp-prod")) == 1 with data.inventory as inventory
	count(lib.resolve("Middleware", {"name": "to-https", "namespace": "edge"}, "erp-prod")) == 1 with data.inventory as inventory
	count(lib.resolve("Middleware", {"name": "edge-to-https@kubernetescrd"}, "erp-prod")) == 1 with data.inventory as inventory
	count(lib.resolve("Middleware", {"name": "to-https"}, "erp-prod")) == 0 with data.inventory as inventory
	count(lib.resolve("Middleware", {"name": "to-https@file"}, "edge")) == 0 with data.inventory as inventory
	lib.other_provider_ref({"name": "to-https@file"})
	not lib.other_provider_ref({"name": "edge-to-https@kubernetescrd"})
}

test_tier_and_requirement if {
	lib.tier("erp-prod") == "critical" with data.gitops_checker.tiers as {"namespaces": {"erp-prod": "critical"}, "default": "nonprod"}
	lib.tier("other") == "nonprod" with data.gitops_checker.tiers as {"namespaces": {}, "default": "nonprod"}
	lib.requirement("erp-prod", "require_rate_limit") with data.gitops_checker.tiers as {"namespaces": {"erp-prod": "critical"}}
		with data.gitops_checker.requirements as {"critical": {"require_rate_limit": true}}
}

test_selectors if {
	lib.selector_matches({"matchLabels": {"a": "1"}}, {"a": "1", "b": "2"})
	not lib.selector_matches({"matchLabels": {"a": "1"}}, {"a": "2"})
	lib.selector_matches({"matchExpressions": [{"key": "a", "operator": "In", "values": ["1", "2"]}]}, {"a": "2"})
	lib.selector_matches({"matchExpressions": [{"key": "a", "operator": "NotIn", "values": ["1"]}]}, {})
	lib.selector_matches({"matchExpressions": [{"key": "a", "operator": "Exists"}]}, {"a": ""})
	lib.selector_matches({"matchExpressions": [{"key": "a", "operator": "DoesNotExist"}]}, {"b": "1"})
	not lib.selector_matches({"matchExpressions": [{"key": "a", "operator": "Exists"}]}, {})
	lib.selector_matches({}, {})
}

test_escape if {
	lib.escape("traefik.ingress.kubernetes.io/router.tls") == "traefik.ingress.kubernetes.io~1router.tls"
	lib.escape("a~b") == "a~0b"
}

test_route_label_shortens if {
	lib.route_label(0, {"match": "Host(`a`)"}) == "route 0 (Host(`a`))"
	lib.route_label(1, {}) == "route 1"
	count(lib.route_label(2, {"match": concat("", [x | some _ in numbers.range(1, 100); x := "x"])})) < 80
}
