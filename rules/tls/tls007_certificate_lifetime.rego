package gitops_checker.tls.certificate_lifetime

import rego.v1

import data.gitops_checker.tls.lib

# cert-manager's default lifetime when spec.duration is not set: 90 days.
default_duration := "2160h"

hour := 3600000000000

day := 24 * hour

# A Go duration as cert-manager parses it (time.ParseDuration): numbers with units, no days,
# no spaces, "0" alone. It is read here rather than with OPA's time.parse_duration_ns, which
# takes `90d` (Go does not) and raises an error, failing the whole query, on values beyond
# Go's range (about 292 years), where this rule reports instead.
go_duration_pattern := `^\+?(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+$`

go_duration_part := `([0-9]*(?:\.[0-9]*)?)(ns|us|µs|μs|ms|s|m|h)`

unit_ns := {"ns": 1, "us": 1000, "µs": 1000, "μs": 1000, "ms": 1000000, "s": 1000000000, "m": 60000000000, "h": hour}

# The largest duration Go represents (int64 nanoseconds).
max_go_duration := 9223372036854775807

# METADATA
# title: cert-manager Certificates have a sane lifetime, renewal margin and key
# description: |
#   A cert-manager `Certificate` (`cert-manager.io/v1`) asks for a lifetime between a day and
#   the maximum, renews early enough that a failed renewal can be fixed before the
#   certificate expires, and uses a key of at least 2048 bits (RSA) or 256 bits (ECDSA). An
#   expired certificate stops invoicing and payment integrations as surely as an outage; a
#   certificate valid for years, or with a weak key, outlives the controls meant to rotate it.
#
#   Checked (Go durations, as cert-manager parses them: `h`, `m`, `s`…, no `d`):
#   - `spec.duration` (default 2160h, 90 days) is a Go duration, at least `min_duration`
#     and at most `max_duration`;
#   - the renewal margin — `spec.renewBefore`, or `spec.renewBeforePercentage` of the
#     duration; cert-manager's default, a third of the duration, always passes — is shorter
#     than the duration, and at least the smaller of `min_renew_before` and a third of the
#     duration: 15 days for long-lived certificates, and never more than cert-manager's own
#     default for short-lived ones;
#   - `spec.privateKey`, when set: RSA keys have `size` ≥ 2048 and ECDSA keys ≥ 256 (the
#     defaults when `size` is not set); Ed25519 is fine.
#
#   Settings (data, not rule options) under `data.tls_pack.certificate`, each a map whose
#   strictest entry wins, so a policy directory can tighten them by adding an entry:
#   `min_duration` (default 24h; the largest wins), `max_duration` (default 9528h = 397 days,
#   under the CA/Browser Forum's 398-day limit; the smallest wins), `min_renew_before`
#   (default 360h = 15 days; the largest wins).
#
#   Passing:
#
#       spec:
#         secretName: erp-tls
#         duration: 2160h
#         renewBefore: 720h
#         privateKey: {algorithm: ECDSA, size: 384}
#
#   Failing: `duration: 17520h` ("exceeds the maximum"), `renewBefore: 24h` ("leaves too
#   little time"), `duration: 90d` ("not a Go duration"), or `privateKey: {algorithm: RSA,
#   size: 1024}`.
# related_resources:
#   - ref: https://cert-manager.io/docs/usage/certificate/
#   - ref: https://cert-manager.io/docs/reference/api-docs/#cert-manager.io/v1.CertificateSpec
#   - ref: https://cabforum.org/working-groups/server/baseline-requirements/requirements/
# custom:
#   id: TLS007
#   name: certificate-lifetime-or-key
#   severity: medium
#   category: tls
#   kinds:  # asked about these objects only
#     - {apiGroups: [cert-manager.io], kinds: [Certificate]}
#   tier_severity: {critical: high, standard: medium, nonprod: low}
#   remediation: >-
#     Request a duration between 24h and 9528h (2160h, cert-manager's default, suits most
#     certificates), leave renewBefore unset (a third of the duration) or set it to at least
#     360h and below the duration, and use ECDSA 256/384 or RSA 2048+ keys.
deny contains result if {
	is_certificate
	value := input.spec.duration
	value != null
	not valid_duration(value)
	result := {
		"msg": sprintf("duration %v is not a Go duration (units h, m, s, ms, us, ns; no days: write 2160h for 90 days), so cert-manager cannot use it", [value]),
		"pointer": "/spec/duration",
	}
}

deny contains result if {
	is_certificate
	value := duration_text
	duration_ns < min_duration.ns
	result := {
		"msg": sprintf("duration %s (%s) is shorter than the minimum %s (%s): a renewal that fails has no time to be fixed", [value, days(duration_ns), min_duration.text, days(min_duration.ns)]),
		"pointer": duration_pointer,
	}
}

deny contains result if {
	is_certificate
	value := duration_text
	duration_ns > max_duration.ns
	result := {
		"msg": sprintf("duration %s (%s) exceeds the maximum %s (%s)", [value, days(duration_ns), max_duration.text, days(max_duration.ns)]),
		"pointer": duration_pointer,
	}
}

