package gitops_checker.tls.ingressroute_tls_options_test

import rego.v1

import data.gitops_checker.tls.ingressroute_tls_options as rule

route(tls) := {
	"apiVersion": "traefik.io/v1alpha1",
	"kind": "IngressRoute",
	"metadata": {"name": "erp", "namespace": "erp-prod"},
	"spec": {"entryPoints": ["websecure"], "routes": [], "tls": tls},
}

option(ns, name, min_version) := {
	"apiVersion": "traefik.io/v1alpha1",
	"kind": "TLSOption",
	"metadata": {"name": name, "namespace": ns},
	"spec": {"minVersion": min_version},
}

inventory(options) := {"namespace": {ns: {"traefik.io/v1alpha1": {"TLSOption": {name: o}}} |
	some o in options
	ns := o.metadata.namespace
	name := o.metadata.name
}}

test_default_option_with_tls12_passes if {
	count(rule.deny) == 0 with input as route({})
		with data.inventory as inventory([option("traefik", "default", "VersionTLS12")])
}

test_missing_default_option_is_denied if {
	some result in rule.deny with input as route({}) with data.inventory as {"namespace": {}}
	result.pointer == "/spec/tls"
	contains(result.msg, "declares no TLSOption named default")
}

test_weak_referenced_option_is_denied if {
	results := rule.deny with input as route({"options": {"name": "old"}})
		with data.inventory as inventory([option("erp-prod", "old", "VersionTLS11")])
	results == {{"msg": "TLSOption erp-prod/old allows VersionTLS11 (minVersion); VersionTLS12 or newer is required", "pointer": "/spec/tls/options"}}
}

test_reference_in_other_namespace if {
	count(rule.deny) == 0 with input as route({"options": {"name": "modern", "namespace": "traefik"}})
		with data.inventory as inventory([option("traefik", "modern", "VersionTLS13")])
}

test_tls13_and_tls12_are_strong if {
	not rule.weak(option("a", "b", "VersionTLS13"))
	not rule.weak(option("a", "b", "VersionTLS12"))
	rule.weak(option("a", "b", "VersionTLS10"))
	rule.weak({"spec": {}})
	rule.weak({"spec": {"minVersion": ""}})
}

test_routes_without_tls_are_left_to_tls002 if {
	count(rule.deny) == 0 with input as json.remove(route({}), ["spec/tls"]) with data.inventory as {}
}
