"""Rego v0 -> v1 conversion, checked end to end: convert, load into the real OPA, evaluate.

The policies below are written for these tests in the styles of the Gatekeeper policy
library (violation sets, helper functions, `else` chains, inventory lookups) and of conftest
(`deny`/`warn`/`exception`, shared `data.lib` packages).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from opa_bindings import OpaEngine, OpaError

from checker.rego.convert import RegoConversionError, is_v1, to_v1

Modules = dict[str, str]


def _load(modules: Modules, data: dict[str, Any] | None = None) -> OpaEngine:
    engine = OpaEngine()
    for path, source in modules.items():
        converted = to_v1(source, path)
        assert converted.count("\n") == source.count("\n"), f"{path}: line count changed"
        engine.add_policy(path, converted)
    if data:
        engine.add_data(data)
    return engine


@pytest.fixture
def load() -> Iterator[Any]:
    engines: list[OpaEngine] = []

    def make(modules: Modules, data: dict[str, Any] | None = None) -> OpaEngine:
        engines.append(_load(modules, data))
        return engines[-1]

    yield make
    for engine in engines:
        engine.close()


def value(engine: OpaEngine, ref: str, input: Any = None) -> Any:
    """The value of `ref`, or None when it is undefined."""
    rows = engine.eval_query(f"x := {ref}", input)
    return rows[0]["x"] if rows else None


def messages(engine: OpaEngine, ref: str, input: Any = None) -> set[str]:
    """The messages of a set of strings or of `{"msg": ...}` objects."""
    result = value(engine, ref, input) or []
    return {item["msg"] if isinstance(item, dict) else item for item in result}


# -- Gatekeeper style ------------------------------------------------------------------------

REQUIRED_LABELS = """\
package k8srequiredlabels

message_for(params, fallback) = msg {
  not params.message
  msg := fallback
}

message_for(params, fallback) = msg {
  msg := params.message
}

violation[{"msg": msg, "details": {"missing_labels": missing}}] {
  present := {key | input.review.object.metadata.labels[key]}
  wanted := {key | key := input.parameters.labels[_].key}
  missing := wanted - present
  count(missing) > 0
  msg := message_for(input.parameters, sprintf("missing labels: %v", [missing]))
}

violation[{"msg": msg}] {
  val := input.review.object.metadata.labels[key]
  rule := input.parameters.labels[_]
  rule.key == key
  rule.allowedRegex != ""
  not re_match(rule.allowedRegex, val)
  msg := sprintf("label %v=%v does not match %v", [key, val, rule.allowedRegex])
}
"""


def _review(labels: dict[str, str]) -> dict[str, Any]:
    return {"object": {"kind": "Namespace", "metadata": {"name": "ns", "labels": labels}}}


@pytest.mark.parametrize(
    ("labels", "params", "expected"),
    [
        ({"owner": "team-a"}, {"labels": [{"key": "owner"}]}, set()),
        ({}, {"labels": [{"key": "owner"}]}, {'missing labels: {"owner"}'}),
        ({}, {"labels": [{"key": "owner"}], "message": "add an owner"}, {"add an owner"}),
        (
            {"owner": "Bob"},
            {"labels": [{"key": "owner", "allowedRegex": "^[a-z]+$"}]},
            {"label owner=Bob does not match ^[a-z]+$"},
        ),
    ],
)
def test_gatekeeper_required_labels(
    load: Any, labels: dict[str, str], params: dict[str, Any], expected: set[str]
) -> None:
    engine = load({"required.rego": REQUIRED_LABELS})
    got = messages(engine, "data.k8srequiredlabels.violation",
                   {"review": _review(labels), "parameters": params})
    assert got == expected


CONTAINER_LIMITS = """\
package k8scontainerlimits

missing(obj, field) = true { not obj[field] }
missing(obj, field) = true { obj[field] == "" }

canonify_cpu(orig) = new { is_number(orig); new := orig * 1000 }
canonify_cpu(orig) = new {
  is_string(orig)
  endswith(orig, "m")
  new := to_number(replace(orig, "m", ""))
}
canonify_cpu(orig) = new {
  is_string(orig)
  orig != ""
  not endswith(orig, "m")
  new := to_number(orig) * 1000
}

