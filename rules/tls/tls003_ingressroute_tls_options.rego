# METADATA
# scope: package
# custom:
#   inventory:  # the kinds these rules read from data.inventory (the rest is not sent to OPA)
#     - {apiGroups: [traefik.io, traefik.containo.us], kinds: [TLSOption]}
package gitops_checker.tls.ingressroute_tls_options

import rego.v1

import data.gitops_checker.tls.lib

tls_versions := {"VersionTLS10": 10, "VersionTLS11": 11, "VersionTLS12": 12, "VersionTLS13": 13}

# METADATA
# title: Traefik IngressRoutes use TLS options that refuse anything below TLS 1.2
# description: |
#   The TLS options of an `IngressRoute` with `spec.tls` have `minVersion: VersionTLS12` or
#   `VersionTLS13`, and are declared in the estate, where an auditor can read them. TLS 1.0
#   and 1.1 are deprecated (RFC 8996) and not allowed by PCI DSS for card data.
#
#   How Traefik picks the options, and what is checked:
#   - `spec.tls.options: {name, namespace}` names a `TLSOption` in `namespace` (default: the
#     IngressRoute's namespace); it must be in the estate with `minVersion` VersionTLS12 or
#     VersionTLS13. A `name: <namespace>-<name>@kubernetescrd` reference is resolved the same
#     way; a reference to another provider (`name@file`) cannot be checked from the estate
#     and is a finding.
#   - Without `spec.tls.options`, Traefik applies its default TLS options. With the
#     Kubernetes CRD provider these are the `TLSOption` named `default`, whatever namespace it
#     is in — and only if there is exactly one: with several, Traefik drops them all. With
#     none, Traefik's built-in defaults apply, which depend on the Traefik version and its
#     static configuration, so they are not accepted as evidence. The estate must therefore
#     declare exactly one `TLSOption` named `default` with an acceptable `minVersion`.
#     (Traefik's `defaultTLSResourcesNamespace` provider option, which restricts where that
#     `default` may live, is static configuration and not checked.)
#   - A `TLSOption` without `minVersion` is a finding for the same reason.
#
#   IngressRoutes without `spec.tls` are TLS002's concern. No options.
#
#   Passing:
#
#       kind: TLSOption
#       metadata: {name: default, namespace: traefik}
#       spec: {minVersion: VersionTLS12}
#       ---
#       kind: IngressRoute
#       spec: {entryPoints: [websecure], tls: {secretName: erp-tls}, routes: [...]}
#
#   Failing: the same with `minVersion: VersionTLS10` ("allows VersionTLS10"), or an
#   IngressRoute with `tls: {options: {name: modern}}` and no TLSOption `modern` in its
#   namespace.
# related_resources:
#   - ref: https://doc.traefik.io/traefik/reference/routing-configuration/kubernetes/crd/tls/tlsoption/
#   - ref: https://doc.traefik.io/traefik/reference/routing-configuration/http/tls/tls-options/
#   - ref: https://www.rfc-editor.org/rfc/rfc8996
# custom:
#   id: TLS003
#   name: ingressroute-weak-tls-options
#   severity: high
#   category: tls
#   kinds:  # asked about these objects only
#     - {apiGroups: [traefik.io, traefik.containo.us], kinds: [IngressRoute]}
#   tier_severity: {critical: critical, standard: high, nonprod: medium}
#   remediation: >-
#     Declare one TLSOption named default (in Traefik's namespace) with minVersion
#     VersionTLS12 or VersionTLS13 and keep it in Git; for routes that need other options,
#     reference a TLSOption of the estate with spec.tls.options {name, namespace} that sets
#     minVersion as well.
deny contains result if {
	lib.is_ingress_route(input)
	is_object(input.spec.tls)
	ref := input.spec.tls.options
	named_ref(ref)
	msg := referenced_problem(ref, lib.namespace(input))
	result := {"msg": msg, "pointer": "/spec/tls/options"}
}

deny contains result if {
	lib.is_ingress_route(input)
	is_object(input.spec.tls)
	not has_named_ref
	msg := default_problem
	result := {"msg": sprintf("spec.tls.options is not set, so Traefik's default TLS options apply, but %s", [msg]), "pointer": "/spec/tls"}
}

named_ref(ref) if {
	is_string(ref.name)
	ref.name != ""
}

has_named_ref if named_ref(input.spec.tls.options)

# --- an explicit reference ------------------------------------------------------------------

referenced_problem(ref, ns) := msg if {
	lib.other_provider_ref(ref)
	msg := sprintf("TLS options %s come from another Traefik provider and cannot be checked from the estate; declare them as a TLSOption", [ref.name])
} else := msg if {
	options := lib.resolve("TLSOption", ref, ns)
	count(options) == 0
	msg := sprintf("TLSOption %s is not in the estate, so its minVersion cannot be checked", [ref_display(ref, ns)])
} else := msg if {
	weaknesses := sort([weakness | some option in lib.resolve("TLSOption", ref, ns); weakness := weak(option)])
	count(weaknesses) > 0
	msg := sprintf("TLSOption %s %s", [ref_display(ref, ns), weaknesses[0]])
}

ref_display(ref, ns) := ref.name if {
	contains(ref.name, "@")
} else := sprintf("%s/%s", [lib.namespace_of_ref(ref, ns), ref.name])

# --- Traefik's default TLS options --------------------------------------------------------

default_options := [option |
	some ns, version
	option := data.inventory.namespace[ns][version].TLSOption["default"]
	version in lib.traefik_api_versions
]

default_problem := "the estate declares no TLSOption named default (Traefik's built-in defaults depend on its version)" if {
	count(default_options) == 0
} else := msg if {
	count(default_options) > 1
	places := sort([lib.namespace(option) | some option in default_options])
	msg := sprintf("the estate declares %d TLSOptions named default (in %s) and Traefik drops them all for its built-in defaults", [count(default_options), concat(", ", places)])
} else := msg if {
	option := default_options[0]
	weakness := weak(option)
	msg := sprintf("the default TLSOption %s/default %s", [lib.namespace(option), weakness])
}

# --- minVersion ---------------------------------------------------------------------------

# Why a TLSOption is not good enough; undefined when it is.
weak(option) := "sets no minVersion, so Traefik's built-in minimum (which depends on its version) applies" if {
	not has_min_version(option)
} else := msg if {
	version := option.spec.minVersion
	not tls_versions[version]
	msg := sprintf("has minVersion %v, which is not a TLS version Traefik knows (VersionTLS12, VersionTLS13)", [version])
} else := msg if {
	version := option.spec.minVersion
	tls_versions[version] < 12
	msg := sprintf("allows %s (minVersion); VersionTLS12 or newer is required", [version])
}

has_min_version(option) if {
	version := option.spec.minVersion
	version != null
	version != ""
}
