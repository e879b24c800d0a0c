package gitops_checker.security.lib_test

import rego.v1

import data.gitops_checker.security.lib

test_containers_of_every_workload_kind if {
	container := {"name": "a", "image": "x:1"}
	pod_spec := {"containers": [container], "initContainers": [container]}
	[c.pointer | some c in lib.containers({"apiVersion": "v1", "kind": "Pod", "spec": pod_spec})] == ["/spec/initContainers/0", "/spec/containers/0"]
	[c.pointer | some c in lib.containers({"apiVersion": "batch/v1", "kind": "CronJob", "spec": {"jobTemplate": {"spec": {"template": {"spec": pod_spec}}}}})][1] == "/spec/jobTemplate/spec/template/spec/containers/0"
	count(lib.containers({"apiVersion": "apps/v1", "kind": "StatefulSet", "spec": {"template": {"spec": pod_spec}}})) == 2
	count(lib.containers({"apiVersion": "v1", "kind": "Deployment", "spec": {"template": {"spec": pod_spec}}})) == 0
	count(lib.containers({"apiVersion": "v1", "kind": "ConfigMap", "data": {}})) == 0
}

test_container_labels if {
	lib.container_label({"name": "m", "field": "initContainers"}) == "init container m"
	lib.container_label({"name": "c", "field": "containers"}) == "container c"
	lib.container_name({}) == "(unnamed)"
}

test_group if {
	lib.group({"apiVersion": "apps/v1"}) == "apps"
	lib.group({"apiVersion": "v1"}) == ""
	lib.group({"apiVersion": 1}) == ""
}

test_system_namespaces if {
	lib.is_system_namespace("kube-system") with data.security_pack.system_namespaces as {"kube-system": "", "*-system": ""}
	lib.system_namespace_pattern("cert-manager-system") == "*-system" with data.security_pack.system_namespaces as {"kube-system": "", "*-system": ""}
	not lib.is_system_namespace("erp-prod") with data.security_pack.system_namespaces as {"kube-system": "", "*-system": ""}
	not lib.is_system_namespace("") with data.security_pack.system_namespaces as {"*": ""}
}

test_capability_names if {
	lib.capability_name("cap_net_admin") == "NET_ADMIN"
	not lib.capability_name(5)
}