mem_factor(suffix) = 1024 { suffix == "Ki" }
  else = 1048576 { suffix == "Mi" }
  else = 1073741824 { suffix == "Gi" }
  else = 1

canonify_mem(orig) = new { is_number(orig); new := orig }
canonify_mem(orig) = new {
  not is_number(orig)
  suffix := substring(orig, count(orig) - 2, 2)
  new := to_number(trim_suffix(orig, suffix)) * mem_factor(suffix)
}

input_containers[c] { c := input.review.object.spec.containers[_] }
input_containers[c] { c := input.review.object.spec.initContainers[_] }

violation[{"msg": msg}] {
  c := input_containers[_]
  missing(c.resources.limits, "cpu")
  msg := sprintf("container <%v> has no cpu limit", [c.name])
}

violation[{"msg": msg}] {
  c := input_containers[_]
  cpu := canonify_cpu(c.resources.limits.cpu)
  cpu > canonify_cpu(input.parameters.cpu)
  msg := sprintf("container <%v> cpu limit %v is higher than %v",
    [c.name, c.resources.limits.cpu, input.parameters.cpu])
}

violation[{"msg": msg}] {
  c := input_containers[_]
  mem := canonify_mem(c.resources.limits.memory)
  mem > canonify_mem(input.parameters.memory)
  msg := sprintf("container <%v> memory limit %v is higher than %v",
    [c.name, c.resources.limits.memory, input.parameters.memory])
}
"""


def test_gatekeeper_container_limits(load: Any) -> None:
    engine = load({"limits.rego": CONTAINER_LIMITS})
    pod = {"review": {"object": {"spec": {
        "containers": [
            {"name": "ok", "resources": {"limits": {"cpu": "200m", "memory": "64Mi"}}},
            {"name": "greedy", "resources": {"limits": {"cpu": 2, "memory": "2Gi"}}},
            {"name": "blank", "resources": {"limits": {"cpu": "", "memory": "1Ki"}}},
        ],
        "initContainers": [{"name": "init", "resources": {"limits": {"memory": "1Mi"}}}],
    }}}, "parameters": {"cpu": "1", "memory": "1Gi"}}
    assert messages(engine, "data.k8scontainerlimits.violation", pod) == {
        "container <greedy> cpu limit 2 is higher than 1",
        "container <greedy> memory limit 2Gi is higher than 1Gi",
        "container <blank> has no cpu limit",
        "container <init> has no cpu limit",
    }
    assert value(engine, 'data.k8scontainerlimits.mem_factor("Mi")') == 1048576
    assert value(engine, 'data.k8scontainerlimits.mem_factor("B")') == 1


UNIQUE_HOST = """\
package k8suniqueingresshost

identical(obj, review) {
  obj.metadata.namespace == review.object.metadata.namespace
  obj.metadata.name == review.object.metadata.name
}

violation[{"msg": msg}] {
  input.review.kind.kind == "Ingress"
  host := input.review.object.spec.rules[_].host
  other := data.inventory.namespace[_][_]["Ingress"][_]
  other.spec.rules[_].host == host
  not identical(other, input.review)
  msg := sprintf("ingress host conflicts with an existing ingress <%v>", [host])
}
"""


def test_gatekeeper_inventory_lookup(load: Any) -> None:
    def ingress(ns: str, name: str, host: str) -> dict[str, Any]:
        return {"metadata": {"namespace": ns, "name": name}, "spec": {"rules": [{"host": host}]}}

    inventory = {"inventory": {"namespace": {"prod": {"networking.k8s.io/v1": {"Ingress": {
        "web": ingress("prod", "web", "example.com")}}}}}}
    engine = load({"unique.rego": UNIQUE_HOST}, inventory)
    same = {"review": {"kind": {"kind": "Ingress"}, "object": ingress("prod", "web", "example.com")}}
    other = {"review": {"kind": {"kind": "Ingress"}, "object": ingress("dev", "web", "example.com")}}
    assert messages(engine, "data.k8suniqueingresshost.violation", same) == set()
    assert messages(engine, "data.k8suniqueingresshost.violation", other) == {
        "ingress host conflicts with an existing ingress <example.com>"}


ALLOWED_REPOS_OLD = """\
package k8sallowedrepos

