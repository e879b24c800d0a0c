package gitops_checker.security.dangerous_capabilities

import rego.v1

import data.gitops_checker.security.lib

# METADATA
# title: Containers do not add dangerous Linux capabilities
# description: |
#   Outside system namespaces, no container adds a dangerous Linux capability in
#   `securityContext.capabilities.add`. `SYS_ADMIN` is most of root's power and the usual
#   container escape, `NET_ADMIN` lets a pod rewrite routes and firewall rules and sniff
#   traffic, `ALL` is as good as privileged: an application container of a finance platform
#   needs none of them, and a compromised one must not get them.
#
#   Checked on every container (init and ephemeral included) of Pods, Deployments,
#   StatefulSets, DaemonSets, ReplicaSets, ReplicationControllers, Jobs and CronJobs; one
#   finding per capability, at its entry in `capabilities.add`. Names are compared without
#   the `CAP_` prefix and case (`cap_sys_admin` is `SYS_ADMIN`).
#
#   Settings (data, from the pack's data.yaml; a policy directory can add entries):
#   - the dangerous capabilities are the keys of `data.security_pack.dangerous_capabilities`:
#     ALL, SYS_ADMIN, NET_ADMIN, SYS_MODULE, SYS_PTRACE, SYS_RAWIO, DAC_READ_SEARCH, BPF;
#   - system namespaces, where node agents may add them, are the glob patterns that are keys
#     of `data.security_pack.system_namespaces` (defaults `kube-system`, `*-system`), shared
#     with SEC003.
#
#   Passing: `capabilities: {drop: [ALL], add: [NET_BIND_SERVICE]}`.
#
#   Failing: `capabilities: {add: [SYS_ADMIN]}` in `erp-prod` ("container odoo adds
#   SYS_ADMIN").
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/security/pod-security-standards/
#   - ref: https://kubernetes.io/docs/tasks/configure-pod-container/security-context/#set-capabilities-for-a-container
#   - ref: https://man7.org/linux/man-pages/man7/capabilities.7.html
# custom:
#   id: SEC004
#   name: dangerous-capability-added
#   severity: high
#   category: security
#   kinds:  # asked about these objects only (pod templates: lib.pod_spec_pointers)
#     - {apiGroups: [""], kinds: [Pod, ReplicationController]}
#     - {apiGroups: [apps], kinds: [Deployment, StatefulSet, DaemonSet, ReplicaSet]}
#     - {apiGroups: [batch], kinds: [Job, CronJob]}
#   tier_severity: {critical: critical, standard: high, nonprod: medium}
#   remediation: >-
#     Remove the capability from capabilities.add (and drop ALL); if a component really needs
#     it, it is a node agent and belongs in a system namespace, or it needs a reviewed,
#     dated exception.
deny contains result if {
	not exempt
	some entry in lib.input_containers
	some j, capability in entry.container.securityContext.capabilities.add
	is_array(entry.container.securityContext.capabilities.add)
	reason := lib.dangerous_capability(capability)
	result := {
		"msg": sprintf("%s adds %s: %s", [lib.container_label(entry), lib.capability_name(capability), reason]),
		"pointer": sprintf("%s/securityContext/capabilities/add/%d", [entry.pointer, j]),
	}
}

exempt if lib.input_in_system_namespace
