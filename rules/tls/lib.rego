# Helpers shared by the rules of the tls pack: object identity, tiers, the pack's settings
# (data.tls_pack, from data.yaml), Traefik references and Middlewares, label selectors.
#
# Every helper tolerates schema-invalid input: OPA runs with strict builtin errors here, so
# a builtin is only called once the type of its argument has been checked. Beware of
# `not f(input.x)`: OPA evaluates `input.x` before the negation, so the expression is
# undefined (not true) when the field is missing; negate a helper rule instead.
# METADATA
# scope: package
# custom:
#   inventory:  # the kinds these rules read from data.inventory (the rest is not sent to OPA)
#     - {apiGroups: [traefik.io, traefik.containo.us], kinds: [Middleware, TLSOption]}
package gitops_checker.tls.lib

import rego.v1

traefik_api_versions := {"traefik.io/v1alpha1", "traefik.containo.us/v1alpha1"}

ingress_api_versions := {"networking.k8s.io/v1", "networking.k8s.io/v1beta1", "extensions/v1beta1"}

# --- identity and tiers -------------------------------------------------------------------

# The namespace of an object; "" when it has none (data.inventory files it under "").
namespace(obj) := ns if {
	ns := obj.metadata.namespace
	is_string(ns)
} else := ""

name(obj) := n if {
	n := obj.metadata.name
	is_string(n)
} else := ""

# critical, standard or nonprod: the namespace's tier as the checker resolved it.
tier(ns) := t if {
	t := data.gitops_checker.tiers.namespaces[ns]
} else := t if {
	t := data.gitops_checker.tiers.default
} else := "standard"

# What the namespace's tier requires (`require_rate_limit`, …); undefined when unknown.
requirement(ns, key) := data.gitops_checker.requirements[tier(ns)][key]

# A JSON pointer token (RFC 6901).
escape(token) := replace(replace(token, "~", "~0"), "/", "~1")

annotation(obj, key) := value if {
	value := obj.metadata.annotations[key]
	is_string(value)
}

is_ingress(obj) if {
	obj.kind == "Ingress"
	obj.apiVersion in ingress_api_versions
}

# --- settings (data.yaml; maps that policy directories may extend) ------------------------

tls_entry_points := {ep | some ep, _ in data.tls_pack.tls_entry_points}

is_tls_entry_point(ep) if ep in tls_entry_points

tls_entry_point_list := concat(", ", sort(tls_entry_points))

# --- Traefik ------------------------------------------------------------------------------

is_ingress_route(obj) if {
	obj.kind == "IngressRoute"
	obj.apiVersion in traefik_api_versions
}

# Traefik objects of `kind` named `name` in namespace `ns`, in either API group.
traefik_objects(kind, ns, name) := {obj |
	some version in traefik_api_versions
	obj := data.inventory.namespace[ns][version][kind][name]
}

# Traefik objects of `kind` whose kubernetescrd provider id is `id` ("<namespace>-<name>",
# as in `name: web-redirect@kubernetescrd` or Ingress annotations).
traefik_objects_by_id(kind, id) := {obj |
	some ns, version, name
	obj := data.inventory.namespace[ns][version][kind][name]
	version in traefik_api_versions
	concat("-", [ns, name]) == id
}

# The namespace a reference `{name, namespace}` from namespace `ns` points into.
namespace_of_ref(ref, ns) := ref.namespace if {
	is_string(ref.namespace)
	ref.namespace != ""
} else := ns

# A reference to an object of another Traefik provider (`name@file`): not in the estate.
other_provider_ref(ref) if {
	is_string(ref.name)
	contains(ref.name, "@")
	not endswith(ref.name, "@kubernetescrd")
}

