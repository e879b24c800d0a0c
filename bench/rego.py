"""Time Rego rule evaluation per object: one batched query vs one query per rule vs the floor.

    python bench/rego.py [--documents 2000] [--rules 20] [--fallback-objects 500]
                         [--json FILE] [--work DIR] [--no-inprocess]

A synthetic estate is generated (bench/generate_estate.py, seed 1) and loaded with the
checker's own discovery and loader. The policy set is `--rules` conftest-style v1 rules
written by this script (package `main`, `deny_*`/`warn_*` with METADATA ids, helper rules,
a data file, one `exception` rule, rules reading `data.inventory` and the tier data under
`data.gitops_checker`) plus the Gatekeeper fixtures of tests/fixtures/rego/gatekeeper
(templates and constraints, `match`, inventory). Rules are loaded with
`checker.packs.load_rules` and data built as the pipeline does; every phase runs over the
same objects:

- floor: the worker, `x := 1` with the input the batched query sends: process hop,
  pickling and JSON in/out, the least any per-object query can cost;
- hop: the worker, `x := 1` with input `{}` (pipe round trip and a bare OPA eval);
- batched: `RegoChecker.check` on a `WorkerEngine`, the product path: one query per object,
  always the same text (built at `start()`), evaluating every applicable rule, constraint
  and exception rule, switched on through `input.run`;
- fallback: the product's per-entry path (what `check` does when the batched query fails):
  the same fixed text once per applicable entry, one entry switched on; on an evenly spaced
  sample of `--fallback-objects` objects (0: skip);
- per rule: the naive peer, what a tool asking each rule on its own does: one query per
  applicable rule, exception rule and matching constraint per object, each with a text of
  its own (`result := [x | x := data.main.deny_…]` with the object as input, conftest-style;
  a constraint's template `violation` with `{"review", "parameters"}` as input,
  Gatekeeper-style);
- in-process floor and batched: `InProcessEngine` in this process, no worker.

The engine prepares each distinct query text once, at a cost that grows with the data
loaded (the inventory), and keeps it for the run: the first run of each text is counted
apart as "prepare" and the rest as "steady", and each phase reports how many distinct
texts it used and how many of those were new to the engine. The worker's RSS is read after
each phase. Constraint matching (Python, `spec.match`) is done once before timing and timed
apart; engine load (spawn, compile, data and inventory) is timed on its own. Prints a
Markdown table; `--json FILE` writes the numbers.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from checker.config import DEFAULT_RULE_TIMEOUT, Config
from checker.discover import discover
from checker.load import load
from checker.model import Manifest, RuleInfo
from checker.packs import RuleSources, load_rules
from checker.pyrules import Estate
from checker.rego.engine import InProcessEngine, RegoEngine
from checker.rego.evaluate import RegoChecker, RegoPolicies
from checker.rego.gatekeeper import inventory as gatekeeper_inventory
from checker.rego.gatekeeper import review
from checker.rego.worker import WorkerEngine
from checker.secrets import masked
from checker.tiers import TierResolver, rego_data

GATEKEEPER_FIXTURES = REPO / "tests" / "fixtures" / "rego" / "gatekeeper"

# --------------------------------------------------------------------------- policies

LIB = """\
package main

import rego.v1

workload_kinds := {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"}

pod_spec := input.spec.template.spec if input.kind in workload_kinds

pod_spec := input.spec.jobTemplate.spec.template.spec if input.kind == "CronJob"

pod_pointer := "/spec/template/spec" if input.kind in workload_kinds

pod_pointer := "/spec/jobTemplate/spec/template/spec" if input.kind == "CronJob"

# [pointer, container] for every container and init container of a workload.
containers contains [sprintf("%s/containers/%d", [pod_pointer, i]), c] if {
	some i, c in pod_spec.containers
}

containers contains [sprintf("%s/initContainers/%d", [pod_pointer, i]), c] if {
	some i, c in pod_spec.initContainers
}

namespace_tier(ns) := data.gitops_checker.tiers.namespaces[ns]

namespace_tier(ns) := data.gitops_checker.tiers.default if {
	not data.gitops_checker.tiers.namespaces[ns]
}

requirement(ns, name) := data.gitops_checker.requirements[namespace_tier(ns)][name]

trusted_image(image) if {
	some registry in data.bench.allowed_registries
	startswith(image, registry)
}

unpinned(image) if endswith(image, ":latest")

unpinned(image) if not contains(image, ":")

exception contains rules if {
	input.kind in {"Deployment", "StatefulSet"}
	input.metadata.annotations["bench.gitops-checker.io/no-probes"] == "true"
	rules := ["missing_probes"]
}
"""

DATA = """\
bench:
  allowed_registries:
    - registry.acme-finance.example/
    - ghcr.io/cloudnative-pg/
    - docker.io/traefik
  required_labels:
    - app.kubernetes.io/name
    - app.kubernetes.io/part-of
    - team
  max_configmap_bytes: 262144
"""

# (rule stem, kind of rule, severity, category, title, body). `NAME` is replaced by the rule
# name; bodies are Rego v1 rule bodies producing `result`.
RULES: tuple[tuple[str, str, str, str, str, str], ...] = (
    ("unpinned_image", "deny", "high", "supply-chain", "Images are pinned to a tag", """
	some [ptr, c] in containers
	unpinned(c.image)
	result := {"msg": sprintf("%s %s: container %s uses %s without a pinned tag",
		[input.kind, input.metadata.name, c.name, c.image]), "pointer": concat("", [ptr, "/image"])}
"""),
    ("missing_limits", "deny", "high", "resources", "Containers have CPU and memory limits", """
	some [ptr, c] in containers
	some res in ["cpu", "memory"]
	not c.resources.limits[res]
	result := {"msg": sprintf("%s %s: container %s has no %s limit",
		[input.kind, input.metadata.name, c.name, res]), "pointer": concat("", [ptr, "/resources"])}
"""),
    ("service_selector", "deny", "medium", "availability", "Services select a workload", """
	input.kind == "Service"
	selector := input.spec.selector
	count(selector) > 0
	ns := input.metadata.namespace
	not selects_workload(ns, selector)
	result := {"msg": sprintf("Service %s selects no workload in %s", [input.metadata.name, ns]),
		"pointer": "/spec/selector"}
}

