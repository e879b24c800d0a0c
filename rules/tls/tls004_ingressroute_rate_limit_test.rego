package gitops_checker.tls.ingressroute_rate_limit_test

import rego.v1

import data.gitops_checker.tls.ingressroute_rate_limit as rule

# (data.gitops_checker.tiers and .requirements are mocked leaf by leaf: mocking
# data.gitops_checker as a whole would replace this package too.)
tiers := {"namespaces": {"erp-prod": "critical", "erp-dev": "nonprod"}, "default": "standard"}

requirements := {
	"critical": {"require_rate_limit": true},
	"standard": {"require_rate_limit": false},
	"nonprod": {"require_rate_limit": false},
}

middleware(name, spec) := {"apiVersion": "traefik.io/v1alpha1", "kind": "Middleware", "metadata": {"name": name, "namespace": "erp-prod"}, "spec": spec}

inventory := {"namespace": {"erp-prod": {"traefik.io/v1alpha1": {"Middleware": {
	"limit": middleware("limit", {"rateLimit": {"average": 10}}),
	"to-https": middleware("to-https", {"redirectScheme": {"scheme": "https"}}),
}}}}}

route(ns, middlewares) := {
	"apiVersion": "traefik.io/v1alpha1",
	"kind": "IngressRoute",
	"metadata": {"name": "erp", "namespace": ns},
	"spec": {"routes": [{"match": "Host(`erp.example.com`)", "middlewares": middlewares}]},
}

test_critical_route_without_rate_limit_is_denied if {
	results := rule.deny with input as route("erp-prod", []) with data.gitops_checker.tiers as tiers with data.gitops_checker.requirements as requirements with data.inventory as inventory
	results == {{
		"msg": "route 0 (Host(`erp.example.com`)) has no rate-limit Middleware (spec.rateLimit); tier critical requires one (require_rate_limit)",
		"pointer": "/spec/routes/0/middlewares",
	}}
}

test_rate_limited_route_passes if {
	count(rule.deny) == 0 with input as route("erp-prod", [{"name": "limit"}]) with data.gitops_checker.tiers as tiers with data.gitops_checker.requirements as requirements with data.inventory as inventory
}

test_redirect_route_is_exempt if {
	count(rule.deny) == 0 with input as route("erp-prod", [{"name": "to-https"}]) with data.gitops_checker.tiers as tiers with data.gitops_checker.requirements as requirements with data.inventory as inventory
}

test_nonprod_and_default_tiers_are_not_required if {
	count(rule.deny) == 0 with input as route("erp-dev", []) with data.gitops_checker.tiers as tiers with data.gitops_checker.requirements as requirements with data.inventory as inventory
	count(rule.deny) == 0 with input as route("elsewhere", []) with data.gitops_checker.tiers as tiers with data.gitops_checker.requirements as requirements with data.inventory as inventory
}

test_unresolved_references_are_named if {
	some result in rule.deny with input as route("erp-prod", [{"name": "limit", "namespace": "other"}, {"name": "x@file"}])
		with data.gitops_checker.tiers as tiers with data.gitops_checker.requirements as requirements with data.inventory as inventory
	endswith(result.msg, "; not in the estate: limit, x@file")
}
