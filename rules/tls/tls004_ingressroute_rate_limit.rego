package gitops_checker.tls.ingressroute_rate_limit

import rego.v1

import data.gitops_checker.tls.lib

# METADATA
# title: IngressRoutes of tiers that require it are rate limited
# description: |
#   In namespaces whose tier requires a rate limit (`require_rate_limit`, true for
#   `critical` by default), every route of a Traefik `IngressRoute` references a
#   `Middleware` of the estate with `spec.rateLimit`. Login pages, payment APIs and report
#   exports of a finance platform are the first targets of credential stuffing and scraping;
#   a rate limit at the edge keeps a flood from reaching Odoo's workers and PostgreSQL.
#
#   Checked per route: each route of an IngressRoute becomes a router of its own in Traefik,
#   and a Middleware on one route does not protect the others, so every route needs one.
#   The Middleware may be referenced directly (`routes[].middlewares[]`, `{name, namespace}`
#   with the route's namespace as default, or `<namespace>-<name>@kubernetescrd`) or through
#   a `chain` Middleware (one level deep). Routes that only redirect to HTTPS (a
#   `redirectScheme.scheme: https` Middleware) are exempt. Middlewares of other providers
#   (`name@file`) and Middlewares missing from the estate do not count; the message names
#   the references it could not find.
#
#   Tier requirement: `require_rate_limit` (config `tiers.requirements.<tier>`).
#
#   Passing, in a namespace labelled `gitops-checker.io/tier: critical`:
#
#       kind: Middleware
#       metadata: {name: api-ratelimit, namespace: erp-prod}
#       spec: {rateLimit: {average: 50, burst: 100}}
#       ---
#       kind: IngressRoute
#       spec:
#         routes: [{match: Host(`erp.example.com`), middlewares: [{name: api-ratelimit}], ...}]
#
#   Failing: the same route without `middlewares` ("route 0 (Host(`erp.example.com`)) has no
#   rate-limit Middleware").
# related_resources:
#   - ref: https://doc.traefik.io/traefik/reference/routing-configuration/http/middlewares/ratelimit/
#   - ref: https://doc.traefik.io/traefik/reference/routing-configuration/kubernetes/crd/http/middleware/
# custom:
#   id: TLS004
#   name: ingressroute-without-rate-limit
#   severity: high
#   category: tls
#   kinds:  # asked about these objects only
#     - {apiGroups: [traefik.io, traefik.containo.us], kinds: [IngressRoute]}
#   tier_severity: {critical: high, standard: medium, nonprod: low}
#   remediation: >-
#     Declare a Middleware with spec.rateLimit (average, burst, and sourceCriterion when the
#     clients sit behind a proxy) and reference it from every route of the IngressRoute, or
#     put it in a chain Middleware the routes already use.
deny contains result if {
	lib.is_ingress_route(input)
	ns := lib.namespace(input)
	lib.requirement(ns, "require_rate_limit") == true
	some i, route in input.spec.routes
	is_object(route)
	not lib.route_redirects_to_https(route, ns)
	not lib.route_rate_limited(route, ns)
	result := {
		"msg": sprintf("%s has no rate-limit Middleware (spec.rateLimit); tier %s requires one (require_rate_limit)%s", [lib.route_label(i, route), lib.tier(ns), missing_note(route, ns)]),
		"pointer": route_pointer(i, route),
	}
}

missing_note(route, ns) := sprintf("; not in the estate: %s", [concat(", ", sort(names))]) if {
	names := [sprintf("%v", [name]) | some name in lib.unresolved_middlewares(route, ns)]
	count(names) > 0
} else := ""

route_pointer(i, route) := sprintf("/spec/routes/%d/middlewares", [i]) if {
	is_array(route.middlewares)
} else := sprintf("/spec/routes/%d", [i])
