package gitops_checker.security.privileged_or_host_access

import rego.v1

import data.gitops_checker.security.lib

host_namespaces := {
	"hostNetwork": "shares the node's network namespace: it can reach every service bound to the node and sniff its traffic",
	"hostPID": "shares the node's process namespace: it can see and signal every process on the node, and read their environment",
	"hostIPC": "shares the node's IPC namespace: it can read other processes' shared memory",
}

# METADATA
# title: Workloads do not run privileged or reach into the node
# description: |
#   Outside system namespaces, no container runs privileged or may gain privileges, and no
#   pod shares the node's network, process or IPC namespaces or mounts the node's file
#   system. Each of these turns a compromised Odoo worker or integration job into a
#   compromised node — and from there into every tenant, database and secret on it — which
#   a finance platform's least-privilege and segregation controls exist to prevent.
#
#   Checked on Pods, Deployments, StatefulSets, DaemonSets, ReplicaSets,
#   ReplicationControllers, Jobs and CronJobs, one finding per field at fault:
#   - `securityContext.privileged: true` on any container (init and ephemeral included);
#   - `securityContext.allowPrivilegeEscalation: true` set explicitly on any container (left
#     unset it defaults to true for non-privileged processes too, but requiring an explicit
#     `false` everywhere is the Pod Security "restricted" profile, not this rule);
#   - `hostNetwork`, `hostPID` or `hostIPC: true` on the pod;
#   - `hostPath` volumes.
#
#   System namespaces are exempt: node agents (CNI, CSI, kube-proxy, node exporters) need
#   these powers. They are the glob patterns that are keys of
#   `data.security_pack.system_namespaces` (defaults `kube-system` and `*-system`, in the
#   pack's data.yaml); add more with a data file in a policy directory:
#   `security_pack: {system_namespaces: {monitoring: "node exporters"}}`.
#
#   Passing: `securityContext: {privileged: false, allowPrivilegeEscalation: false}` and an
#   `emptyDir` volume in `erp-prod`; `hostNetwork: true` in `kube-system`.
#
#   Failing: `securityContext: {privileged: true}` in `erp-prod` ("container odoo runs
#   privileged"), or a `hostPath: {path: /var/run/docker.sock}` volume.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/security/pod-security-standards/
#   - ref: https://kubernetes.io/docs/concepts/storage/volumes/#hostpath
#   - ref: https://kubernetes.io/docs/tasks/configure-pod-container/security-context/
# custom:
#   id: SEC003
#   name: privileged-or-host-access
#   severity: high
#   category: security
#   kinds:  # asked about these objects only (pod templates: lib.pod_spec_pointers)
#     - {apiGroups: [""], kinds: [Pod, ReplicationController]}
#     - {apiGroups: [apps], kinds: [Deployment, StatefulSet, DaemonSet, ReplicaSet]}
#     - {apiGroups: [batch], kinds: [Job, CronJob]}
#   tier_severity: {critical: critical, standard: high, nonprod: medium}
#   remediation: >-
#     Drop privileged and allowPrivilegeEscalation (set both to false), remove hostNetwork,
#     hostPID and hostIPC, and replace hostPath volumes with PersistentVolumeClaims,
#     ConfigMaps, Secrets or emptyDir; a node agent that truly needs them belongs in a system
#     namespace.
deny contains result if {
	not exempt
	some entry in lib.input_containers
	entry.container.securityContext.privileged == true
	result := {
		"msg": sprintf("%s runs privileged: it has every capability and the node's devices, as root on the node", [lib.container_label(entry)]),
		"pointer": sprintf("%s/securityContext/privileged", [entry.pointer]),
	}
}

deny contains result if {
	not exempt
	some entry in lib.input_containers
	entry.container.securityContext.allowPrivilegeEscalation == true
	result := {
		"msg": sprintf("%s sets allowPrivilegeEscalation: true: its processes may gain more privileges than they started with (setuid binaries, file capabilities)", [lib.container_label(entry)]),
		"pointer": sprintf("%s/securityContext/allowPrivilegeEscalation", [entry.pointer]),
	}
}

deny contains result if {
	not exempt
	spec := lib.input_pod_spec
	some field, consequence in host_namespaces
	spec[field] == true
	result := {
		"msg": sprintf("%s: true — the pod %s", [field, consequence]),
		"pointer": sprintf("%s/%s", [lib.pod_spec_pointer(input), field]),
	}
}

deny contains result if {
	not exempt
	spec := lib.input_pod_spec
	some i, volume in spec.volumes
	is_array(spec.volumes)
	is_object(volume.hostPath)
	result := {
		"msg": sprintf("volume %v mounts the node's %v (hostPath): the pod can read or change the node's files", [object.get(volume, "name", i), object.get(volume.hostPath, "path", "file system")]),
		"pointer": sprintf("%s/volumes/%d/hostPath", [lib.pod_spec_pointer(input), i]),
	}
}

exempt if lib.input_in_system_namespace