violation[{"msg": msg}] {
  container := input.review.object.spec.containers[_]
  satisfied := [good | repo = input.parameters.repos[_] ; good = startswith(container.image, repo)]
  not any(satisfied)
  msg := sprintf("container <%v> has an invalid image repo <%v>", [container.name, container.image])
}
"""


def test_gatekeeper_deprecated_any_over_a_variable(load: Any) -> None:
    engine = load({"repos.rego": ALLOWED_REPOS_OLD})
    review = {"object": {"spec": {"containers": [
        {"name": "a", "image": "gcr.io/ok/app"}, {"name": "b", "image": "docker.io/evil"}]}}}
    got = messages(engine, "data.k8sallowedrepos.violation",
                   {"review": review, "parameters": {"repos": ["gcr.io/"]}})
    assert got == {"container <b> has an invalid image repo <docker.io/evil>"}


# -- conftest style --------------------------------------------------------------------------

K8S_LIB = """\
package lib.kubernetes

default is_gatekeeper = false

is_deployment {
  input.kind == "Deployment"
}

name = input.metadata.name

containers[container] {
  container := input.spec.template.spec.containers[_]
}

containers[container] {
  container := input.spec.template.spec.initContainers[_]
}

split_image(image) = [image, "latest"] {
  not contains(image, ":")
}

split_image(image) = [name, tag] {
  [name, tag] = split(image, ":")
}
"""

CONFTEST_MAIN = """\
package main

import data.lib.kubernetes

deny[msg] {
  kubernetes.is_deployment
  not input.spec.template.spec.securityContext.runAsNonRoot
  msg := sprintf("Deployment %s must not run as root", [kubernetes.name])
}

deny[msg] {
  container := kubernetes.containers[_]
  [_, tag] := kubernetes.split_image(container.image)
  tag == "latest"
  msg = sprintf("%s uses the latest tag", [container.name])
}

warn[msg] {
  kubernetes.is_deployment
  input.spec.replicas < 2
  msg := "run at least two replicas"
}

exception[rules] {
  input.metadata.labels["policy.example.com/skip-root-check"] == "true"
  rules := ["run_as_root"]
}
"""


@pytest.mark.parametrize(
    ("deployment", "deny", "warn", "exception"),
    [
        (
            {"replicas": 1, "containers": [{"name": "app", "image": "nginx"}]},
            {"Deployment web must not run as root", "app uses the latest tag"},
            {"run at least two replicas"},
            [],
        ),
        (
            {"replicas": 3, "nonroot": True, "skip": True,
             "containers": [{"name": "app", "image": "nginx:1.25"}]},
            set(),
            set(),
            [["run_as_root"]],
        ),
    ],
)
def test_conftest_deployment(
    load: Any, deployment: dict[str, Any], deny: set[str], warn: set[str], exception: list[Any]
) -> None:
    engine = load({"lib/kubernetes.rego": K8S_LIB, "policy/main.rego": CONFTEST_MAIN})
    doc = {
        "kind": "Deployment",
        "metadata": {"name": "web", "labels": {
            "policy.example.com/skip-root-check": "true" if deployment.get("skip") else "no"}},
        "spec": {"replicas": deployment["replicas"], "template": {"spec": {
            "securityContext": {"runAsNonRoot": deployment.get("nonroot", False)},
            "containers": deployment["containers"]}}},
    }
    assert messages(engine, "data.main.deny", doc) == deny
    assert messages(engine, "data.main.warn", doc) == warn
    assert value(engine, "data.main.exception", doc) == exception
    assert value(engine, "data.lib.kubernetes.is_gatekeeper", doc) is False


# -- language corners ------------------------------------------------------------------------

DEFAULTS_AND_OBJECTS = """\
package defaults

default allow = false
default max_replicas := 5
default limit(_) = 0

allow {
  input.user == "admin"
}

limit(kind) = 10 { kind == "Deployment" }

images_by_container[name] = image {
  c := input.containers[_]
  name := c.name
  image := c.image
}

port_count[name] := n {
  c := input.containers[_]
  name := c.name
  n := count(object.get(c, "ports", []))
}