deny contains result if {
	is_certificate
	value := input.spec.renewBefore
	value != null
	not valid_duration(value)
	result := {
		"msg": sprintf("renewBefore %v is not a Go duration (units h, m, s, ms, us, ns; no days), so cert-manager cannot use it", [value]),
		"pointer": "/spec/renewBefore",
	}
}

deny contains result if {
	is_certificate
	margin := renewal_margin
	margin.ns >= duration_ns
	result := {
		"msg": sprintf("%s (%s) is not shorter than the duration %s (%s): the certificate would be renewed as soon as it is issued", [margin.text, days(margin.ns), duration_text, days(duration_ns)]),
		"pointer": margin.pointer,
	}
}

deny contains result if {
	is_certificate
	margin := renewal_margin
	margin.ns < duration_ns
	margin.ns < required_margin
	result := {
		"msg": sprintf("%s (%s) leaves too little time to fix a failed renewal: the margin must be at least %s (the smaller of min_renew_before %s and a third of the duration)", [margin.text, days(margin.ns), days(required_margin), min_renew_before.text]),
		"pointer": margin.pointer,
	}
}

deny contains result if {
	is_certificate
	key := input.spec.privateKey
	is_object(key)
	algorithm := key_algorithm(key)
	size := object.get(key, "size", default_key_size[algorithm])
	is_number(size)
	size < minimum_key_size[algorithm]
	result := {
		"msg": sprintf("%s private key of %v bits is too weak; at least %d bits are required", [algorithm, size, minimum_key_size[algorithm]]),
		"pointer": key_pointer(key),
	}
}

is_certificate if {
	input.kind == "Certificate"
	input.apiVersion == "cert-manager.io/v1"
}

# cert-manager's default algorithm is RSA; its default sizes are the minimums.
key_algorithm(key) := upper(key.algorithm) if is_string(key.algorithm) else := "RSA"

default_key_size := {"RSA": 2048, "ECDSA": 256}

minimum_key_size := {"RSA": 2048, "ECDSA": 256}

key_pointer(key) := "/spec/privateKey/size" if {
	key.size
} else := "/spec/privateKey"

# --- durations ----------------------------------------------------------------------------

valid_duration(value) if nanoseconds(value)

# A Go duration in nanoseconds; undefined when the value is not one.
nanoseconds("0") := 0

nanoseconds(value) := ns if {
	is_string(value)
	value != "0"
	regex.match(go_duration_pattern, value)
	parts := regex.find_all_string_submatch_n(go_duration_part, value, -1)
	ns := sum([(decimal(part[1]) * unit_ns[part[2]]) | some part in parts])
	ns <= max_go_duration
}

# "1.5", "1.", ".5", "007" as numbers (to_number wants strict JSON numbers).
decimal(text) := to_number(concat(".", [whole_number(parts[0]), parts[1]])) if {
	parts := split(text, ".")
	count(parts) == 2
	parts[1] != ""
} else := to_number(whole_number(split(text, ".")[0]))

whole_number(digits) := trimmed if {
	trimmed := trim_left(digits, "0")
	trimmed != ""
} else := "0"

# The requested lifetime: spec.duration, or cert-manager's default.
duration_text := value if {
	value := input.spec.duration
	valid_duration(value)
} else := default_duration if {
	not has_duration
}

has_duration if input.spec.duration != null

duration_ns := nanoseconds(duration_text)

duration_pointer := "/spec/duration" if has_duration else := "/spec"

# How long before expiry cert-manager renews, when the Certificate says so:
# {text, ns, pointer}. Undefined when renewal is left to cert-manager's default (a third).
renewal_margin := {"text": sprintf("renewBefore %s", [value]), "ns": nanoseconds(value), "pointer": "/spec/renewBefore"} if {
	value := input.spec.renewBefore
	valid_duration(value)
} else := margin if {
	percentage := input.spec.renewBeforePercentage
	is_number(percentage)
	margin := {
		"text": sprintf("renewBeforePercentage %v", [percentage]),
		"ns": (duration_ns * percentage) / 100,
		"pointer": "/spec/renewBeforePercentage",
	}
}

# The least acceptable margin: min_renew_before, or a third of the duration if shorter.
required_margin := min({min_renew_before.ns, duration_ns / 3})

# A span of time for messages: "1 day", "90 days", "1 hour", "23 hours", "7.3 days".
days(ns) := "1 day" if {
	ns == day
} else := "1 hour" if {
	ns == hour
} else := sprintf("%v days", [ns / day]) if {
	floor(ns / day) * day == ns
} else := sprintf("%v hours", [round((ns / hour) * 10) / 10]) if {
	ns < 2 * day
} else := sprintf("%v days", [round((ns / day) * 10) / 10])

# --- settings: the strictest entry of each map in data.tls_pack.certificate ---------------

setting_values(key) := [{"text": text, "ns": nanoseconds(text)} |
	some text in data.tls_pack.certificate[key]
	valid_duration(text)
]

strictest(values, pick) := [value | some value in values; value.ns == pick][0]

min_duration := strictest(values, max([v.ns | some v in values])) if {
	values := setting_values("min_duration")
	count(values) > 0
}

max_duration := strictest(values, min([v.ns | some v in values])) if {
	values := setting_values("max_duration")
	count(values) > 0
}

min_renew_before := strictest(values, max([v.ns | some v in values])) if {
	values := setting_values("min_renew_before")
	count(values) > 0
}
