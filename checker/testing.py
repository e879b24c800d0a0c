"""`gitops-checker test`: run rule packs' own tests.

Two kinds, as `opa test`/`conftest verify` and `gator verify` have them:

- Rego unit tests: rules named `test_*` in `*_test.rego` files pass when they are true.
- YAML rule cases, `tests/<RULE>.yaml`:

      rule: REP001
      cases:
        - name: one replica in a critical namespace fails
          objects: [ … the estate of the case … ]
          expect:
            - message: "1 replica"        # a regular expression, searched
              pointer: /spec/replicas     # optional, exact
              object: Deployment/prod/web # optional, Kind/namespace/name
              severity: critical          # optional: the severity after tiers and config
        - name: …
          objects: [ … ]
          expect: []                      # no finding of this rule

  The rule runs alone, through the same engines as `check`; the case passes when its findings
  and the expectations pair up one to one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TextIO

from checker.config import Config, validate_config_data
from checker.discover import Candidate
from checker.errors import ConfigError
from checker.findings import RuleSettings, Stamper
from checker.load import is_object, read_text
from checker.model import Finding, Location, Manifest, Resource, ToolError
from checker.packs import BUNDLED_RULES, RuleSet, RuleSources, load_rules
from checker.parse import Document, parse_yaml
from checker.pyrules import Estate
from checker.rego.engine import RegoError
from checker.rego.policies import read_module
from checker.rego.worker import WorkerEngine
from checker.secrets import Redactor
from checker.tiers import RULES as TIER_RULES
from checker.tiers import TierPolicy, TierResolver, rego_data


@dataclass(frozen=True, slots=True)
class TestResult:
    name: str
    status: str  # pass, fail, error
    detail: str = ""


def run_tests(paths: Sequence[Path], *, pattern: str | None, verbose: bool,
              out: TextIO) -> int:
    directories = list(paths) or sorted(p for p in BUNDLED_RULES.iterdir()
                                        if (p / "pack.yaml").is_file())
    selector = re.compile(pattern) if pattern else None
    results: list[TestResult] = []
    for directory in directories:
        if not directory.is_dir():
            results.append(TestResult(str(directory), "error", "not a directory"))
            continue
        found = rego_unit_tests(directory, selector) + rule_cases(directory, selector)
        if not found and selector is None:
            found = [TestResult(str(directory), "fail", "no tests found: no *_test.rego with "
                                "test_ rules and no tests/<RULE>.yaml cases")]
        results.extend(found)
    for result in results:
        if result.status != "pass" or verbose:
            detail = f"\n    {result.detail}" if result.detail else ""
            out.write(f"{result.status.upper():5} {result.name}{detail}\n")
    counts = {s: sum(r.status == s for r in results) for s in ("pass", "fail", "error")}
    out.write(f"{counts['pass']} passed, {counts['fail']} failed, {counts['error']} errors\n")
    if counts["error"]:
        return 2
    return 1 if counts["fail"] or not results else 0


def rego_unit_tests(directory: Path, selector: re.Pattern[str] | None) -> list[TestResult]:
    files = sorted(p for p in directory.rglob("*.rego") if ".git" not in p.parts)
    tests = [p for p in files if p.name.endswith("_test.rego")]
    if not tests:
        return []
    modules: dict[str, str] = {}
    wanted: list[tuple[str, str]] = []  # (test name, query ref)
    results: list[TestResult] = []
    for path in files:
        shown = path.relative_to(directory.parent).as_posix()
        try:
            module = read_module(path.read_text(encoding="utf-8"), shown)
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            results.append(TestResult(shown, "error", str(exc)))
            continue
        modules[shown] = module.source
        if path in tests:
            for head in module.rules:
                name = f"{shown}::{head.name}"
                if head.name.startswith("test_") and (selector is None or
                                                      selector.search(name)):
                    wanted.append((name, f"data.{module.package}.{head.name}"))
    # The pack's data files and the checker's tier data, as `check` gives them.
    pack_rules = load_rules(RuleSources(policy_dirs=[directory], all_namespaces=True,
                                        bundled=False, entry_points=False),
                            root=directory.parent)
    data = {**pack_rules.rego.merged_data(),
            "gitops_checker": rego_data(TierResolver(TierPolicy(), {}), ())}
    engine = WorkerEngine(default_timeout=30)
    try:
        try:
            problems = engine.load(modules, data)
        except RegoError as exc:
            # The engine itself is unusable: every test is an error, none is lost.
            return [*results, *(TestResult(name, "error", str(exc)) for name, _ in wanted)] \
                or [*results, TestResult(str(directory), "error", str(exc))]
        results.extend(TestResult(str(p.path or directory), "error", str(p)) for p in problems)
        for name, ref in wanted:
            try:
                rows = engine.query(f"result := {ref}", None)
            except RegoError as exc:
                results.append(TestResult(name, "error", str(exc)))
                continue
            passed = bool(rows) and rows[0].get("result") is True
            results.append(TestResult(name, "pass" if passed else "fail",
                                      "" if passed else "the test rule is not true"))
    finally:
        engine.close()
    return results


def rule_cases(directory: Path, selector: re.Pattern[str] | None) -> list[TestResult]:
    case_files = sorted((directory / "tests").glob("*.yaml")) + sorted(
        (directory / "tests").glob("*.yml"))
    if not case_files:
        return []
    rules = load_rules(RuleSources(policy_dirs=[directory], all_namespaces=True,
                                   bundled=False, entry_points=False), root=directory.parent)
    results = [TestResult(f"{e.path}:{e.line or 1}", "error", e.message) for e in rules.errors]
    for path in case_files:
        shown = path.relative_to(directory.parent).as_posix()
        suite = _read_suite(path, shown)
        if isinstance(suite, TestResult):
            results.append(suite)
            continue
        rule_id, cases, suite_config = suite
        if rule_id not in rules.infos():
            results.append(TestResult(shown, "error", f"unknown rule {rule_id} (this pack "
                                      f"has {', '.join(sorted(rules.infos())) or 'none'})"))
            continue
        for index, case in enumerate(cases):
            name = f"{shown}::{case.get('name') or f'case {index + 1}'}"
            if selector is not None and not selector.search(name):
                continue
            results.append(_run_case(rules, rule_id, case, name, shown, suite_config))
    return results


def _read_suite(path: Path, shown: str
                ) -> tuple[str, list[Mapping[str, Any]], Mapping[str, Any]] | TestResult:
    text = read_text(Candidate(shown, path))
    if isinstance(text, ToolError):
        return TestResult(shown, "error", text.message)
    docs = list(parse_yaml(text))
    if len(docs) != 1 or not isinstance(docs[0], Document):
        line = docs[0].line if docs and not isinstance(docs[0], Document) else 1
        return TestResult(f"{shown}:{line}", "error", "expected one YAML document with "
                          "`rule` and `cases`")
    data = docs[0].data
    if not isinstance(data, dict) or not isinstance(data.get("rule"), str) or \
            not isinstance(data.get("cases"), list):
        return TestResult(shown, "error", "expected `rule: ID` and a `cases` list")
    config = data.get("config") or {}
    if not isinstance(config, dict):
        return TestResult(shown, "error", "`config` must be a mapping (.gitops-checker.yaml "
                          "keys)")
    return data["rule"], data["cases"], config


def _run_case(rules: RuleSet, rule_id: str, case: Any, name: str, shown: str,
              suite_config: Mapping[str, Any]) -> TestResult:
    from checker.pipeline import evaluate_rules

    if not isinstance(case, dict) or not isinstance(case.get("objects"), list) or \
            not isinstance(case.get("expect"), list):
        return TestResult(name, "error", "a case needs `objects` and `expect` lists")
    objects = case["objects"]
    if not all(is_object(o) and isinstance(o.get("metadata", {}), dict) for o in objects):
        return TestResult(name, "error", "every entry of `objects` needs apiVersion, kind "
                          "and a metadata mapping")
    for item in case["expect"]:
        try:
            re.compile(str(item.get("message", "")) if isinstance(item, dict) else "")
        except re.error as exc:
            return TestResult(name, "error", f"expect message is not a regular expression: "
                              f"{exc}")
    try:
        config = _case_config({**suite_config, **(case.get("config") or {})}, name)
    except ConfigError as exc:
        return TestResult(name, "error", str(exc))
    manifests = [_manifest(o, shown, i) for i, o in enumerate(objects)]
    known = rules.infos()
    settings = {i: RuleSettings(enabled=i == rule_id) for i in known}
    from checker.exceptions import RULES as EXCEPTION_RULES

    settings.update({i: RuleSettings(enabled=False) for i in EXCEPTION_RULES})
    settings.update({i: RuleSettings(enabled=False) for i in TIER_RULES})
    estate = Estate(manifests)
    tiers = TierResolver(config.tiers, estate.namespaces)
    stamper = Stamper(position=lambda _m, _p: (None, None), settings=settings,
                      tier_of=tiers.explain, redactor=Redactor.for_estate(manifests))
    errors: list[ToolError] = []
    findings = [f for f in evaluate_rules(rules, estate, tiers, config, stamper, known, errors)
                if f.rule_id == rule_id and f.suppressed_by is None]
    if errors:
        return TestResult(name, "error", "; ".join(e.message for e in errors))
    return _compare(name, findings, case["expect"])


def _case_config(data: Mapping[str, Any], name: str) -> Config:
    """A case may set options and tier requirements: `config:` holds .gitops-checker.yaml
    keys (validated the same way), at the suite level or per case."""
    validate_config_data(dict(data), name)
    return replace(Config.from_mapping(data), rule_timeout=30)


def _manifest(obj: Mapping[str, Any], shown: str, index: int) -> Manifest:
    metadata = obj.get("metadata") or {}
    namespace = metadata.get("namespace")
    resource = Resource(obj["apiVersion"], obj["kind"],
                        namespace if isinstance(namespace, str) and namespace else None,
                        str(metadata.get("name", "")))
    return Manifest(resource, obj, Location(shown), index)


def _compare(name: str, findings: list[Finding], expected: Iterable[Any]) -> TestResult:
    remaining = list(findings)
    unmet = []
    for item in expected:
        if not isinstance(item, dict):
            return TestResult(name, "error", "each `expect` entry is a mapping (message, "
                              "pointer, object)")
        found = next((f for f in remaining if _meets(f, item)), None)
        if found is None:
            unmet.append(item)
        else:
            remaining.remove(found)
    if not unmet and not remaining:
        return TestResult(name, "pass")
    parts = [f"expected, not found: {item}" for item in unmet]
    parts += [f"unexpected finding: {f.message} (at {f.location.pointer or '/'})"
              for f in remaining]
    return TestResult(name, "fail", "\n    ".join(parts))


def _meets(finding: Finding, item: Mapping[str, Any]) -> bool:
    message = item.get("message")
    if message is not None and not re.search(str(message), finding.message):
        return False
    pointer = item.get("pointer")
    if pointer is not None and finding.location.pointer != pointer:
        return False
    severity = item.get("severity")
    if severity is not None and finding.severity.value != severity:
        return False
    wanted = item.get("object")
    return wanted is None or finding.resource is not None and \
        finding.resource.display() == wanted