# The estate's objects of `kind` a reference `{name, namespace}` from namespace `ns` names:
# a set, empty when the estate holds none (or the reference is to another provider).
resolve(kind, ref, ns) := traefik_objects(kind, namespace_of_ref(ref, ns), ref.name) if {
	is_string(ref.name)
	not contains(ref.name, "@")
} else := traefik_objects_by_id(kind, trim_suffix(ref.name, "@kubernetescrd")) if {
	is_string(ref.name)
	endswith(ref.name, "@kubernetescrd")
} else := set()

# --- Middlewares --------------------------------------------------------------------------

redirects_to_https(mw) if {
	scheme := mw.spec.redirectScheme.scheme
	is_string(scheme)
	lower(scheme) == "https"
}

redirects_to_https(mw) if {
	replacement := mw.spec.redirectRegex.replacement
	is_string(replacement)
	startswith(lower(replacement), "https://")
}

rate_limits(mw) if is_object(mw.spec.rateLimit)

# A Middleware and, when it is a chain, the Middlewares it chains. One level only: Rego has
# no recursion, and chains of chains are rare.
expanded(mw) := {mw} | {m |
	some ref in mw.spec.chain.middlewares
	is_object(ref)
	some m in resolve("Middleware", ref, namespace(mw))
}

# The estate's Middlewares a route of an IngressRoute in namespace `ns` uses.
route_middlewares(route, ns) := {m |
	some ref in route.middlewares
	is_object(ref)
	some mw in resolve("Middleware", ref, ns)
	some m in expanded(mw)
}

# Names of the route's Middleware references that the estate does not hold.
unresolved_middlewares(route, ns) := [ref.name |
	some ref in route.middlewares
	is_object(ref)
	count(resolve("Middleware", ref, ns)) == 0
]

route_redirects_to_https(route, ns) if {
	some m in route_middlewares(route, ns)
	redirects_to_https(m)
}

route_rate_limited(route, ns) if {
	some m in route_middlewares(route, ns)
	rate_limits(m)
}

# Every route of the IngressRoute only redirects to HTTPS.
redirect_only(ir) if {
	routes := ir.spec.routes
	is_array(routes)
	count(routes) > 0
	every route in routes {
		route_redirects_to_https(route, namespace(ir))
	}
}

# The IngressRoute names its entry points (without, Traefik uses every default one).
has_entry_points(ir) if {
	eps := ir.spec.entryPoints
	is_array(eps)
	count(eps) > 0
}

plain_entry_points(ir) := [ep |
	some ep in ir.spec.entryPoints
	not is_tls_entry_point(ep)
]

# The IngressRoute can be reached on a plain-HTTP entry point.
on_plain_entry_point(ir) if not has_entry_points(ir)

on_plain_entry_point(ir) if count(plain_entry_points(ir)) > 0

# How a route is shown in messages: its match rule, shortened.
route_label(i, route) := sprintf("route %d (%s)", [i, shorten(route.match)]) if {
	is_string(route.match)
} else := sprintf("route %d", [i])

shorten(text) := text if {
	count(text) <= 60
} else := concat("", [substring(text, 0, 57), "..."])

# --- Kubernetes label selectors -----------------------------------------------------------

selector_matches(selector, labels) if {
	is_object(selector)
	every key, value in object.get(selector, "matchLabels", {}) {
		labels[key] == value
	}
	every expression in object.get(selector, "matchExpressions", []) {
		expression_matches(expression, labels)
	}
}

expression_matches(expression, labels) if {
	expression.operator == "In"
	labels[expression.key] in expression.values
}

expression_matches(expression, labels) if {
	expression.operator == "NotIn"
	not label_in(labels, expression.key, expression.values)
}

expression_matches(expression, labels) if {
	expression.operator == "Exists"
	_ = labels[expression.key]
}

expression_matches(expression, labels) if {
	expression.operator == "DoesNotExist"
	not has_label(labels, expression.key)
}

has_label(labels, key) if _ = labels[key]

# (A helper, because `not labels[key] in values` is undefined, not true, when the label is
# missing: OPA evaluates the reference before the negation.)
label_in(labels, key, values) if labels[key] in values