always["constant member"]
registries = {"gcr.io", "quay.io"}
settings := {"nested": {"deep": [1, 2, {"x": 3}]}}
"""


def test_defaults_partial_objects_and_constants(load: Any) -> None:
    engine = load({"defaults.rego": DEFAULTS_AND_OBJECTS})
    doc = {"user": "bob", "containers": [
        {"name": "a", "image": "nginx", "ports": [80, 443]}, {"name": "b", "image": "redis"}]}
    assert value(engine, "data.defaults", doc) == {
        "allow": False,
        "max_replicas": 5,
        "images_by_container": {"a": "nginx", "b": "redis"},
        "port_count": {"a": 2, "b": 0},
        "always": ["constant member"],
        "registries": ["gcr.io", "quay.io"],
        "settings": {"nested": {"deep": [1, 2, {"x": 3}]}},
    }
    assert value(engine, "data.defaults.allow", {"user": "admin", "containers": []}) is True
    assert value(engine, 'data.defaults.limit("Deployment")') == 10
    assert value(engine, 'data.defaults.limit("Pod")') == 0


ELSE_CHAINS = """\
package tiers

severity(score) = "high" {
  score >= 7
} else = "medium" {
  score >= 4
} else = "low"

tier = "gold" {
  input.spend > 1000
}
else = "silver" {
  input.spend > 100
}
else = "bronze" {
  true
}

# `else` without a value means `else = true`
trusted {
  input.team == "platform"
} else {
  input.reviewed
}

pick(x) := y {
  y := x.preferred
} else := y {
  y := x.fallback
}
"""


@pytest.mark.parametrize(
    ("doc", "tier", "trusted"),
    [
        ({"spend": 5000, "team": "platform"}, "gold", True),
        ({"spend": 500, "team": "web", "reviewed": True}, "silver", True),
        ({"spend": 5, "team": "web", "reviewed": False}, "bronze", None),
    ],
)
def test_else_chains(load: Any, doc: dict[str, Any], tier: str, trusted: Any) -> None:
    engine = load({"tiers.rego": ELSE_CHAINS})
    assert value(engine, "data.tiers.tier", doc) == tier
    assert value(engine, "data.tiers.trusted", doc) == trusted
    assert [value(engine, f"data.tiers.severity({s})") for s in (9, 5, 1)] == [
        "high", "medium", "low"]
    assert value(engine, 'data.tiers.pick({"fallback": 2})') == 2
    assert value(engine, 'data.tiers.pick({"preferred": 1, "fallback": 2})') == 1


CHAINED_AND_REF_HEADS = """\
package chained

allowed_kind { input.kind == "Pod" } { input.kind == "Job" }

names[n] { n := "first" } { n := "second" }

report.counts[kind] {
  kind := input.items[_].kind
}

report.summary.ok {
  count(input.items) > 0
}
"""


def test_chained_bodies_and_ref_heads(load: Any) -> None:
    engine = load({"chained.rego": CHAINED_AND_REF_HEADS})
    assert value(engine, "data.chained.allowed_kind", {"kind": "Job"}) is True
    assert value(engine, "data.chained.allowed_kind", {"kind": "Service"}) is None
    assert value(engine, "data.chained.names") == ["first", "second"]
    # v0 read `a.b[x] { }` (a ref longer than `p[x]`) as an object; so does v1.
    assert value(engine, "data.chained.report", {"items": [{"kind": "Pod"}]}) == {
        "counts": {"Pod": True}, "summary": {"ok": True}}


TRICKY_TEXT = """\
package tricky

# deny[msg] { this comment looks like a rule
# violation[{"msg": msg}] {
msg_template := "deny[x] { not a rule }"
raw := `violation[{"msg": msg}] {
  still a raw string }`

deny[msg] {
  # a comment with a { brace
  input.name == "x{y}"
  msg := sprintf("bad name %v { [x] }", [input.name])
}

deny[sprintf("set %v", [s])] {
  s := {"a", "b"}
  count(s) == 2
  input.also
}

