package gitops_checker.tls.plain_http_redirect

import rego.v1

import data.gitops_checker.tls.lib

entry_points_annotation := "traefik.ingress.kubernetes.io/router.entrypoints"

middlewares_annotation := "traefik.ingress.kubernetes.io/router.middlewares"

router_tls_annotation := "traefik.ingress.kubernetes.io/router.tls"

# METADATA
# title: Plain-HTTP routes only redirect to HTTPS
# description: |
#   A route that Traefik serves on a plain-HTTP entry point (such as `web`, port 80) does
#   nothing but redirect to HTTPS. Anything else sends the ERP's pages, cookies and API
#   tokens in clear text to whoever types `http://`.
#
#   Checked:
#   - Traefik `IngressRoute`s without `spec.tls` (a router with TLS ignores plain-HTTP
#     requests) that can be reached on a non-TLS entry point (one listed in
#     `spec.entryPoints`, or any when `spec.entryPoints` is not set): every route must
#     reference a Middleware of the estate with `spec.redirectScheme.scheme: https` (or a
#     `redirectRegex` whose replacement starts with `https://`), directly, by
#     `<namespace>-<name>@kubernetescrd`, or through a `chain` Middleware (one level deep).
#     One finding per route that does not.
#   - Kubernetes `Ingress`es served by Traefik, when they say so: the annotation
#     `traefik.ingress.kubernetes.io/router.entrypoints` names a non-TLS entry point, the
#     router is not TLS-only (`traefik.ingress.kubernetes.io/router.tls: "true"`), and
#     `traefik.ingress.kubernetes.io/router.middlewares` names no redirecting Middleware
#     (`<namespace>-<name>@kubernetescrd`). Ingresses without the entry-point annotation are
#     not checked: nothing in the object says which entry points they use.
#
#   A redirect configured on the entry point in Traefik's static configuration
#   (`entryPoints.web.http.redirections`) is not visible in the estate; with it, routes do
#   not need to be on `web` at all (TLS002).
#
#   Setting (data): TLS entry points are the keys of `data.tls_pack.tls_entry_points`
#   (default `websecure`); everything else is plain HTTP.
#
#   Passing:
#
#       kind: Middleware
#       metadata: {name: https-redirect, namespace: erp-prod}
#       spec: {redirectScheme: {scheme: https, permanent: true}}
#       ---
#       kind: IngressRoute
#       spec:
#         entryPoints: [web]
#         routes: [{match: Host(`erp.example.com`), middlewares: [{name: https-redirect}], ...}]
#
#   Failing: the same route without the Middleware ("route 0 (Host(`erp.example.com`)) is
#   served over plain HTTP on web").
# related_resources:
#   - ref: https://doc.traefik.io/traefik/reference/routing-configuration/http/middlewares/redirectscheme/
#   - ref: https://doc.traefik.io/traefik/reference/routing-configuration/kubernetes/ingress/
# custom:
#   id: TLS005
#   name: plain-http-without-redirect
#   severity: high
#   category: tls
#   kinds:  # asked about these objects only
#     - {apiGroups: [traefik.io, traefik.containo.us], kinds: [IngressRoute]}
#     - {apiGroups: [networking.k8s.io, extensions], kinds: [Ingress]}
#   tier_severity: {critical: critical, standard: high, nonprod: medium}
#   remediation: >-
#     Serve the application on TLS entry points only (TLS002) and give the plain-HTTP entry
#     point a route whose only job is a redirectScheme Middleware with scheme https (or
#     configure the redirect on Traefik's web entry point).
deny contains result if {
	lib.is_ingress_route(input)
	not tls_set
	lib.on_plain_entry_point(input)
	ns := lib.namespace(input)
	some i, route in input.spec.routes
	is_object(route)
	not lib.route_redirects_to_https(route, ns)
	result := {
		"msg": sprintf("%s is served over plain HTTP on %s and does not redirect to HTTPS: reference a Middleware with redirectScheme.scheme: https", [lib.route_label(i, route), plain_entry_points_text]),
		"pointer": sprintf("/spec/routes/%d", [i]),
	}
}

deny contains result if {
	lib.is_ingress(input)
	value := lib.annotation(input, entry_points_annotation)
	plain := [ep | some part in split(value, ","); ep := trim_space(part); ep != ""; not lib.is_tls_entry_point(ep)]
	count(plain) > 0
	not tls_only_router
	not ingress_redirects
	result := {
		"msg": sprintf("Traefik serves this Ingress on the plain-HTTP entry point(s) %s and no Middleware in %s redirects to HTTPS", [concat(", ", plain), middlewares_annotation]),
		"pointer": sprintf("/metadata/annotations/%s", [lib.escape(entry_points_annotation)]),
	}
}

tls_set if is_object(input.spec.tls)

plain_entry_points_text := concat(", ", [sprintf("%v", [ep]) | some ep in lib.plain_entry_points(input)]) if {
	lib.has_entry_points(input)
} else := "every entry point (spec.entryPoints is not set)"

tls_only_router if lower(lib.annotation(input, router_tls_annotation)) == "true"

ingress_redirects if {
	value := lib.annotation(input, middlewares_annotation)
	some part in split(value, ",")
	id := trim_suffix(trim_space(part), "@kubernetescrd")
	some mw in lib.traefik_objects_by_id("Middleware", id)
	some m in lib.expanded(mw)
	lib.redirects_to_https(m)
}
