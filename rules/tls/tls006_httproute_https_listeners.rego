# METADATA
# scope: package
# custom:
#   inventory:  # the kinds these rules read from data.inventory (the rest is not sent to OPA)
#     - {apiGroups: [gateway.networking.k8s.io], kinds: [Gateway, ListenerSet]}
#     - {apiGroups: [""], kinds: [Namespace]}
package gitops_checker.tls.httproute_https_listeners

import rego.v1

import data.gitops_checker.tls.lib

gateway_group := "gateway.networking.k8s.io"

gateway_api_versions := {"gateway.networking.k8s.io/v1", "gateway.networking.k8s.io/v1beta1"}

# Parents an HTTPRoute attaches to through listeners (GAMMA parents such as Services are
# east-west mesh traffic, not the edge, and are not checked).
listener_parent_kinds := {"Gateway", "ListenerSet"}

# METADATA
# title: Gateway API HTTPRoutes attach only to HTTPS listeners
# description: |
#   Every Gateway API `HTTPRoute` (`gateway.networking.k8s.io/v1` or `v1beta1`) attaches only
#   to listeners with `protocol: HTTPS`, unless all it does is redirect to HTTPS. A route on
#   an `HTTP` listener serves the ERP in clear text.
#
#   How a route attaches, and what is checked, for each `spec.parentRefs[]` of kind `Gateway`
#   (the default) or `ListenerSet`:
#   - the parent is looked up in the estate (`namespace` defaults to the route's); one that is
#     not there cannot be checked and is a finding;
#   - `sectionName` selects the listener of that name and `port` the listeners on that port;
#     without either, the route attaches to every listener of the parent — so any HTTP
#     listener there is a finding. A `sectionName` that names no listener is a finding too;
#   - a listener only takes the route if its `allowedRoutes` let it: `namespaces.from`
#     `Same` (the default: the parent's namespace), `All`, or `Selector` (matched against the
#     labels of the route's Namespace in the estate), and `kinds`, when set, includes
#     HTTPRoute;
#   - every such listener with `protocol: HTTP` is a finding, unless every rule of the route
#     has a `RequestRedirect` filter with `scheme: https` (the way to answer plain HTTP).
#
#   Other parent kinds (a Service, for mesh routing) are not checked. No options.
#
#   Passing:
#
#       kind: Gateway
#       metadata: {name: edge, namespace: gateway}
#       spec:
#         listeners:
#           - {name: https, protocol: HTTPS, port: 443, allowedRoutes: {namespaces: {from: All}}}
#           - {name: http, protocol: HTTP, port: 80, allowedRoutes: {namespaces: {from: All}}}
#       ---
#       kind: HTTPRoute
#       spec:
#         parentRefs: [{name: edge, namespace: gateway, sectionName: https}]
#
#   Failing: `parentRefs: [{name: edge, namespace: gateway}]` (attaches to the `http`
#   listener too: "attaches to HTTP listener http of Gateway gateway/edge").
# related_resources:
#   - ref: https://gateway-api.sigs.k8s.io/reference/spec/#parentreference
#   - ref: https://gateway-api.sigs.k8s.io/guides/http-redirect-rewrite/
#   - ref: https://gateway-api.sigs.k8s.io/guides/tls/
# custom:
#   id: TLS006
#   name: httproute-on-http-listener
#   severity: high
#   category: tls
#   kinds:  # asked about these objects only
#     - {apiGroups: [gateway.networking.k8s.io], kinds: [HTTPRoute]}
#   tier_severity: {critical: critical, standard: high, nonprod: medium}
#   remediation: >-
#     Attach the route to the HTTPS listener by sectionName (or port 443); answer plain HTTP
#     with a separate HTTPRoute on the HTTP listener whose only rule is a RequestRedirect
#     filter with scheme https.
deny contains result if {
	is_http_route(input)
	not redirect_only
	some i, ref in input.spec.parentRefs
	listener_parent(ref)
	some parent in parents(ref)
	some listener in attached_listeners(ref, parent)
	listener.protocol == "HTTP"
	result := {
		"msg": sprintf("attaches to HTTP listener %v (port %v) of %s %s/%s%s: the route is served in clear text; attach it to an HTTPS listener or make it redirect to https", [listener.name, object.get(listener, "port", "?"), parent.kind, lib.namespace(parent), lib.name(parent), no_section_note(ref)]),
		"pointer": ref_pointer(i, ref),
	}
}