lookup = {"k": {"v": 1}} { true }
"""


def test_braces_in_comments_strings_and_literals(load: Any) -> None:
    converted = to_v1(TRICKY_TEXT, "tricky.rego")
    # Only the two rule heads and the body of `lookup` changed.
    assert converted.splitlines()[:7] == TRICKY_TEXT.splitlines()[:7]
    assert "deny contains msg if {" in converted
    assert 'deny contains sprintf("set %v", [s]) if {' in converted
    assert 'lookup = {"k": {"v": 1}} if { true }' in converted
    engine = load({"tricky.rego": TRICKY_TEXT})
    assert messages(engine, "data.tricky.deny", {"name": "x{y}", "also": True}) == {
        "bad name x{y} { [x] }", 'set {"a", "b"}'}
    assert value(engine, "data.tricky.msg_template") == "deny[x] { not a rule }"
    assert value(engine, "data.tricky.raw").startswith('violation[{"msg": msg}] {')
    assert value(engine, "data.tricky.lookup") == {"k": {"v": 1}}


METADATA_POLICY = """\
# METADATA
# title: Images must be pinned
# description: >-
#   Containers must use an image digest {sha256}.
# custom:
#   severity: high
package pinned

# METADATA
# title: unpinned image
deny[msg] {
\tc := input.containers[_]
\tnot contains(c.image, "@sha256:")
\tmsg := sprintf("%v: %v", [rego.metadata.rule().title, c.image])
}
"""

METADATA_EXPECTED = """\
# METADATA
# title: Images must be pinned
# description: >-
#   Containers must use an image digest {sha256}.
# custom:
#   severity: high
package pinned

# METADATA
# title: unpinned image
deny contains msg if {
\tc := input.containers[_]
\tnot contains(c.image, "@sha256:")
\tmsg := sprintf("%v: %v", [rego.metadata.rule().title, c.image])
}
"""


def test_metadata_blocks_and_other_bytes_preserved(load: Any) -> None:
    assert to_v1(METADATA_POLICY, "pinned.rego") == METADATA_EXPECTED
    engine = load({"pinned.rego": METADATA_POLICY})
    # The annotations still attach to the converted rule.
    assert messages(engine, "data.pinned.deny", {"containers": [{"image": "nginx"}]}) == {
        "unpinned image: nginx"}


LINE_ERROR = """\
package lines

# a comment
deny[msg] {
  input.kind == "Pod"
  msg := "ok"
}

warn[msg] {
  input.kind == "Pod"

  unknown_var == 1
  msg := "never"
}
"""


def test_engine_errors_point_at_the_original_line() -> None:
    converted = to_v1(LINE_ERROR, "lines.rego")
    engine = OpaEngine()
    try:
        engine.add_policy("lines.rego", converted)
        with pytest.raises(OpaError) as caught:
            engine.eval_query("x := data.lines.deny", {"kind": "Pod"})
    finally:
        engine.close()
    line = next(i for i, text in enumerate(LINE_ERROR.splitlines(), 1) if "unknown_var" in text)
    assert f"lines.rego:{line}:" in caught.value.message
    assert "unknown_var" in caught.value.message


FUTURE_KEYWORDS = """\
package mixed

import future.keywords.in
import future.keywords.if

privileged_ports := {22, 23}

allow if input.user in {"alice", "bob"}

deny[msg] {
  some port in input.ports
  port in privileged_ports
  msg := sprintf("port %v is privileged", [port])
}

flagged(port) if {
  port in privileged_ports
}

names := [n | some n in input.names]

level := "high" if input.level > 5 else := "low"
"""

ALL_FUTURE = """\
package everything

import future.keywords

deny contains msg {
  every p in input.ports { p > 1024 }
  msg := "all high"
}

ok if { true }
"""


def test_future_keyword_imports(load: Any) -> None:
    converted = to_v1(FUTURE_KEYWORDS, "mixed.rego")
    assert "import future.keywords.in" in converted  # OPA v1 still accepts these imports
    assert "allow if input.user in" in converted
    engine = load({"mixed.rego": FUTURE_KEYWORDS, "everything.rego": ALL_FUTURE})
    doc = {"user": "alice", "ports": [22, 80], "names": ["x"]}
    assert value(engine, "data.mixed.allow", doc) is True
    assert messages(engine, "data.mixed.deny", doc) == {"port 22 is privileged"}
    assert value(engine, "data.mixed.flagged(23)") is True
    assert value(engine, "data.mixed.level", {"level": 9}) == "high"
    assert value(engine, "data.mixed.level", {"level": 1}) == "low"
    assert messages(engine, "data.everything.deny", {"ports": [2000, 3000]}) == {"all high"}
    assert messages(engine, "data.everything.deny", {"ports": [22]}) == set()


DEPRECATED = """\
package deprecated

