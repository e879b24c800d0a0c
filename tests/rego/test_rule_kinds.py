"""Rego rules that declare their kinds (METADATA `custom.kinds`) are asked about those objects
only, and modules that declare the kinds they read from `data.inventory` (package METADATA
`custom.inventory`) get only those; the declarations of the bundled packs are honest.

Honest means: with the declarations ignored (every rule asked about every object, the
whole inventory sent), the
bundled packs find exactly what they find with them, over the example estate, a generated
estate, and copies of every object they flag relabelled as every kind the corpus has. So
scoping saves OPA the work and never hides a finding.
"""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from checker.config import Config
from checker.model import Manifest
from checker.pipeline import run_check
from checker.rego import evaluate
from checker.rego.evaluate import RegoPolicies
from checker.rego.match import kinds_match
from checker.rego.policies import RegoConversionError, RegoModule, conftest_rules, read_module

REPO_ROOT = Path(__file__).resolve().parents[2]
ESTATE = REPO_ROOT / "fixtures" / "estates" / "odoo-finance"


def _findings(path: Path, monkeypatch: pytest.MonkeyPatch | None = None
              ) -> set[tuple[str, str, str]]:
    if monkeypatch is not None:  # every rule asked about every object, whole inventory
        monkeypatch.setattr(evaluate, "kinds_match", lambda kinds, obj: True)
        monkeypatch.setattr(evaluate.RegoPolicies, "may_apply", lambda self, obj: True)
        monkeypatch.setattr(evaluate.RegoPolicies, "inventory_kinds", lambda self: None)
    run = run_check([str(path)], root=path, config=Config())
    if monkeypatch is not None:
        monkeypatch.undo()
    assert not [e for e in run.report.errors if e.kind == "policy"], run.report.errors
    return {(f.rule_id, f.location.path, f.resource.display() if f.resource else "")
            for f in run.report.findings if f.engine == "rego"}


@pytest.mark.slow
def test_bundled_kinds_hide_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    estate = tmp_path / "generated"
    subprocess.run([sys.executable, str(REPO_ROOT / "bench" / "generate_estate.py"),
                    "--documents", "600", "--out", str(estate)], check=True,
                   capture_output=True, timeout=120)
    for path in (ESTATE, estate):
        scoped = _findings(path)
        assert scoped, path  # both estates have Rego findings to compare
        assert _findings(path, monkeypatch) == scoped, path

    # Every flagged object as every kind of the corpus (and one no rule knows): a rule
    # finds something only on the kinds it declares.
    run = run_check([str(estate), str(ESTATE)], root=tmp_path, config=Config())
    manifests = run.manifests
    kinds = {(m.obj.get("apiVersion"), m.obj.get("kind")) for m in manifests}
    kinds.add(("example.com/v1", "Widget"))
    flagged = {f.resource.display() for f in run.report.findings if f.engine == "rego"
               and f.resource is not None}
    relabelled = tmp_path / "relabelled"
    relabelled.mkdir()
    documents: list[dict[str, Any]] = []
    for manifest in manifests:
        if manifest.resource.display() not in flagged:
            continue
        for api_version, kind in sorted(kinds, key=str):
            obj = copy.deepcopy(dict(manifest.obj))
            obj["apiVersion"], obj["kind"] = api_version, kind
            obj.setdefault("metadata", {})["name"] = f"x{len(documents)}"
            documents.append(obj)
    assert len(documents) > 100
    (relabelled / "all.yaml").write_text(yaml.safe_dump_all(documents))
    scoped = _findings(relabelled)
    unscoped = _findings(relabelled, monkeypatch)
    assert unscoped == scoped
    assert len(scoped) > 10


def _module(source: str) -> RegoModule:
    return read_module(source, "policy/kinds.rego")