deny contains result if {
	is_http_route(input)
	some i, ref in input.spec.parentRefs
	listener_parent(ref)
	count(parents(ref)) == 0
	result := {
		"msg": sprintf("%s %s/%s is not in the estate, so its listeners cannot be checked for HTTPS", [parent_kind(ref), parent_namespace(ref), ref.name]),
		"pointer": sprintf("/spec/parentRefs/%d", [i]),
	}
}

deny contains result if {
	is_http_route(input)
	some i, ref in input.spec.parentRefs
	listener_parent(ref)
	is_string(ref.sectionName)
	some parent in parents(ref)
	count(selected_listeners(ref, parent)) == 0
	result := {
		"msg": sprintf("%s %s/%s has no listener %s%s, so the route is not attached", [parent.kind, lib.namespace(parent), lib.name(parent), ref.sectionName, port_note(ref)]),
		"pointer": sprintf("/spec/parentRefs/%d/sectionName", [i]),
	}
}

is_http_route(obj) if {
	obj.kind == "HTTPRoute"
	obj.apiVersion in gateway_api_versions
}

# Every rule of the route redirects to https (a route without rules is not a redirect).
redirect_only if {
	rules := input.spec.rules
	is_array(rules)
	count(rules) > 0
	every rule in rules {
		some filter in rule.filters
		filter.type == "RequestRedirect"
		filter.requestRedirect.scheme == "https"
	}
}

parent_kind(ref) := object.get(ref, "kind", "Gateway")

parent_namespace(ref) := lib.namespace_of_ref(ref, lib.namespace(input))

listener_parent(ref) if {
	is_object(ref)
	is_string(ref.name)
	object.get(ref, "group", gateway_group) == gateway_group
	parent_kind(ref) in listener_parent_kinds
}

parents(ref) := {parent |
	some version in gateway_api_versions
	parent := data.inventory.namespace[parent_namespace(ref)][version][parent_kind(ref)][ref.name]
}

# Listeners of the parent that the reference selects (sectionName, port).
selected_listeners(ref, parent) := [listener |
	some listener in parent.spec.listeners
	is_object(listener)
	section_matches(ref, listener)
	port_matches(ref, listener)
]

section_matches(ref, _) if not has_section(ref)

section_matches(ref, listener) if ref.sectionName == listener.name

port_matches(ref, _) if not has_port(ref)

port_matches(ref, listener) if ref.port == listener.port

has_section(ref) if ref.sectionName

has_port(ref) if ref.port

# Selected listeners that accept this route.
attached_listeners(ref, parent) := [listener |
	some listener in selected_listeners(ref, parent)
	namespace_allowed(listener, parent)
	kind_allowed(listener)
]

namespace_allowed(listener, parent) if {
	from := object.get(listener, ["allowedRoutes", "namespaces", "from"], "Same")
	from == "Same"
	lib.namespace(parent) == lib.namespace(input)
}

namespace_allowed(listener, _) if listener.allowedRoutes.namespaces.from == "All"

namespace_allowed(listener, _) if {
	listener.allowedRoutes.namespaces.from == "Selector"
	labels := object.get(data.inventory.cluster, ["v1", "Namespace", lib.namespace(input), "metadata", "labels"], {})
	lib.selector_matches(listener.allowedRoutes.namespaces.selector, labels)
}

kind_allowed(listener) if not kinds_restricted(listener)

kind_allowed(listener) if {
	some kind in listener.allowedRoutes.kinds
	kind.kind == "HTTPRoute"
	object.get(kind, "group", gateway_group) == gateway_group
}

kinds_restricted(listener) if {
	kinds := listener.allowedRoutes.kinds
	is_array(kinds)
	count(kinds) > 0
}

ref_pointer(i, ref) := sprintf("/spec/parentRefs/%d/sectionName", [i]) if {
	has_section(ref)
} else := sprintf("/spec/parentRefs/%d", [i])

no_section_note(ref) := " (the parentRef names no sectionName or port, so the route attaches to every listener)" if {
	not has_section(ref)
	not has_port(ref)
} else := ""

port_note(ref) := sprintf(" on port %v", [ref.port]) if has_port(ref) else := ""
