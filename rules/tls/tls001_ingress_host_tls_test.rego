package gitops_checker.tls.ingress_host_tls_test

import rego.v1

import data.gitops_checker.tls.ingress_host_tls as rule

ingress(spec, annotations) := {
	"apiVersion": "networking.k8s.io/v1",
	"kind": "Ingress",
	"metadata": {"name": "erp", "namespace": "erp-prod", "annotations": annotations},
	"spec": spec,
}

http_rule(host) := {"host": host, "http": {"paths": [{"path": "/", "pathType": "Prefix"}]}}

test_host_without_tls_is_denied if {
	results := rule.deny with input as ingress({"rules": [http_rule("erp.example.com")]}, {})
	count(results) == 1
	some result in results
	result.pointer == "/spec/rules/0/host"
	contains(result.msg, "served over plain HTTP")
}

test_covered_host_passes if {
	spec := {"tls": [{"hosts": ["erp.example.com"], "secretName": "erp-tls"}], "rules": [http_rule("erp.example.com")]}
	count(rule.deny) == 0 with input as ingress(spec, {"cert-manager.io/cluster-issuer": "letsencrypt"})
}

test_host_match_is_case_insensitive if {
	spec := {"tls": [{"hosts": ["ERP.example.com"], "secretName": "erp-tls"}], "rules": [http_rule("erp.example.com")]}
	count(rule.deny) == 0 with input as ingress(spec, {})
}

test_wildcard_covers_one_label if {
	rule.host_matches("*.example.com", "erp.example.com")
	not rule.host_matches("*.example.com", "a.erp.example.com")
	not rule.host_matches("*.example.com", "example.com")
	rule.host_matches("*.example.com", "*.example.com")
}

test_cert_manager_without_secret_name_is_explained if {
	spec := {"tls": [{"hosts": ["erp.example.com"]}], "rules": [http_rule("erp.example.com")]}
	some result in rule.deny with input as ingress(spec, {"cert-manager.io/issuer": "ca"})
	contains(result.msg, "cert-manager (cert-manager.io/issuer) names the Certificate")
}

test_both_issuer_annotations_are_named if {
	rule.cert_manager_issuer(ingress({}, {"cert-manager.io/issuer": "a", "cert-manager.io/cluster-issuer": "b"})) == "cert-manager.io/cluster-issuer, cert-manager.io/issuer"
}

test_rule_without_host_is_denied if {
	some result in rule.deny with input as ingress({"rules": [{"http": {}}]}, {})
	result.pointer == "/spec/rules/0"
}

test_other_kinds_are_ignored if {
	count(rule.deny) == 0 with input as {"apiVersion": "v1", "kind": "Service", "spec": {"rules": [{"host": "x"}]}}
}

test_odd_input_does_not_raise if {
	count(rule.deny) == 0 with input as ingress({"tls": 3, "rules": [{"host": 42}, "x"]}, "none")
}
