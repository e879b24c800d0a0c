package gitops_checker.tls.ingress_host_tls

import rego.v1

import data.gitops_checker.tls.lib

cert_manager_annotations := ["cert-manager.io/cluster-issuer", "cert-manager.io/issuer"]

# METADATA
# title: Ingress hosts are served over TLS
# description: |
#   Every host of an Ingress is listed in `spec.tls[].hosts` of an entry that names a
#   `secretName`, so the ingress controller serves it with a certificate. Invoices, bank
#   details and login sessions of a finance platform must never cross the network in clear
#   text, and a host missing from `spec.tls` is served over plain HTTP.
#
#   Checked on `networking.k8s.io/v1` Ingresses (and the older v1beta1 APIs):
#   - each `spec.rules[].host` must match a host of a `spec.tls` entry (exactly, or through a
#     wildcard `*.example.com` covering one label) whose `secretName` is set;
#   - cert-manager (annotation `cert-manager.io/cluster-issuer` or `cert-manager.io/issuer`)
#     issues a certificate only for the hosts listed in `spec.tls`, and names the Certificate
#     and its Secret after `secretName`: with the annotation, the host still has to be in
#     `spec.tls` with a `secretName`, and the message says so;
#   - a rule without `host`, and `spec.defaultBackend`, answer for every host name that
#     reaches the controller (the "default host"), which has no certificate of its own: both
#     are findings; give every rule a host that `spec.tls` covers.
#
#   No options. Severity follows the tier: critical in critical namespaces.
#
#   Passing:
#
#       metadata:
#         annotations: {cert-manager.io/cluster-issuer: letsencrypt}
#       spec:
#         tls: [{hosts: [erp.example.com], secretName: erp-tls}]
#         rules: [{host: erp.example.com, http: {paths: [...]}}]
#
#   Failing: the same without `spec.tls` ("host erp.example.com is not covered by
#   spec.tls"), or a rule without `host`.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/services-networking/ingress/#tls
#   - ref: https://cert-manager.io/docs/usage/ingress/
# custom:
#   id: TLS001
#   name: ingress-host-without-tls
#   severity: high
#   category: tls
#   kinds:  # asked about these objects only
#     - {apiGroups: [networking.k8s.io, extensions], kinds: [Ingress]}
#   tier_severity: {critical: critical, standard: high, nonprod: medium}
#   remediation: >-
#     List every host under spec.tls[].hosts with a secretName (the Secret holding the
#     certificate, or the name cert-manager gives the Certificate it issues when the Ingress
#     carries a cert-manager.io/cluster-issuer or cert-manager.io/issuer annotation), and give
#     every rule a host.
deny contains result if {
	lib.is_ingress(input)
	some i, rule in input.spec.rules
	host := rule.host
	is_string(host)
	host != ""
	not covered(host)
	result := {
		"msg": uncovered_message(host),
		"pointer": sprintf("/spec/rules/%d/host", [i]),
	}
}

deny contains result if {
	lib.is_ingress(input)
	some i, rule in input.spec.rules
	is_object(rule)
	object.get(rule, "host", "") in {"", null}
	result := {
		"msg": "rule has no host: it answers for every host name that reaches the ingress controller (the default host), which spec.tls cannot give a certificate; set a host and list it in spec.tls",
		"pointer": sprintf("/spec/rules/%d", [i]),
	}
}

deny contains result if {
	lib.is_ingress(input)
	is_object(input.spec.defaultBackend)
	result := {
		"msg": "spec.defaultBackend answers for every host name that reaches the ingress controller (the default host), which spec.tls cannot give a certificate; route explicit hosts instead",
		"pointer": "/spec/defaultBackend",
	}
}

covered(host) if {
	some entry in input.spec.tls
	has_secret(entry)
	some pattern in entry.hosts
	host_matches(pattern, host)
}

has_secret(entry) if {
	is_string(entry.secretName)
	entry.secretName != ""
}

# The host is listed in spec.tls, but in no entry that names a secretName.
listed_without_secret(host) if {
	some entry in input.spec.tls
	not has_secret(entry)
	some pattern in entry.hosts
	host_matches(pattern, host)
}

host_matches(pattern, host) if {
	is_string(pattern)
	lower(pattern) == lower(host)
}

# `*.example.com` covers exactly one more label: a.example.com, not a.b.example.com.
host_matches(pattern, host) if {
	is_string(pattern)
	startswith(pattern, "*.")
	suffix := lower(substring(pattern, 1, -1))
	endswith(lower(host), suffix)
	label := trim_suffix(lower(host), suffix)
	label != ""
	not contains(label, ".")
	label != "*"
}

# The cert-manager issuer annotations the object carries, comma-separated; undefined if none.
cert_manager_issuer(obj) := concat(", ", keys) if {
	keys := [key | some key in cert_manager_annotations; lib.annotation(obj, key) != ""]
	count(keys) > 0
}

uncovered_message(host) := msg if {
	listed_without_secret(host)
	key := cert_manager_issuer(input)
	msg := sprintf("host %s is listed in spec.tls without a secretName: cert-manager (%s) names the Certificate and its Secret after secretName, so no certificate is issued and the host is served without one", [host, key])
} else := msg if {
	listed_without_secret(host)
	msg := sprintf("host %s is listed in spec.tls without a secretName: no certificate is served for it", [host])
} else := msg if {
	key := cert_manager_issuer(input)
	msg := sprintf("host %s is not covered by spec.tls: it is served over plain HTTP, and cert-manager (%s) only issues certificates for hosts listed in spec.tls", [host, key])
} else := sprintf("host %s is not covered by spec.tls: it is served over plain HTTP", [host])