selects_workload(ns, selector) if {
	some api in ["apps/v1"]
	some kind in ["Deployment", "StatefulSet"]
	some workload in data.inventory.namespace[ns][api][kind]
	labels := workload.spec.template.metadata.labels
	every key, value in selector {
		labels[key] == value
	}
"""),
    ("missing_requests", "deny", "medium", "resources", "Containers request CPU and memory",
     """
	some [ptr, c] in containers
	some res in ["cpu", "memory"]
	not c.resources.requests[res]
	result := {"msg": sprintf("%s %s: container %s requests no %s",
		[input.kind, input.metadata.name, c.name, res]), "pointer": concat("", [ptr, "/resources"])}
"""),
    ("privileged", "deny", "critical", "security", "Containers are not privileged", """
	some [ptr, c] in containers
	c.securityContext.privileged == true
	result := {"msg": sprintf("%s %s: container %s is privileged", [input.kind,
		input.metadata.name, c.name]), "pointer": concat("", [ptr, "/securityContext/privileged"])}
"""),
    ("tier_min_replicas", "deny", "high", "availability",
     "Deployments run the replicas their tier requires", """
	input.kind == "Deployment"
	minimum := requirement(input.metadata.namespace, "min_replicas")
	input.spec.replicas < minimum
	result := {"msg": sprintf("Deployment %s runs %v replica(s); its tier (%s) requires %d",
		[input.metadata.name, input.spec.replicas, namespace_tier(input.metadata.namespace),
		minimum]), "pointer": "/spec/replicas"}
"""),
    ("required_labels", "deny", "medium", "ownership", "Objects carry the platform labels", """
	input.kind in {"Deployment", "StatefulSet", "CronJob", "Service", "ConfigMap"}
	some label in data.bench.required_labels
	not input.metadata.labels[label]
	result := {"msg": sprintf("%s %s has no label %s", [input.kind, input.metadata.name, label]),
		"pointer": "/metadata/labels"}
"""),
    ("privilege_escalation", "deny", "high", "security", "Containers cannot escalate", """
	some [ptr, c] in containers
	not c.securityContext.allowPrivilegeEscalation == false
	result := {"msg": sprintf("%s %s: container %s may escalate privileges",
		[input.kind, input.metadata.name, c.name]), "pointer": concat("", [ptr, "/securityContext"])}
"""),
    ("untrusted_registry", "deny", "high", "supply-chain", "Images come from trusted registries",
     """
	some [ptr, c] in containers
	not trusted_image(c.image)
	result := {"msg": sprintf("%s %s: image %s is not from a trusted registry",
		[input.kind, input.metadata.name, c.image]), "pointer": concat("", [ptr, "/image"])}
"""),
    ("service_exposure", "deny", "high", "network", "External Services are approved", """
	input.kind == "Service"
	input.spec.type in {"NodePort", "LoadBalancer"}
	not input.metadata.annotations["finance.acme/exposure-approved"]
	result := {"msg": sprintf("Service %s is exposed as %s without approval",
		[input.metadata.name, input.spec.type]), "pointer": "/spec/type"}
"""),
    ("configmap_secret_keys", "deny", "high", "secrets", "ConfigMaps hold no secrets", """
	input.kind == "ConfigMap"
	some key, _ in input.data
	regex.match(`(?i)(password|passwd|secret|token|api_?key)`, key)
	result := {"msg": sprintf("ConfigMap %s has key %s, which belongs in a Secret",
		[input.metadata.name, key]), "pointer": sprintf("/data/%s", [key])}
"""),
    ("run_as_root", "deny", "high", "security", "Containers run as a non-root user", """
	some [ptr, c] in containers
	not pod_spec.securityContext.runAsNonRoot
	not c.securityContext.runAsNonRoot
	result := {"msg": sprintf("%s %s: container %s may run as root",
		[input.kind, input.metadata.name, c.name]), "pointer": concat("", [ptr, "/securityContext"])}
"""),
    ("missing_probes", "deny", "medium", "availability", "Long-running containers have probes",
     """
	input.kind in {"Deployment", "StatefulSet"}
	some i, c in pod_spec.containers
	some probe in ["readinessProbe", "livenessProbe"]
	not c[probe]
	result := {"msg": sprintf("%s %s: container %s has no %s",
		[input.kind, input.metadata.name, c.name, probe]),
		"pointer": sprintf("%s/containers/%d", [pod_pointer, i])}
"""),
    ("host_namespaces", "deny", "critical", "security", "Pods do not share host namespaces",
     """
	some field in ["hostNetwork", "hostPID", "hostIPC"]
	pod_spec[field] == true
	result := {"msg": sprintf("%s %s uses %s", [input.kind, input.metadata.name, field]),
		"pointer": concat("/", [pod_pointer, field])}
"""),
    ("configmap_inline_credentials", "deny", "high", "secrets",
     "ConfigMap values embed no credentials", """
	input.kind == "ConfigMap"
	some key, value in input.data
	regex.match(`(?i)(password|passwd|pwd)\\s*[:=]\\s*[^\\s$]{4,}`, value)
	result := {"msg": sprintf("ConfigMap %s: %s looks like it embeds a password",
		[input.metadata.name, key]), "pointer": sprintf("/data/%s", [key])}
"""),
    ("drop_all_capabilities", "warn", "medium", "security", "Containers drop all capabilities",
     """
	some [ptr, c] in containers
	not "ALL" in object.get(c, ["securityContext", "capabilities", "drop"], [])
	result := {"msg": sprintf("%s %s: container %s does not drop ALL capabilities",
		[input.kind, input.metadata.name, c.name]), "pointer": concat("", [ptr, "/securityContext"])}
"""),
    ("ingress_tls", "deny", "high", "tls", "Ingresses terminate TLS", """
	input.kind == "Ingress"
	count(object.get(input.spec, "tls", [])) == 0
	result := {"msg": sprintf("Ingress %s has no TLS", [input.metadata.name]), "pointer": "/spec"}
"""),
    ("literal_secret_env", "deny", "high", "secrets", "Secrets are not set as literal env values",
     """
	some [ptr, c] in containers
	some i, e in c.env
	regex.match(`(?i)(password|token|secret)`, e.name)
	is_string(e.value)
	result := {"msg": sprintf("%s %s: container %s sets %s literally",
		[input.kind, input.metadata.name, c.name, e.name]),
		"pointer": sprintf("%s/env/%d/value", [ptr, i])}
"""),
    ("owner_annotation", "warn", "low", "ownership", "Objects name an owner", """
	input.kind in {"Deployment", "StatefulSet", "CronJob", "Service", "ConfigMap", "Ingress"}
	not input.metadata.annotations["finance.acme/owner"]
	result := {"msg": sprintf("%s %s has no finance.acme/owner annotation",
		[input.kind, input.metadata.name]), "pointer": "/metadata/annotations"}
"""),
    ("cluster_admin_binding", "deny", "critical", "rbac", "Nothing is bound to cluster-admin",
     """
	input.kind in {"ClusterRoleBinding", "RoleBinding"}
	input.roleRef.name == "cluster-admin"
	result := {"msg": sprintf("%s %s grants cluster-admin", [input.kind, input.metadata.name]),
		"pointer": "/roleRef/name"}
"""),
    ("readonly_root_filesystem", "warn", "low", "security",
     "Containers have a read-only root filesystem", """
	some [ptr, c] in containers
	not c.securityContext.readOnlyRootFilesystem == true
	result := {"msg": sprintf("%s %s: container %s has a writable root filesystem",
		[input.kind, input.metadata.name, c.name]), "pointer": concat("", [ptr, "/securityContext"])}
"""),
    ("host_path_volumes", "deny", "high", "security", "Pods mount no host paths", """
	some i, v in pod_spec.volumes
	v.hostPath
	result := {"msg": sprintf("%s %s mounts host path %s", [input.kind, input.metadata.name,
		v.hostPath.path]), "pointer": sprintf("%s/volumes/%d", [pod_pointer, i])}
"""),
    ("configmap_size", "deny", "medium", "resources", "ConfigMaps stay small", """
	input.kind == "ConfigMap"
	size := sum([count(v) | some v in input.data])
	size > data.bench.max_configmap_bytes
	result := {"msg": sprintf("ConfigMap %s holds %d bytes", [input.metadata.name, size]),
		"pointer": "/data"}
"""),
    ("tier_pdb", "deny", "medium", "availability",
     "Deployments have a PodDisruptionBudget where their tier requires one", """
	input.kind == "Deployment"
	ns := input.metadata.namespace
	requirement(ns, "require_pdb") == true
	labels := input.spec.template.metadata.labels
	not covered_by_pdb(ns, labels)
	result := {"msg": sprintf("Deployment %s has no PodDisruptionBudget", [input.metadata.name]),
		"pointer": "/spec/template/metadata/labels"}
}

