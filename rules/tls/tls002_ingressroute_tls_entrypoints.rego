package gitops_checker.tls.ingressroute_tls_entrypoints

import rego.v1

import data.gitops_checker.tls.lib

# METADATA
# title: Traefik IngressRoutes listen only on TLS entry points, with TLS set
# description: |
#   A Traefik `IngressRoute` (`traefik.io/v1alpha1` or the older `traefik.containo.us/v1alpha1`)
#   lists only TLS entry points in `spec.entryPoints` and sets `spec.tls`. The reverse proxy
#   is where a finance platform enforces encryption in transit; a route on a plain-HTTP entry
#   point, or without TLS, serves the ERP in clear text.
#
#   Checked:
#   - `spec.entryPoints` is set: without it Traefik attaches the route to every default entry
#     point, plain-HTTP ones included;
#   - every entry point listed is a TLS entry point;
#   - `spec.tls` is set (`tls: {}` is enough when the certificate comes from the default
#     TLS store; `secretName` or `certResolver` otherwise).
#
#   An IngressRoute whose every route only redirects to HTTPS (each references a Middleware
#   with `redirectScheme.scheme: https`, see TLS005) is exempt: that is how plain HTTP is
#   meant to be answered.
#
#   Setting (data, not a rule option): the TLS entry points are the keys of
#   `data.tls_pack.tls_entry_points`, by default `websecure`. Add yours with a data file in
#   a policy directory: `tls_pack: {tls_entry_points: {https: "our TLS entry point"}}`.
#
#   Passing:
#
#       spec:
#         entryPoints: [websecure]
#         routes: [{match: Host(`erp.example.com`), kind: Rule, services: [{name: odoo, port: 8069}]}]
#         tls: {secretName: erp-tls}
#
#   Failing: `entryPoints: [web, websecure]` ("entry point web is not a TLS entry point"),
#   or no `tls`.
# related_resources:
#   - ref: https://doc.traefik.io/traefik/reference/routing-configuration/kubernetes/crd/http/ingressroute/
#   - ref: https://doc.traefik.io/traefik/reference/install-configuration/entrypoints/
# custom:
#   id: TLS002
#   name: ingressroute-not-tls-only
#   severity: high
#   category: tls
#   kinds:  # asked about these objects only
#     - {apiGroups: [traefik.io, traefik.containo.us], kinds: [IngressRoute]}
#   tier_severity: {critical: critical, standard: high, nonprod: medium}
#   remediation: >-
#     Set spec.entryPoints to TLS entry points only (websecure) and set spec.tls; answer plain
#     HTTP with a separate IngressRoute whose routes only redirect to HTTPS (redirectScheme
#     Middleware), or with an entry-point redirection in Traefik's static configuration.
deny contains result if {
	lib.is_ingress_route(input)
	not lib.redirect_only(input)
	not lib.has_entry_points(input)
	result := {
		"msg": sprintf("spec.entryPoints is not set: Traefik attaches the route to every default entry point, plain-HTTP ones included; list only TLS entry points (%s)", [lib.tls_entry_point_list]),
		"pointer": "/spec",
	}
}

deny contains result if {
	lib.is_ingress_route(input)
	not lib.redirect_only(input)
	lib.has_entry_points(input)
	some i, entry_point in input.spec.entryPoints
	not lib.is_tls_entry_point(entry_point)
	result := {
		"msg": sprintf("entry point %v is not a TLS entry point (TLS entry points: %s)", [entry_point, lib.tls_entry_point_list]),
		"pointer": sprintf("/spec/entryPoints/%d", [i]),
	}
}

deny contains result if {
	lib.is_ingress_route(input)
	not lib.redirect_only(input)
	not tls_set
	result := {
		"msg": "spec.tls is not set: the route's router does not terminate TLS; set tls (secretName, certResolver, or {} for the default certificate store)",
		"pointer": "/spec",
	}
}

tls_set if is_object(input.spec.tls)
