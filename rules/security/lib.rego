# Helpers shared by the rules of the security pack: object identity, tiers, the pack's
# settings (data.security_pack, from data.yaml), workloads' pod specs and containers with
# their JSON pointers (the Rego counterpart of checker/k8s.py's `pod_spec`/`containers`).
#
# Every helper tolerates schema-invalid input: OPA runs with strict builtin errors here, so
# a builtin is only called once the type of its argument has been checked. Beware of
# `not f(input.x)`: OPA evaluates `input.x` before the negation, so the expression is
# undefined (not true) when the field is missing; negate a helper rule instead.
package gitops_checker.security.lib

import rego.v1

# --- identity and tiers -------------------------------------------------------------------

# The namespace of an object; "" when it has none (data.inventory files it under "").
namespace(obj) := ns if {
	ns := obj.metadata.namespace
	is_string(ns)
} else := ""

# The API group of an object: "" for the core group (`v1`).
group(obj) := g if {
	is_string(obj.apiVersion)
	contains(obj.apiVersion, "/")
	g := split(obj.apiVersion, "/")[0]
} else := ""

# critical, standard or nonprod: the namespace's tier as the checker resolved it.
tier(ns) := t if {
	t := data.gitops_checker.tiers.namespaces[ns]
} else := t if {
	t := data.gitops_checker.tiers.default
} else := "standard"

# What the namespace's tier requires (`require_image_digest`, …); undefined when unknown.
requirement(ns, key) := data.gitops_checker.requirements[tier(ns)][key]

# --- settings (data.yaml; maps that policy directories may extend) ------------------------

# The pattern of data.security_pack.system_namespaces the namespace matches, if any.
system_namespace_pattern(ns) := pattern if {
	is_string(ns)
	ns != ""
	patterns := sort([p | some p, _ in data.security_pack.system_namespaces; is_string(p); glob.match(p, [], ns)])
	count(patterns) > 0
	pattern := patterns[0]
}

is_system_namespace(ns) if system_namespace_pattern(ns)

# A capability's name as data.security_pack.dangerous_capabilities spells it: upper case,
# without the CAP_ prefix that container runtimes also accept.
capability_name(value) := trim_prefix(upper(value), "CAP_") if is_string(value)

dangerous_capability(value) := reason if {
	reason := data.security_pack.dangerous_capabilities[capability_name(value)]
}

# --- workloads ----------------------------------------------------------------------------

# Kinds that carry a pod spec (`group/Kind`, "" for the core group) and the pointer to it.
pod_spec_pointers := {
	"/Pod": "/spec",
	"apps/Deployment": "/spec/template/spec",
	"apps/StatefulSet": "/spec/template/spec",
	"apps/DaemonSet": "/spec/template/spec",
	"apps/ReplicaSet": "/spec/template/spec",
	"/ReplicationController": "/spec/template/spec",
	"batch/Job": "/spec/template/spec",
	"batch/CronJob": "/spec/jobTemplate/spec/template/spec",
}

container_fields := ["initContainers", "containers", "ephemeralContainers"]

pod_spec_pointer(obj) := pod_spec_pointers[concat("/", [group(obj), obj.kind])] if is_string(obj.kind)

# The pod spec of a workload; undefined for other kinds or when it is not an object.
pod_spec(obj) := spec if {
	path := split(trim_prefix(pod_spec_pointer(obj), "/"), "/")
	spec := object.get(obj, path, null)
	is_object(spec)
}

# Every container of a workload: {container, name, pointer, field}, pointer e.g.
# /spec/template/spec/containers/0.
containers(obj) := [entry |
	prefix := pod_spec_pointer(obj)
	spec := pod_spec(obj)
	some field in container_fields
	items := spec[field]
	is_array(items)
	some i, container in items
	is_object(container)
	entry := {
		"container": container,
		"name": container_name(container),
		"pointer": sprintf("%s/%s/%d", [prefix, field, i]),
		"field": field,
	}
]

# The object under evaluation's, computed once per query and shared by every rule of the
# pack (OPA caches rules, not function calls): what each rule would otherwise work out again.
input_containers := containers(input)

input_pod_spec := pod_spec(input)

input_in_system_namespace if is_system_namespace(namespace(input))

container_name(container) := container.name if is_string(container.name) else := "(unnamed)"

# How a container is named in messages: "container odoo", "init container migrate".
container_label(entry) := sprintf("init container %s", [entry.name]) if {
	entry.field == "initContainers"
} else := sprintf("ephemeral container %s", [entry.name]) if {
	entry.field == "ephemeralContainers"
} else := sprintf("container %s", [entry.name])