same_net { net.cidr_overlap("10.0.0.0/8", input.cidr) }
matches { re_match("^prod-", input.name) }
any_true { any(input.flags) }
any_literal { any([input.a, input.b]) }
all_true { all(input.flags) }
all_literal { all([input.a, input.b]) }
have := {x | x := input.have[_]}
extra := set_diff(have, {"a"})
extra_literal := set_diff({"a", "b"}, have)
extra_input := set_diff(input.have, {"a"})
"""


def test_deprecated_builtins_mapped_exactly(load: Any) -> None:
    engine = load({"deprecated.rego": DEPRECATED})

    def rules(doc: dict[str, Any]) -> dict[str, Any]:
        result = value(engine, "data.deprecated", doc)
        return {k: v for k, v in result.items() if k != "have"}

    assert rules({"cidr": "10.1.0.0/16", "name": "prod-db", "flags": [False, True],
                  "a": True, "b": True, "have": ["a", "c"]}) == {
        "same_net": True, "matches": True, "any_true": True, "any_literal": True,
        "all_literal": True, "extra": ["c"], "extra_literal": ["b"]}
    # Where v0 failed on an argument of the wrong type (an array is not a set, an object
    # is not a collection for any/all), the rewrites are undefined too.
    assert rules({"cidr": "192.168.0.0/24", "name": "dev", "flags": {"x": True},
                  "a": True, "b": False, "have": []}) == {
        "any_literal": True, "extra": [], "extra_literal": ["a", "b"]}
    assert rules({"flags": [], "a": False, "b": False}) == {
        "all_true": True, "extra": [], "extra_literal": ["a", "b"]}
    converted = to_v1(DEPRECATED, "deprecated.rego")
    assert "regex.match(" in converted and "net.cidr_contains(" in converted
    assert not re.search(r"\b(re_match|cidr_overlap|any|all|set_diff)\(", converted)


def test_layout_variants(load: Any) -> None:
    crlf = 'package crlf\r\n\r\ndeny[msg]\r\n{\r\n  msg := "x"\r\n}\r\nok{true}\r\n'
    assert to_v1(crlf, "crlf.rego") == (
        'package crlf\r\n\r\ndeny contains msg\r\nif {\r\n  msg := "x"\r\n}\r\nok if {true}\r\n')
    engine = load({"crlf.rego": crlf})
    assert messages(engine, "data.crlf.deny") == {"x"}
    assert value(engine, "data.crlf.ok") is True


def test_v0_partial_head_with_if_keeps_its_v0_meaning(load: Any) -> None:
    # With `future.keywords.if`, v0 OPA read `p[x] if` as an object (p[x] = true), and so
    # does v1: nothing to convert.
    source = "package objs\nimport future.keywords.if\n\nflags[n] if {\n  n := input.names[_]\n}\n"
    assert to_v1(source) is source
    assert value(load({"objs.rego": source}), "data.objs.flags", {"names": ["a"]}) == {"a": True}


# -- already v1 ------------------------------------------------------------------------------

V1_WITH_IMPORT = """\
package v1mod

import rego.v1

deny contains msg if {
  some c in input.containers
  msg := c.name
}
"""

V1_WITHOUT_IMPORT = """\
package v1plain

default allow := false

allow if input.user == "admin"

deny contains msg if {
  not input.user
  msg := "anonymous"
}

tier := "gold" if input.spend > 10 else := "none"

