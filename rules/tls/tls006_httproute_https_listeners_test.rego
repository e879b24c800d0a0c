package gitops_checker.tls.httproute_https_listeners_test

import rego.v1

import data.gitops_checker.tls.httproute_https_listeners as rule

gateway := {
	"apiVersion": "gateway.networking.k8s.io/v1",
	"kind": "Gateway",
	"metadata": {"name": "edge", "namespace": "erp-prod"},
	"spec": {"listeners": [
		{"name": "https", "protocol": "HTTPS", "port": 443},
		{"name": "http", "protocol": "HTTP", "port": 80},
	]},
}

inventory := {"namespace": {"erp-prod": {"gateway.networking.k8s.io/v1": {"Gateway": {"edge": gateway}}}}}

route(parent_ref, rules) := {
	"apiVersion": "gateway.networking.k8s.io/v1",
	"kind": "HTTPRoute",
	"metadata": {"name": "erp", "namespace": "erp-prod"},
	"spec": {"parentRefs": [parent_ref], "rules": rules},
}

backend := [{"backendRefs": [{"name": "odoo", "port": 8069}]}]

test_https_section_passes if {
	count(rule.deny) == 0 with input as route({"name": "edge", "sectionName": "https"}, backend) with data.inventory as inventory
}

test_no_section_attaches_to_http if {
	some result in rule.deny with input as route({"name": "edge"}, backend) with data.inventory as inventory
	result.pointer == "/spec/parentRefs/0"
	contains(result.msg, "HTTP listener http (port 80)")
}

test_port_443_passes if {
	count(rule.deny) == 0 with input as route({"name": "edge", "port": 443}, backend) with data.inventory as inventory
}

test_redirect_only_passes if {
	redirect := [{"filters": [{"type": "RequestRedirect", "requestRedirect": {"scheme": "https"}}]}]
	count(rule.deny) == 0 with input as route({"name": "edge"}, redirect) with data.inventory as inventory
}

test_redirect_to_http_does_not_count if {
	redirect := [{"filters": [{"type": "RequestRedirect", "requestRedirect": {"scheme": "http"}}]}]
	count(rule.deny) == 1 with input as route({"name": "edge"}, redirect) with data.inventory as inventory
}

test_other_namespace_listener_needs_allowed_routes if {
	other := {"namespace": {"gateway": {"gateway.networking.k8s.io/v1": {"Gateway": {"edge": json.patch(gateway, [{"op": "replace", "path": "/metadata/namespace", "value": "gateway"}])}}}}}
	count(rule.deny) == 0 with input as route({"name": "edge", "namespace": "gateway"}, backend) with data.inventory as other
}

test_missing_gateway_is_denied if {
	some result in rule.deny with input as route({"name": "public"}, backend) with data.inventory as inventory
	contains(result.msg, "Gateway erp-prod/public is not in the estate")
}
