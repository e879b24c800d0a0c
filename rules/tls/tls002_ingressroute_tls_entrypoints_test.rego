package gitops_checker.tls.ingressroute_tls_entrypoints_test

import rego.v1

import data.gitops_checker.tls.ingressroute_tls_entrypoints as rule

settings := {"tls_entry_points": {"websecure": "HTTPS", "https-internal": "internal HTTPS"}}

route(entry_points, tls) := object.union(
	{
		"apiVersion": "traefik.io/v1alpha1",
		"kind": "IngressRoute",
		"metadata": {"name": "erp", "namespace": "erp-prod"},
		"spec": {"entryPoints": entry_points, "routes": [{"match": "Host(`erp.example.com`)", "kind": "Rule"}]},
	},
	tls,
)

redirect_inventory := {"namespace": {"erp-prod": {"traefik.io/v1alpha1": {"Middleware": {"to-https": {
	"apiVersion": "traefik.io/v1alpha1",
	"kind": "Middleware",
	"metadata": {"name": "to-https", "namespace": "erp-prod"},
	"spec": {"redirectScheme": {"scheme": "https"}},
}}}}}}

test_tls_entry_points_with_tls_pass if {
	count(rule.deny) == 0 with input as route(["websecure", "https-internal"], {"spec": {"tls": {}}})
		with data.tls_pack as settings
}

test_plain_entry_point_is_denied if {
	results := rule.deny with input as route(["web"], {"spec": {"tls": {}}}) with data.tls_pack as settings
	results == {{
		"msg": "entry point web is not a TLS entry point (TLS entry points: https-internal, websecure)",
		"pointer": "/spec/entryPoints/0",
	}}
}

test_missing_tls_is_denied if {
	some result in rule.deny with input as route(["websecure"], {}) with data.tls_pack as settings
	startswith(result.msg, "spec.tls is not set")
}

test_missing_entry_points_is_denied if {
	ir := json.remove(route([], {"spec": {"tls": {}}}), ["spec/entryPoints"])
	some result in rule.deny with input as ir with data.tls_pack as settings
	startswith(result.msg, "spec.entryPoints is not set")
}

test_redirect_only_route_is_exempt if {
	ir := json.patch(route(["web"], {}), [{"op": "add", "path": "/spec/routes/0/middlewares", "value": [{"name": "to-https"}]}])
	count(rule.deny) == 0 with input as ir with data.tls_pack as settings with data.inventory as redirect_inventory
}

test_redirect_through_a_chain_counts if {
	chain := {"apiVersion": "traefik.io/v1alpha1", "kind": "Middleware", "metadata": {"name": "secure", "namespace": "erp-prod"}, "spec": {"chain": {"middlewares": [{"name": "to-https"}]}}}
	inventory := json.patch(redirect_inventory, [{"op": "add", "path": "/namespace/erp-prod/traefik.io~1v1alpha1/Middleware/secure", "value": chain}])
	ir := json.patch(route(["web"], {}), [{"op": "add", "path": "/spec/routes/0/middlewares", "value": [{"name": "secure"}]}])
	count(rule.deny) == 0 with input as ir with data.tls_pack as settings with data.inventory as inventory
}