greeting := $"hello {input.user}"
"""


def test_v1_sources_pass_through_unchanged(load: Any) -> None:
    for source in (V1_WITH_IMPORT, V1_WITHOUT_IMPORT, "package constants\n\nx := 1\n"):
        assert is_v1(source)
        assert to_v1(source, "v1.rego") is source
    for source in (REQUIRED_LABELS, CONTAINER_LIMITS, CONFTEST_MAIN, DEPRECATED, ALL_FUTURE):
        assert not is_v1(source)
    engine = load({"a.rego": V1_WITH_IMPORT, "b.rego": V1_WITHOUT_IMPORT})
    assert messages(engine, "data.v1mod.deny", {"containers": [{"name": "c1"}]}) == {"c1"}
    got = value(engine, "data.v1plain", {"spend": 1})
    assert {k: got[k] for k in ("allow", "deny", "tier")} == {
        "allow": False, "deny": ["anonymous"], "tier": "none"}
    assert value(engine, "data.v1plain.greeting", {"user": "ann"}) == "hello ann"


# -- refusals --------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("source", "line", "fragment"),
    [
        ("package p\n\ndeny[msg] {\n  contains := input.x\n  msg := contains\n}\n", 4,
         "`contains` is used as an identifier"),
        ("package p\n\nok {\n  in := 1\n  in == 1\n}\n", 4, "`in` is used as an identifier"),
        ("package p\n\nevery[x] {\n  x := 1\n}\n", 3, "`every` is used as an identifier"),
        ("package p\nimport future.keywords.in\n\nif(x) = y {\n  y := x\n}\n", 4,
         "`if` is used as an identifier"),
        ("package p\nimport future.keywords\n\ncontains(a, b) {\n  a == b\n}\n", 4,
         "`contains` is a keyword in Rego v1 and cannot name a rule"),
        ("package p\n\nx := cast_string(input.x)\n", 3, "`cast_string`"),
        ("package p\n\nok {\n  input.a\n  any(object.keys(input.b))\n}\n", 5, "`any`"),
        ("package p\n\nok {\n  all(input.xs, out)\n}\n", 4, "`all`"),
        ("package p\n\nd := set_diff(object.keys(input.a), input.b)\n", 3, "`set_diff`"),
        ("package p\n\ndeny[msg] {\n  msg := 1\n} else = 2 {\n  true\n}\n", 5,
         "`else` cannot follow a partial set rule"),
        ("package p\n\ndeny[msg] {\n  msg := 1\n}\n}\n", 6, "unexpected '}'"),
        ("package p\n\n42\n", 3, "unexpected '42' at the top level"),
        ("package p\n\nok {\n  input.x\n", 3, "'{' is never closed"),
        ('package p\n\nmsg := "no end\n', 3, "string is never closed"),
        ("package p\n\nx := 1 @ 2\n", 3, "unexpected character '@'"),
    ],
)
def test_refusals_name_path_and_line(source: str, line: int, fragment: str) -> None:
    with pytest.raises(RegoConversionError) as caught:
        to_v1(source, "policies/p.rego")
    err = caught.value
    assert (err.path, err.line) == ("policies/p.rego", line)
    assert fragment in err.message
    assert str(err) == f"policies/p.rego:{line}: {err.message}"
    assert not is_v1(source)


def test_error_without_a_path() -> None:
    with pytest.raises(RegoConversionError) as caught:
        to_v1("package p\n\nok { every := 1 }\n")
    assert caught.value.path is None
    assert re.match(r"<rego>:3: `every`", str(caught.value))


def test_contains_builtin_and_keyword_fields_are_not_identifiers(load: Any) -> None:
    source = ("package fields\n\n"
              "hit { contains(input.in, input.every) }\n"
              "kw := [input.if, input.contains]\n")
    engine = load({"fields.rego": source})
    doc = {"in": "abc", "every": "b", "if": 1, "contains": 2}
    assert value(engine, "data.fields", doc) == {"hit": True, "kw": [1, 2]}


def test_import_rego_v1_found_without_lexing_only_where_it_is_code(load: Any) -> None:
    """`import rego.v1` on a line of its own is recognised without lexing the module; the
    same text inside a raw string, a comment or a string is not an import, and
    the v0 module around it is still converted."""
    v0_body = 'deny[msg] {\n  input.x\n  msg := "x"\n}\n'
    declared = "package p\n\nimport rego.v1  # all v1\n\ndeny contains msg if {\n  msg := 1\n}\n"
    assert is_v1(declared) and to_v1(declared, "p.rego") is declared
    for hidden in ("doc := `\nimport rego.v1\n`\n",  # a raw string spanning lines
                   "# import rego.v1\n",
                   "x := \"import rego.v1\"\n"):
        source = f"package p\n\n{hidden}\n{v0_body}"
        assert not is_v1(source), hidden
        converted = to_v1(source, "p.rego")
        assert converted != source and "deny contains msg if" in converted
        assert messages(load({"p.rego": source}), "data.p.deny", {"x": True}) == {"x"}
