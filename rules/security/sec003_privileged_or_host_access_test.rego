package gitops_checker.security.privileged_or_host_access_test

import rego.v1

import data.gitops_checker.security.privileged_or_host_access as rule

settings := {"system_namespaces": {"kube-system": "control plane", "*-system": "operators"}}

deployment(ns, pod_spec) := {
	"apiVersion": "apps/v1",
	"kind": "Deployment",
	"metadata": {"name": "odoo", "namespace": ns},
	"spec": {"template": {"spec": pod_spec}},
}

privileged := {"containers": [{"name": "odoo", "securityContext": {"privileged": true}}]}

test_privileged_is_denied if {
	results := rule.deny with input as deployment("erp-prod", privileged) with data.security_pack as settings
	results == {{
		"msg": "container odoo runs privileged: it has every capability and the node's devices, as root on the node",
		"pointer": "/spec/template/spec/containers/0/securityContext/privileged",
	}}
}

test_system_namespaces_are_exempt if {
	count(rule.deny) == 0 with input as deployment("kube-system", privileged) with data.security_pack as settings
	count(rule.deny) == 0 with input as deployment("longhorn-system", privileged) with data.security_pack as settings
	count(rule.deny) == 1 with input as deployment("system", privileged) with data.security_pack as settings
}

test_added_system_namespace if {
	extended := {"system_namespaces": {"kube-system": "control plane", "monitoring": "node exporters"}}
	count(rule.deny) == 0 with input as deployment("monitoring", {"hostPID": true}) with data.security_pack as extended
}

test_host_namespaces_and_paths if {
	spec := {"hostNetwork": true, "hostIPC": true, "hostPID": false, "volumes": [{"name": "root", "hostPath": {"path": "/"}}]}
	results := rule.deny with input as deployment("erp-prod", spec) with data.security_pack as settings
	{r.pointer | some r in results} == {"/spec/template/spec/hostNetwork", "/spec/template/spec/hostIPC", "/spec/template/spec/volumes/0/hostPath"}
}

test_explicit_escalation_only if {
	count(rule.deny) == 1 with input as deployment("erp-prod", {"containers": [{"name": "a", "securityContext": {"allowPrivilegeEscalation": true}}]})
		with data.security_pack as settings
	count(rule.deny) == 0 with input as deployment("erp-prod", {"containers": [{"name": "a"}]}) with data.security_pack as settings
}
