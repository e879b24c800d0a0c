package gitops_checker.security.image_pinning

import rego.v1

import data.gitops_checker.security.lib

digest_pattern := `@sha256:[0-9a-f]{64}$`

# METADATA
# title: Container images are pinned
# description: |
#   Every container image names a fixed version: never the `latest` tag, never no tag at all
#   (which means `latest`), and, in tiers that require it (`require_image_digest`, true for
#   `critical` by default), an immutable digest (`@sha256:` and 64 hex digits). A moving tag
#   means the code that runs is not the code that was reviewed and approved — an auditor
#   cannot tell from Git what ran at month-end close — and a registry compromise or a
#   careless re-push changes production without a commit.
#
#   Checked: every container, init container and ephemeral container of Pods, Deployments,
#   StatefulSets, DaemonSets, ReplicaSets, ReplicationControllers, Jobs and CronJobs; one
#   finding per container, at its `image` (and per CloudNativePG `Cluster`, at its
#   `spec.imageName`). A reference with a digest is pinned whatever its
#   tag (`odoo:17.0@sha256:…`). Registry ports are not mistaken for tags
#   (`registry:5000/odoo` has no tag).
#
#   Tier requirement: `require_image_digest` (config `tiers.requirements.<tier>`). No options.
#
#   Passing: `image: registry.example.com/erp/odoo:17.0-20250101` in a standard namespace;
#   `image: registry.example.com/erp/odoo:17.0@sha256:<64 hex>` anywhere.
#
#   Failing: `image: odoo` ("has no tag, which means latest"), `image: odoo:latest`, or
#   `image: odoo:17.0` in a namespace labelled `gitops-checker.io/tier: critical` ("is not
#   pinned by digest").
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/containers/images/#image-names
#   - ref: https://kubernetes.io/docs/concepts/configuration/overview/#container-images
# custom:
#   id: SEC002
#   name: image-not-pinned
#   severity: medium
#   category: security
#   kinds:  # asked about these objects only (pod templates: lib.pod_spec_pointers)
#     - {apiGroups: [""], kinds: [Pod, ReplicationController]}
#     - {apiGroups: [apps], kinds: [Deployment, StatefulSet, DaemonSet, ReplicaSet]}
#     - {apiGroups: [batch], kinds: [Job, CronJob]}
#     - {apiGroups: [postgresql.cnpg.io], kinds: [Cluster]}
#   tier_severity: {critical: high, standard: medium, nonprod: low}
#   remediation: >-
#     Reference images by an immutable version tag, and by digest (image:tag@sha256:…) in
#     tiers that require it; let your CD tooling (Flux image automation, Renovate) bump the
#     digests so that every change is a reviewed commit.
deny contains result if {
	some entry in lib.input_containers
	image := entry.container.image
	is_string(image)
	image != ""
	problem := image_problem(image)
	result := {
		"msg": sprintf("%s: image %s %s", [lib.container_label(entry), image, problem]),
		"pointer": sprintf("%s/image", [entry.pointer]),
	}
}

# The PostgreSQL image of a CloudNativePG cluster: the system of record's own image.
deny contains result if {
	input.apiVersion == "postgresql.cnpg.io/v1"
	input.kind == "Cluster"
	image := input.spec.imageName
	is_string(image)
	image != ""
	problem := image_problem(image)
	result := {
		"msg": sprintf("CloudNativePG cluster %s: image %s %s", [input.metadata.name, image, problem]),
		"pointer": "/spec/imageName",
	}
}

digest_required if lib.requirement(lib.namespace(input), "require_image_digest") == true

has_digest(image) if contains(image, "@")

pinned_by_digest(image) if regex.match(digest_pattern, image)

# The tag of a reference: after the last `:` of its last path segment, digest removed.
# Undefined when there is none (`odoo`, `registry:5000/odoo`).
tag(image) := t if {
	name := split(image, "@")[0]
	segments := split(name, "/")
	last := segments[count(segments) - 1]
	contains(last, ":")
	parts := split(last, ":")
	t := parts[count(parts) - 1]
}

has_tag(image) if tag(image) != ""

# Why the reference is not pinned enough; undefined when it is.
image_problem(image) := msg if {
	digest_required
	not pinned_by_digest(image)
	msg := sprintf("is not pinned by digest (@sha256:…)%s; tier %s requires digests (require_image_digest)", [tag_note(image), lib.tier(lib.namespace(input))])
} else := "has no tag, which means latest: the image changes whenever someone pushes" if {
	not has_digest(image)
	not has_tag(image)
} else := "uses the moving tag latest: the image changes whenever someone pushes" if {
	not has_digest(image)
	lower(tag(image)) == "latest"
}

tag_note(image) := " and has no tag, which means latest" if {
	not has_digest(image)
	not has_tag(image)
} else := " and uses the moving tag latest" if {
	lower(tag(image)) == "latest"
} else := ""
