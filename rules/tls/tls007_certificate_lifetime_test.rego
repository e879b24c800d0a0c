package gitops_checker.tls.certificate_lifetime_test

import rego.v1

import data.gitops_checker.tls.certificate_lifetime as rule

settings := {"certificate": {
	"min_duration": {"default": "24h"},
	"max_duration": {"default": "9528h"},
	"min_renew_before": {"default": "360h"},
}}

certificate(spec) := {
	"apiVersion": "cert-manager.io/v1",
	"kind": "Certificate",
	"metadata": {"name": "erp", "namespace": "erp-prod"},
	"spec": object.union({"secretName": "erp-tls", "issuerRef": {"name": "ca"}}, spec),
}

test_defaults_pass if {
	count(rule.deny) == 0 with input as certificate({}) with data.tls_pack as settings
}

test_too_long_is_denied if {
	results := rule.deny with input as certificate({"duration": "10000h"}) with data.tls_pack as settings
	results == {{"msg": "duration 10000h (416.7 days) exceeds the maximum 9528h (397 days)", "pointer": "/spec/duration"}}
}

test_stricter_entry_wins if {
	tightened := json.patch(settings, [{"op": "add", "path": "/certificate/max_duration/finance", "value": "2160h"}])
	some result in rule.deny with input as certificate({"duration": "4320h"}) with data.tls_pack as tightened
	contains(result.msg, "exceeds the maximum 2160h (90 days)")
	count(rule.deny) == 0 with input as certificate({"duration": "2160h"}) with data.tls_pack as tightened
}

test_go_durations if {
	rule.valid_duration("2160h")
	rule.valid_duration("1h30m")
	rule.valid_duration("1.5h")
	not rule.valid_duration("90d")
	not rule.valid_duration("-1h")
	not rule.valid_duration("")
	not rule.valid_duration(2160)
	not rule.valid_duration("2562048h")
	rule.nanoseconds("1h30m") == 90 * 60 * 1000000000
	rule.nanoseconds("1.5h") == rule.nanoseconds("90m")
	rule.nanoseconds(".5s") == 500000000
	rule.nanoseconds("1.s2ms") == 1002000000
	rule.nanoseconds("0") == 0
}

test_renew_before_margin if {
	count(rule.deny) == 0 with input as certificate({"duration": "2160h", "renewBefore": "360h"}) with data.tls_pack as settings
	count(rule.deny) == 1 with input as certificate({"duration": "2160h", "renewBefore": "359h"}) with data.tls_pack as settings
	count(rule.deny) == 0 with input as certificate({"duration": "48h", "renewBefore": "16h"}) with data.tls_pack as settings
	count(rule.deny) == 1 with input as certificate({"duration": "48h", "renewBeforePercentage": 10}) with data.tls_pack as settings
}

test_keys if {
	count(rule.deny) == 0 with input as certificate({"privateKey": {"algorithm": "RSA", "size": 4096}}) with data.tls_pack as settings
	count(rule.deny) == 0 with input as certificate({"privateKey": {"algorithm": "ecdsa"}}) with data.tls_pack as settings
	count(rule.deny) == 1 with input as certificate({"privateKey": {"size": 1024}}) with data.tls_pack as settings
}

test_days if {
	rule.days(rule.day) == "1 day"
	rule.days(90 * rule.day) == "90 days"
	rule.days(12 * rule.hour) == "12 hours"
	rule.days(rule.hour) == "1 hour"
}
