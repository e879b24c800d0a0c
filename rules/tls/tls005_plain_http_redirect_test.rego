package gitops_checker.tls.plain_http_redirect_test

import rego.v1

import data.gitops_checker.tls.plain_http_redirect as rule

settings := {"tls_entry_points": {"websecure": "HTTPS"}}

inventory := {"namespace": {"traefik": {"traefik.io/v1alpha1": {"Middleware": {"to-https": {
	"apiVersion": "traefik.io/v1alpha1",
	"kind": "Middleware",
	"metadata": {"name": "to-https", "namespace": "traefik"},
	"spec": {"redirectScheme": {"scheme": "https"}},
}}}}}}

route(entry_points, middlewares) := {
	"apiVersion": "traefik.io/v1alpha1",
	"kind": "IngressRoute",
	"metadata": {"name": "erp", "namespace": "erp-prod"},
	"spec": {"entryPoints": entry_points, "routes": [{"match": "Host(`erp.example.com`)", "middlewares": middlewares}]},
}

ingress(annotations) := {
	"apiVersion": "networking.k8s.io/v1",
	"kind": "Ingress",
	"metadata": {"name": "erp", "namespace": "erp-prod", "annotations": annotations},
	"spec": {},
}

test_plain_route_without_redirect_is_denied if {
	some result in rule.deny with input as route(["web"], []) with data.tls_pack as settings with data.inventory as inventory
	result.pointer == "/spec/routes/0"
	contains(result.msg, "served over plain HTTP on web")
}

test_cross_namespace_redirect_passes if {
	count(rule.deny) == 0 with input as route(["web"], [{"name": "to-https", "namespace": "traefik"}])
		with data.tls_pack as settings with data.inventory as inventory
}

test_tls_entry_points_are_not_plain if {
	count(rule.deny) == 0 with input as route(["websecure"], []) with data.tls_pack as settings with data.inventory as inventory
}

test_ingress_on_web_without_redirect_is_denied if {
	some result in rule.deny with input as ingress({"traefik.ingress.kubernetes.io/router.entrypoints": "web"})
		with data.tls_pack as settings with data.inventory as inventory
	result.pointer == "/metadata/annotations/traefik.ingress.kubernetes.io~1router.entrypoints"
}

test_ingress_with_redirect_annotation_passes if {
	count(rule.deny) == 0 with input as ingress({
		"traefik.ingress.kubernetes.io/router.entrypoints": "web",
		"traefik.ingress.kubernetes.io/router.middlewares": "traefik-to-https@kubernetescrd",
	})
		with data.tls_pack as settings with data.inventory as inventory
}