def test_kinds_in_metadata_scope_a_rule() -> None:
    rules = conftest_rules(_module(
        "package main\n\nimport rego.v1\n\n# METADATA\n# custom:\n#   id: K1\n#   kinds:\n"
        "#     - {apiGroups: [apps], kinds: [Deployment]}\n"
        "deny contains msg if { msg := \"x\" }\n"))
    (rule,) = rules
    assert rule.kinds == ({"apiGroups": ["apps"], "kinds": ["Deployment"]},)
    assert kinds_match(rule.kinds, {"apiVersion": "apps/v1", "kind": "Deployment"})
    assert not kinds_match(rule.kinds, {"apiVersion": "v1", "kind": "Deployment"})
    assert not kinds_match(rule.kinds, {"apiVersion": "apps/v1", "kind": "StatefulSet"})
    unscoped = conftest_rules(_module(
        "package main\n\nimport rego.v1\n\ndeny contains msg if { msg := \"x\" }\n"))
    assert unscoped[0].kinds is None


@pytest.mark.parametrize(("kinds", "problem"), [
    ("Deployment", "custom.kinds: must be a list"),
    ("[{apiGroups: [core], kinds: [Pod]}]", "the core API group is written"),
    ("[{apiGroups: [apps], kinds: [deployments]}]", "looks like a resource name"),
    ("[{groups: [apps]}]", "custom.kinds[0]"),
])
def test_malformed_kinds_are_located_errors(kinds: str, problem: str) -> None:
    with pytest.raises(RegoConversionError) as raised:
        _module(f"package main\n\nimport rego.v1\n\n# METADATA\n# custom:\n#   kinds: {kinds}\n"
                "deny contains msg if { msg := \"x\" }\n")
    assert problem in str(raised.value)
    assert raised.value.path == "policy/kinds.rego" and raised.value.line == 5


def test_objects_of_other_kinds_never_reach_the_engine(tmp_path: Path) -> None:
    """A policy scoped to Deployments: a ConfigMap is not sent to OPA at all, a Deployment
    is, and the scoped rule's answer for an object it was not asked about is dropped."""
    policy = tmp_path / "policy"
    policy.mkdir()
    (policy / "p.rego").write_text(
        "package main\n\nimport rego.v1\n\n# METADATA\n# custom:\n#   id: ONLYDEP\n"
        "#   kinds: [{apiGroups: [apps], kinds: [Deployment]}]\n"
        "deny contains msg if { msg := sprintf(\"seen %s\", [input.kind]) }\n\n"
        "# METADATA\n# custom:\n#   id: SVC\n"
        "#   kinds: [{apiGroups: [''], kinds: [Service]}]\n"
        "deny_svc contains msg if { msg := sprintf(\"seen %s\", [input.kind]) }\n")
    estate = tmp_path / "estate"
    estate.mkdir()
    (estate / "a.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: n}\n---\n"
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d, namespace: n}\n"
        "spec: {selector: {matchLabels: {a: b}}, template: {metadata: {labels: {a: b}}, "
        "spec: {containers: [{name: c, image: 'x:1'}]}}}\n---\n"
        "apiVersion: v1\nkind: Service\nmetadata: {name: s, namespace: n}\n"
        "spec: {ports: [{port: 80}]}\n")
    asked: list[str] = []
    original = evaluate.RegoChecker._check

    def spy(self: Any, manifest: Manifest, *args: Any) -> Any:
        asked.append(manifest.obj["kind"])
        return original(self, manifest, *args)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(evaluate.RegoChecker, "_check", spy)
        run = run_check([str(estate)], root=estate, config=Config(),
                        policy_dirs=[policy])
    found = sorted((f.rule_id, f.message) for f in run.report.findings
                   if f.rule_id in ("ONLYDEP", "SVC"))
    # Each object was asked the query holding both rules: the other rule's answer
    # ("seen Service" from ONLYDEP) is dropped.
    assert found == [("ONLYDEP", "seen Deployment"), ("SVC", "seen Service")]
    assert "ConfigMap" not in asked and {"Deployment", "Service"} <= set(asked)



def _policies(*sources: str) -> RegoPolicies:
    return RegoPolicies(modules=[read_module(source, f"p{i}.rego")
                                 for i, source in enumerate(sources)])