covered_by_pdb(ns, labels) if {
	some pdb in data.inventory.namespace[ns]["policy/v1"].PodDisruptionBudget
	every key, value in pdb.spec.selector.matchLabels {
		labels[key] == value
	}
"""),
)


def rule_source(index: int) -> str:
    """The module of rule `index`; past the pool, the pool's rules again under new names."""
    stem, kind, severity, category, title, body = RULES[index % len(RULES)]
    copy = index // len(RULES)
    name = f"{kind}_{stem}" if copy == 0 else f"{kind}_{stem}_{copy + 1}"
    if copy:
        title = f"{title} (copy {copy + 1})"
    header = textwrap.dedent(f"""\
        package main

        import rego.v1

        # METADATA
        # title: {title}
        # custom:
        #   id: BENCH{index + 1:03d}
        #   severity: {severity}
        #   category: {category}
        {name} contains result if {{""")
    return f"{header}{body.rstrip()}\n}}\n"


def write_policies(directory: Path, count: int) -> None:
    """`count` rules, the helper module and the data file, as a conftest policy directory."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "lib.rego").write_text(LIB, encoding="utf-8")
    (directory / "data.yaml").write_text(DATA, encoding="utf-8")
    for index in range(count):
        (directory / f"rule_{index + 1:03d}.rego").write_text(rule_source(index),
                                                              encoding="utf-8")


# --------------------------------------------------------------------------- private names


class Private:
    """Everything this bench needs from the checker's private names, in one place.

    Public API covers the rest (`RegoChecker.start`/`check`, the policies, `review`,
    `rego_data`). These four are not public because nothing but the pipeline needs them;
    when they change, this class is what to fix.
    """

    @staticmethod
    def matching_constraints(constraints: Sequence[Any], manifest: Manifest,
                             namespaces: Mapping[str, Mapping[str, Any]]) -> list[int]:
        """The constraints whose `spec.match` selects the object, as the pipeline finds
        them (`checker.pipeline._matching_constraints`)."""
        from checker.pipeline import _matching_constraints

        matched, errors = _matching_constraints(constraints, manifest, namespaces)
        if errors:
            raise SystemExit(f"constraint matching failed: {errors[0]}")
        return matched

    @staticmethod
    def entries(checker: RegoChecker, matched: Sequence[int]) -> list[Any]:
        """The entries `RegoChecker.check` switches on for an object: every conftest rule,
        the matching constraints, the exception rules (`_rules`, `_constraints`,
        `_exceptions`, set by `start()`)."""
        return [*checker._rules, *(checker._constraints[i] for i in matched
                                   if i in checker._constraints), *checker._exceptions]

    @staticmethod
    def ask_one(checker: RegoChecker, entry: Any, payload: Mapping[str, Any]) -> int:
        """The per-entry fallback of `RegoChecker.check` (`_ask([entry], payload)`: the
        run's fixed query text with one entry switched on); the number of findings."""
        from checker.rego.evaluate import _EXCEPTION_INFO

        answers = checker._ask([entry], payload)
        if entry.rule is _EXCEPTION_INFO:
            return 0
        return Private.violations(answers.get(entry.key, []), entry.rule)

    @staticmethod
    def violations(value: Any, rule: RuleInfo) -> int:
        """How many findings an answer holds, read as `RegoChecker` reads it
        (`checker.rego.evaluate._violations`)."""
        from checker.rego.evaluate import _violations

        return sum(1 for _ in _violations(value, rule))


# --------------------------------------------------------------------------- measuring


class TimedEngine:
    """A `RegoEngine` that adds up the time spent inside `query`, and apart from it the
    time of each query text's first run (when the engine prepares it); it also records the
    distinct texts asked since `reset()`."""

    def __init__(self, engine: RegoEngine) -> None:
        self.engine = engine
        self.seen: set[str] = set()
        self.reset()

    def reset(self) -> None:
        self.seconds = self.prepare_seconds = 0.0
        self.queries = self.prepares = 0
        self.used: set[str] = set()

    def load(self, modules: Mapping[str, str], data: Mapping[str, Any]) -> Any:
        self.seen.clear()
        return self.engine.load(modules, data)

    def query(self, query: str, input: Any, timeout: float | None = None) -> Any:
        started = time.perf_counter()
        try:
            return self.engine.query(query, input, timeout)
        finally:
            took = time.perf_counter() - started
            self.seconds += took
            self.queries += 1
            self.used.add(query)
            if query not in self.seen:
                self.seen.add(query)
                self.prepares += 1
                self.prepare_seconds += took

    def close(self) -> None:
        self.engine.close()


@dataclass
class Phase:
    name: str
    what: str
    seconds: float
    queries: int
    objects: int
    texts: int
    prepares: int
    prepare_seconds: float
    engine_seconds: float
    findings: int | None = None
    worker_rss_mb: float | None = None

    @property
    def steady_seconds(self) -> float:
        return self.seconds - self.prepare_seconds

    @property
    def ms_per_object(self) -> float:
        return self.seconds * 1000 / self.objects

    @property
    def steady_ms_per_object(self) -> float:
        return self.steady_seconds * 1000 / self.objects

    @property
    def steady_us_per_query(self) -> float:
        steady = self.queries - self.prepares
        return self.steady_seconds * 1e6 / steady if steady else 0.0


@dataclass
class Run:
    documents: int
    objects: int
    rules: int
    constraints: int
    exception_rules: int
    entries_per_object: float
    objects_with_constraints: int
    batched_query_texts: int
    payload_bytes_mean: float
    inventory_bytes: int
    match_seconds: float
    worker_load_seconds: float
    inprocess_load_seconds: float | None
    fallback_objects: int
    fallback_batched_ms_per_object: float | None = None
    phases: list[Phase] = field(default_factory=list)
    rss_mb: dict[str, float] = field(default_factory=dict)


class CaptureEngine:
    """A `RegoEngine` that answers nothing and records what it is asked."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, Any]] = []

    def load(self, modules: Mapping[str, str], data: Mapping[str, Any]) -> list[Any]:
        return []

    def query(self, query: str, input: Any, timeout: float | None = None) -> list[Any]:
        self.asked.append((query, input))
        return []

    def close(self) -> None:
        pass


def batched_inputs(policies: RegoPolicies, manifests: Sequence[Manifest],
                   indexes: Sequence[Sequence[int]], inventory: Mapping[str, Any],
                   tier_data: Mapping[str, Any]) -> tuple[list[Any], int]:
    """The input `RegoChecker.check` sends for each object, exactly as it builds it, and
    how many distinct query texts it uses."""
    capture = CaptureEngine()
    checker = RegoChecker(capture, policies, timeout=DEFAULT_RULE_TIMEOUT)
    checker.start(inventory, tier_data)
    for manifest, matched in zip(manifests, indexes):
        before = len(capture.asked)
        checker.check(manifest, matched)
        if len(capture.asked) != before + 1:
            raise SystemExit("RegoChecker no longer sends one query per object")
    return [i for _, i in capture.asked], len({q for q, _ in capture.asked})


def _phase(name: str, what: str, engine: TimedEngine, started: float, objects: int,
           findings: int | None = None) -> Phase:
    return Phase(name, what, time.perf_counter() - started, engine.queries, objects,
                 len(engine.used), engine.prepares, engine.prepare_seconds, engine.seconds,
                 findings)


def batched(name: str, what: str, engine: TimedEngine, checker: RegoChecker,
            manifests: Sequence[Manifest], indexes: Sequence[Sequence[int]]
            ) -> tuple[Phase, list[float], list[int]]:
    """The product path: `RegoChecker.check` on every object; also each object's time and
    findings."""
    engine.reset()
    times, findings = [], []
    started = time.perf_counter()
    for manifest, matched in zip(manifests, indexes):
        begun = time.perf_counter()
        outcomes, errors = checker.check(manifest, matched)
        times.append(time.perf_counter() - begun)
        if errors:
            raise SystemExit(f"{name}: {errors[0]}")
        findings.append(len(outcomes))
    return _phase(name, what, engine, started, len(manifests), sum(findings)), times, findings


def fallback(engine: TimedEngine, checker: RegoChecker, sample: Sequence[int],
             indexes: Sequence[Sequence[int]], payloads: Sequence[Any]) -> Phase:
    """The product's per-entry path on the sampled objects: every applicable entry asked
    on its own through the run's fixed query text."""
    engine.reset()
    findings = 0
    started = time.perf_counter()
    for i in sample:
        for entry in Private.entries(checker, indexes[i]):
            findings += Private.ask_one(checker, entry, payloads[i])
    return _phase("fallback", "worker, `RegoChecker` per-entry path (fixed text, one entry "
                  "on)", engine, started, len(sample), findings)


def per_rule_queries(policies: RegoPolicies) -> tuple[list[tuple[str, RuleInfo]], list[str],
                                                      list[tuple[str, RuleInfo, Any]]]:
    """The naive peer's query texts, one per rule: conftest rules and exception rules
    (asked with the object as input), constraints (with `review` and `parameters`)."""
    def text(ref: str) -> str:
        return f"result := [x | x := {ref}]"

    rules = [(text(rule.ref), rule.info) for rule in policies.rules]
    exceptions = [text(f"data.{package}.exception")
                  for package in sorted(policies.exception_packages)]
    constraints = [(text(c.ref), c.info, c.parameters if c.parameters is not None else {})
                   for c in policies.constraints]
    return rules, exceptions, constraints


def per_rule(engine: TimedEngine, policies: RegoPolicies, indexes: Sequence[Sequence[int]],
             payloads: Sequence[Any]) -> Phase:
    """One query per applicable rule, exception rule and matching constraint per object,
    each rule with a query text of its own; each query gets only the input its rule reads
    (the object; `review` with the object and the constraint's parameters)."""
    rules, exceptions, constraints = per_rule_queries(policies)

    def ask(query: str, input: Any) -> Any:
        rows = engine.query(query, input, DEFAULT_RULE_TIMEOUT)
        return rows[0]["result"] if rows else []

    engine.reset()
    findings = 0
    started = time.perf_counter()
    for matched, payload in zip(indexes, payloads):
        obj = payload["object"]
        for query, info in rules:
            findings += Private.violations(ask(query, obj), info)
        for query in exceptions:
            ask(query, obj)
        if matched:
            rv = {**payload["review"], "object": obj}
            for index in matched:
                query, info, parameters = constraints[index]
                findings += Private.violations(
                    ask(query, {"review": rv, "parameters": parameters}), info)
    return _phase("per rule", "worker, one query (and text) per rule per object", engine,
                  started, len(payloads), findings)


def trivial(name: str, what: str, engine: TimedEngine, payloads: Sequence[Any]) -> Phase:
    """`x := 1` once per object with the given inputs."""
    engine.reset()
    started = time.perf_counter()
    for payload in payloads:
        engine.query("x := 1", payload, DEFAULT_RULE_TIMEOUT)
    return _phase(name, what, engine, started, len(payloads))


def rss_mb(pid: int | None = None, key: str = "VmRSS") -> float:
    """Current (VmRSS) or peak (VmHWM) RSS of a process from /proc (Linux)."""
    try:
        for line in Path(f"/proc/{pid or 'self'}/status").read_text().splitlines():
            if line.startswith(f"{key}:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 if pid is None \
        else float("nan")


# --------------------------------------------------------------------------- run


def prepare(documents: int, rules: int, work: Path) -> tuple[list[Manifest], RegoPolicies]:
    """Generate and load the estate; write and load the policies."""
    estate = work / f"estate-{documents}"
    subprocess.run([sys.executable, str(HERE / "generate_estate.py"), "--documents",
                    str(documents), "--out", str(estate)], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    candidates, _ = discover([str(estate)], estate)
    loaded = load(candidates)
    if loaded.errors:
        raise SystemExit(f"estate does not load: {loaded.errors[0]}")
    policy_dir = work / f"policy-{rules}"
    write_policies(policy_dir, rules)
    ruleset = load_rules(RuleSources(policy_dirs=[policy_dir, GATEKEEPER_FIXTURES],
                                     bundled=False, entry_points=False),
                         root=work, estate=loaded.manifests)
    if ruleset.errors:
        raise SystemExit("policies do not load:\n" + "\n".join(map(str, ruleset.errors)))
    if len(ruleset.rego.rules) != rules:
        raise SystemExit(f"expected {rules} rules, loaded {len(ruleset.rego.rules)}")
    return loaded.manifests, ruleset.rego


def measure(documents: int, rules: int, work: Path, inprocess: bool,
            fallback_objects: int) -> Run:
    manifests, policies = prepare(documents, rules, work)
    inventory = gatekeeper_inventory(manifests)
    estate = Estate(manifests)
    names = {m.resource.namespace for m in manifests if m.resource.namespace}
    tier_data = rego_data(TierResolver(Config().tiers, estate.namespaces),
                          names | set(estate.namespaces))
    namespaces = {name: m.obj for name, m in estate.namespaces.items()}
    started = time.perf_counter()
    indexes = [Private.matching_constraints(policies.constraints, manifest, namespaces)
               for manifest in manifests]
    match_seconds = time.perf_counter() - started
    payloads, texts = batched_inputs(policies, manifests, indexes, inventory, tier_data)
    # The per-entry fallback and the per-rule peer need the object and its review apart,
    # whichever of its two texts the product used for the object.
    wrapped = [{"object": masked(m.obj), "review": review(m)} for m in manifests]
    objects = len(manifests)
    step = max(1, objects // fallback_objects) if fallback_objects > 0 else 0
    sample = list(range(0, objects, step))[:fallback_objects] if step else []

    before = {p.pid for p in multiprocessing.active_children()}
    worker = WorkerEngine(default_timeout=DEFAULT_RULE_TIMEOUT)
    engine = TimedEngine(worker)
    checker = RegoChecker(engine, policies, timeout=DEFAULT_RULE_TIMEOUT)
    started = time.perf_counter()
    problems = checker.start(inventory, tier_data)
    worker_load = time.perf_counter() - started
    if problems:
        raise SystemExit(f"policies do not compile: {problems[0]}")
    spawned = [p.pid for p in multiprocessing.active_children() if p.pid not in before]
    pid = spawned[0] if len(spawned) == 1 else None  # the worker, for its RSS
    exception_rules = len(policies.exception_packages)
    entries = len(policies.rules) + exception_rules + sum(map(len, indexes)) / objects
    run = Run(
        documents=documents, objects=objects, rules=len(policies.rules),
        constraints=len(policies.constraints), exception_rules=exception_rules,
        entries_per_object=round(entries, 2),
        objects_with_constraints=sum(1 for i in indexes if i), batched_query_texts=texts,
        payload_bytes_mean=round(sum(len(json.dumps(p)) for p in payloads) / len(payloads)),
        inventory_bytes=len(json.dumps(inventory)), match_seconds=match_seconds,
        worker_load_seconds=worker_load, inprocess_load_seconds=None,
        fallback_objects=len(sample))

    def worker_rss(key: str = "VmRSS") -> float:
        return rss_mb(pid, key) if pid is not None else float("nan")

    def add(phase: Phase) -> None:
        phase.worker_rss_mb = worker_rss()
        run.phases.append(phase)

    try:
        run.rss_mb["worker after load"] = worker_rss()
        add(trivial("floor", "worker, `x := 1`, same input", engine, payloads))
        add(trivial("hop", "worker, `x := 1`, input `{}`", engine, [{}] * len(payloads)))
        phase, times, findings = batched("batched", "worker, `RegoChecker.check` (product "
                                         "path)", engine, checker, manifests, indexes)
        add(phase)
        run.rss_mb["worker peak after batched"] = worker_rss("VmHWM")
        if sample:
            phase = fallback(engine, checker, sample, indexes, wrapped)
            expected = sum(findings[i] for i in sample)
            if phase.findings != expected:
                print(f"warning: fallback found {phase.findings} findings on the sample, "
                      f"batched {expected}", file=sys.stderr)
            add(phase)
            # first object is in the sample and paid the prepare: compare steady times
            run.fallback_batched_ms_per_object = 1000 * sum(times[i] for i in sample[1:]) / max(
                1, len(sample) - 1)
            run.rss_mb["worker peak after fallback"] = worker_rss("VmHWM")
        add(per_rule(engine, policies, indexes, wrapped))
        run.rss_mb["worker peak after per rule"] = worker_rss("VmHWM")
        if run.phases[-1].findings != phase_named(run, "batched").findings:
            print(f"warning: per rule found {run.phases[-1].findings} findings, batched "
                  f"{phase_named(run, 'batched').findings}", file=sys.stderr)
    finally:
        engine.close()
    run.rss_mb["parent peak"] = rss_mb(None, "VmHWM")

    if inprocess:
        local = TimedEngine(InProcessEngine())
        local_checker = RegoChecker(local, policies, timeout=DEFAULT_RULE_TIMEOUT)
        started = time.perf_counter()
        local_checker.start(inventory, tier_data)
        run.inprocess_load_seconds = time.perf_counter() - started
        try:
            run.phases.append(trivial("in-process floor", "`InProcessEngine`, `x := 1`, same "
                                      "input", local, payloads))
            run.phases.append(batched("in-process batched", "`InProcessEngine`, "
                                      "`RegoChecker.check`", local, local_checker, manifests,
                                      indexes)[0])
        finally:
            local.close()
        run.rss_mb["parent peak after in-process"] = rss_mb(None, "VmHWM")
    return run


def phase_named(run: Run, name: str) -> Phase:
    return next(p for p in run.phases if p.name == name)


def report(run: Run) -> str:
    """The run as text: context lines, a Markdown table, the ratios."""
    by_name = {p.name: p for p in run.phases}
    floor, batch, naive = by_name["floor"], by_name["batched"], by_name["per rule"]
    lines = [
        (f"{run.documents:,} documents → {run.objects:,} objects; {run.rules} conftest rules"
         f" + {run.constraints} Gatekeeper constraints + {run.exception_rules} exception "
         f"rule(s); {run.entries_per_object:g} rule evaluations per object on average "
         f"({run.objects_with_constraints:,} objects matched by a constraint; "
         f"{run.batched_query_texts} distinct batched query text(s))"),
        (f"input per object {run.payload_bytes_mean:,.0f} B of JSON (mean, batched payload); "
         f"inventory {run.inventory_bytes / 1e6:.1f} MB of JSON"),
        f"load (spawn + compile + data + inventory): worker {run.worker_load_seconds:.2f} s"
        + (f", in-process {run.inprocess_load_seconds:.2f} s"
           if run.inprocess_load_seconds is not None else ""),
        f"constraint matching (Python, once per object): {run.match_seconds:.2f} s",
        "RSS: " + ", ".join(f"{k} {v:,.0f} MB" for k, v in run.rss_mb.items()),
        "",
        ("| phase | what | objects | queries | texts (new) | prepare s | total s | ms/object "
         "| steady ms/object | steady µs/query | steady ÷ floor | findings | worker RSS MB |"),
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for p in run.phases:
        lines.append(
            f"| {p.name} | {p.what} | {p.objects:,} | {p.queries:,} | {p.texts} "
            f"({p.prepares}) | {p.prepare_seconds:.2f} | {p.seconds:.2f} | "
            f"{p.ms_per_object:.3f} | {p.steady_ms_per_object:.3f} | "
            f"{p.steady_us_per_query:.0f} | "
            f"{p.steady_ms_per_object / floor.steady_ms_per_object:.2f}× | "
            f"{'' if p.findings is None else f'{p.findings:,}'} | "
            f"{'' if p.worker_rss_mb is None else f'{p.worker_rss_mb:,.0f}'} |")
    lines += [
        "",
        (f"batched ÷ floor (steady): {batch.steady_seconds / floor.steady_seconds:.2f}×; "
         f"per rule ÷ batched: {naive.seconds / batch.seconds:.2f}× total, "
         f"{naive.steady_seconds / batch.steady_seconds:.2f}× steady"),
        (f"batched: {batch.engine_seconds / batch.seconds:.0%} of the time inside engine.query "
         f"({batch.prepare_seconds / batch.seconds:.0%} preparing new query texts), the rest "
         "in RegoChecker (Python)"),
        (f"prepare per new text: batched {batch.prepare_seconds / max(1, batch.prepares):.2f}"
         f" s, per rule {naive.prepare_seconds / max(1, naive.prepares):.2f} s"),
    ]
    if "fallback" in by_name and run.fallback_batched_ms_per_object:
        back = by_name["fallback"]
        lines.append(
            f"fallback on {back.objects:,} objects: {back.steady_ms_per_object:.2f} ms/object "
            f"steady, {back.prepares} new text(s); batched on the same objects "
            f"{run.fallback_batched_ms_per_object:.2f} ms/object "
            f"({back.steady_ms_per_object / run.fallback_batched_ms_per_object:.1f}×)")
    if "in-process batched" in by_name:
        local, local_floor = by_name["in-process batched"], by_name["in-process floor"]
        lines.append(
            f"worker ÷ in-process (steady): batched "
            f"{batch.steady_seconds / local.steady_seconds:.2f}×, floor "
            f"{floor.steady_seconds / local_floor.steady_seconds:.2f}×")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=2000)
    parser.add_argument("--rules", type=int, default=20,
                        help=f"conftest rules ({len(RULES)} distinct; more repeat them)")
    parser.add_argument("--fallback-objects", type=int, default=500,
                        help="objects (evenly spaced) for the fallback phase; 0 skips it")
    parser.add_argument("--no-inprocess", action="store_true",
                        help="skip the in-process (no worker) phases")
    parser.add_argument("--work", type=Path, default=None,
                        help="where to generate the estate and policies (default: a "
                        "temporary directory, removed at the end)")
    parser.add_argument("--json", type=Path, default=None, help="write the numbers here")
    args = parser.parse_args()
    if args.documents < 1 or args.rules < 1 or args.fallback_objects < 0:
        parser.error("--documents and --rules must be at least 1, --fallback-objects at "
                     "least 0")
    started = time.perf_counter()
    options = (not args.no_inprocess, args.fallback_objects)
    if args.work is not None:
        run = measure(args.documents, args.rules, args.work, *options)
    else:
        with tempfile.TemporaryDirectory(prefix="gitops-bench-rego-") as work:
            run = measure(args.documents, args.rules, Path(work), *options)
    print(report(run))
    print(f"\n(bench wall time {time.perf_counter() - started:.0f} s, {os.cpu_count()} CPUs, "
          f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())})")
    if args.json is not None:
        data = asdict(run)
        for phase, raw in zip(run.phases, data["phases"]):
            for name in ("steady_seconds", "ms_per_object", "steady_ms_per_object",
                         "steady_us_per_query"):
                raw[name] = getattr(phase, name)
        args.json.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
