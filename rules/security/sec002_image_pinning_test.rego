package gitops_checker.security.image_pinning_test

import rego.v1

import data.gitops_checker.security.image_pinning as rule

digest := "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

tiers := {"namespaces": {"erp-prod": "critical"}, "default": "standard"}

requirements := {"critical": {"require_image_digest": true}, "standard": {"require_image_digest": false}}

pod(ns, image) := {
	"apiVersion": "v1",
	"kind": "Pod",
	"metadata": {"name": "p", "namespace": ns},
	"spec": {"containers": [{"name": "app", "image": image}]},
}

deny(ns, image) := results if {
	results := rule.deny with input as pod(ns, image)
		with data.gitops_checker.tiers as tiers
		with data.gitops_checker.requirements as requirements
}

test_tags if {
	rule.tag("odoo:17.0") == "17.0"
	rule.tag("registry:5000/erp/odoo:17.0") == "17.0"
	not rule.tag("registry:5000/erp/odoo")
	not rule.tag("odoo")
	rule.tag(concat("@", ["odoo:latest", digest])) == "latest"
}

test_latest_and_untagged_are_denied if {
	count(deny("erp-dev", "odoo:latest")) == 1
	count(deny("erp-dev", "odoo")) == 1
	count(deny("erp-dev", "odoo:LATEST")) == 1
}

test_versions_and_digests_pass_in_standard if {
	count(deny("erp-dev", "odoo:17.0")) == 0
	count(deny("erp-dev", concat("@", ["odoo", digest]))) == 0
}

test_critical_requires_a_digest if {
	results := deny("erp-prod", "odoo:17.0")
	results == {{
		"msg": "container app: image odoo:17.0 is not pinned by digest (@sha256:…); tier critical requires digests (require_image_digest)",
		"pointer": "/spec/containers/0/image",
	}}
	count(deny("erp-prod", concat("@", ["odoo:17.0", digest]))) == 0
	count(deny("erp-prod", "odoo@sha256:short")) == 1
}