def test_inventory_kinds_come_from_the_modules_that_read_it() -> None:
    declared = ("# METADATA\n# scope: package\n# custom:\n#   inventory: "
                "[{apiGroups: [traefik.io], kinds: [Middleware]}]\npackage a\n\n"
                "import rego.v1\n\nm contains x if { x := data.inventory.namespace[_] }\n")
    silent = "package b\n\nimport rego.v1\n\nm contains x if { x := data.inventory.cluster }\n"
    other = ("package c\n\nimport rego.v1\n\n# data.inventory in a comment\n"
             "m := \"inventory\" if { input.data.x; data.c.y }\n")
    whole = "package d\n\nimport rego.v1\n\nm := x if { x := data[input.kind] }\n"
    assert _policies(declared).inventory_kinds() == (
        {"apiGroups": ["traefik.io"], "kinds": ["Middleware"]},)
    assert _policies(other).inventory_kinds() == ()  # nothing read: none sent
    assert _policies(declared, silent).inventory_kinds() is None  # all of it
    assert _policies(declared, whole).inventory_kinds() is None
    assert _policies("package e\n\nimport rego.v1\n\nimport data\n\nm := data.x\n"
                     ).inventory_kinds() is None


def test_the_plain_query_evaluates_rules_by_the_kinds_start_was_told() -> None:
    """Told the kinds of the objects it will be asked, the checker's one query evaluates
    each rule for its own kinds only: the verdicts are those of a checker told nothing,
    for the objects of those kinds and for an object of a kind it was not told of."""
    from checker.discover import discover
    from checker.load import load
    from checker.packs import RuleSources, load_rules
    from checker.rego.evaluate import RegoChecker
    from checker.rego.worker import WorkerEngine

    candidates, _ = discover([str(ESTATE)], ESTATE)
    manifests = load(candidates).manifests
    policies = load_rules(RuleSources.for_config(Config(), ESTATE, ()), root=ESTATE).rego
    subjects = [m for m in manifests if policies.may_apply(m.obj)]
    told = {(m.resource.api_version, m.resource.kind) for m in subjects
            if m.resource.kind != "Deployment"}  # Deployments: not told
    data = {"tiers": {"namespaces": {}, "default": "critical"}, "requirements": {}}

    def verdicts(kinds: set[tuple[str, str]]) -> list[list[tuple[str, str]]]:
        worker = WorkerEngine()
        checker = RegoChecker(worker, policies)
        try:
            assert checker.start({}, data, kinds) == []
            return [sorted((o.rule.id, o.violation.message) for o in outcomes)
                    for outcomes, errors in checker.check_many((m, []) for m in subjects)
                    if not errors or pytest.fail(str(errors))]
        finally:
            worker.close()

    scoped = verdicts(told)
    assert scoped == verdicts(set())
    assert sum(map(len, scoped)) >= 5 and any(
        found for m, found in zip(subjects, scoped, strict=True)
        if m.resource.kind == "Deployment")


def test_a_remote_server_gets_no_kind_table(opa_server: str) -> None:
    """A server's data is shared with other runs (and a run may not push it at all): the
    kinds a run is told of never become a table there, and every rule answers as before."""
    from checker.discover import discover
    from checker.load import load
    from checker.packs import RuleSources, load_rules
    from checker.rego.evaluate import RegoChecker
    from checker.rego.remote import RemoteEngine

    candidates, _ = discover([str(ESTATE)], ESTATE)
    manifests = load(candidates).manifests
    policies = load_rules(RuleSources.for_config(Config(), ESTATE, ()), root=ESTATE).rego
    subjects = [m for m in manifests if policies.may_apply(m.obj)]
    checker = RegoChecker(RemoteEngine(opa_server, timeout=30), policies)
    data = {"tiers": {"namespaces": {}, "default": "critical"}, "requirements": {}}
    assert checker.start({}, data, {(m.resource.api_version, m.resource.kind)
                                    for m in subjects}) == []
    assert "asked" not in checker._plain_query
    found = [o for m in subjects for o in checker.check(m, [])[0]]
    assert found
