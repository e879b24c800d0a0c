package gitops_checker.security.dangerous_capabilities_test

import rego.v1

import data.gitops_checker.security.dangerous_capabilities as rule

settings := {
	"system_namespaces": {"kube-system": "control plane"},
	"dangerous_capabilities": {"SYS_ADMIN": "root", "NET_ADMIN": "network", "ALL": "everything"},
}

pod(ns, add) := {
	"apiVersion": "v1",
	"kind": "Pod",
	"metadata": {"name": "p", "namespace": ns},
	"spec": {"containers": [{"name": "app", "securityContext": {"capabilities": {"add": add}}}]},
}

test_dangerous_capability_is_denied if {
	results := rule.deny with input as pod("erp-prod", ["CHOWN", "CAP_SYS_ADMIN"]) with data.security_pack as settings
	results == {{"msg": "container app adds SYS_ADMIN: root", "pointer": "/spec/containers/0/securityContext/capabilities/add/1"}}
}

test_harmless_capabilities_pass if {
	count(rule.deny) == 0 with input as pod("erp-prod", ["NET_BIND_SERVICE", "CHOWN"]) with data.security_pack as settings
}

test_system_namespace_is_exempt if {
	count(rule.deny) == 0 with input as pod("kube-system", ["ALL"]) with data.security_pack as settings
}

test_added_capability_counts if {
	extended := json.patch(settings, [{"op": "add", "path": "/dangerous_capabilities/SYS_PTRACE", "value": "reads memory"}])
	count(rule.deny) == 1 with input as pod("erp-prod", ["sys_ptrace"]) with data.security_pack as extended
}
