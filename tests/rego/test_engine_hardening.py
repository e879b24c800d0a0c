"""Regressions found by reviewing the rule engine: each test is a reproduction that failed
before its fix (silent passes, lost findings, false errors, tracebacks)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: web:1.0
"""


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def check(root: Path, *args: str | Path) -> tuple[int, dict[str, Any], str]:
    done = subprocess.run([sys.executable, "-m", "checker", "check", "estate", "--format",
                           "json", "--no-bundled-packs", *map(str, args)], cwd=root,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.stdout, done.stderr
    return done.returncode, json.loads(done.stdout), done.stderr


def ids(report: dict[str, Any]) -> list[str]:
    return sorted(f["rule_id"] for f in report["findings"])


def messages(report: dict[str, Any]) -> str:
    return "\n".join(e["message"] for e in report["errors"])


def test_a_raw_string_with_braces_does_not_hide_the_rules_after_it(tmp_path: Path) -> None:
    write(tmp_path, {"estate/d.yaml": DEPLOYMENT, "p/p.rego": (
        'package main\n\nimport rego.v1\n\nschema := `{\n  "type": "object"\n}`\n\n'
        '# METADATA\n# custom:\n#   id: RAW001\n'
        'deny_after contains "seen" if input.kind == "Deployment"\n')})
    code, report, _ = check(tmp_path, "--policy", "p")
    assert (code, ids(report)) == (1, ["RAW001"])


def test_package_main_in_two_policy_directories_is_one_rule(tmp_path: Path) -> None:
    rule = 'package main\n\nimport rego.v1\n\ndeny contains "{}" if input.kind == "Deployment"\n'
    write(tmp_path, {"estate/d.yaml": DEPLOYMENT, "a/a.rego": rule.format("from a"),
                     "b/b.rego": rule.format("from b")})
    code, report, _ = check(tmp_path, "--policy", "a", "--policy", "b")
    assert code == 1 and report["errors"] == []
    assert sorted(f["message"] for f in report["findings"]) == ["from a", "from b"]


def test_one_rule_with_two_ids_in_two_files_is_refused(tmp_path: Path) -> None:
    head = 'package main\n\nimport rego.v1\n\n# METADATA\n# custom:\n#   id: {}\n'
    body = 'deny contains "x" if input.kind == "Deployment"\n'
    write(tmp_path, {"estate/d.yaml": DEPLOYMENT, "p/a.rego": head.format("AAA001") + body,
                     "p/b.rego": head.format("BBB001") + body})
    code, report, _ = check(tmp_path, "--policy", "p")
    assert code == 2 and "has two ids: AAA001" in messages(report)


def test_built_in_ids_are_reserved(tmp_path: Path) -> None:
    write(tmp_path, {"estate/d.yaml": DEPLOYMENT, "p/p.rego": (
        'package main\n\nimport rego.v1\n\n# METADATA\n# custom:\n#   id: SCH001\n'
        '#   severity: info\ndeny contains "hijack" if input.kind == "Deployment"\n')})
    code, report, _ = check(tmp_path, "--policy", "p")
    assert code == 2 and "duplicate rule id SCH001" in messages(report)
    assert "hijack" not in json.dumps(report["findings"])


def test_malformed_rego_ids_and_constraint_annotations_are_refused(tmp_path: Path) -> None:
    write(tmp_path, {
        "estate/d.yaml": DEPLOYMENT,
        "p/p.rego": ('package main\n\nimport rego.v1\n\n# METADATA\n# custom:\n#   id: 12\n'
                     'deny contains "x" if input.kind == "Deployment"\n'),
        "gk/t.yaml": (Path(__file__).parent.parent / "fixtures" / "rego" / "gatekeeper" /
                      "requiredlabels-template.yaml").read_text(),
        "gk/c.yaml": ("apiVersion: constraints.gatekeeper.sh/v1beta1\nkind: K8sRequiredLabels\n"
                      "metadata:\n  name: owner\n  annotations:\n"
                      "    gitops-checker.io/severity: criticall\n"
                      "spec:\n  enforcementAction: dryrun\n  parameters:\n    labels: [owner]\n"),
    })
    code, report, _ = check(tmp_path, "--policy", "p", "--policy", "gk")
    assert code == 2
    assert "custom.id 12 is malformed" in messages(report)
    assert "gitops-checker.io/severity: unknown severity 'criticall'" in messages(report)


def test_python_rules_that_exit_print_or_yield_garbage_are_contained(tmp_path: Path) -> None:
    meta = ('METADATA = {{"id": "{id}", "name": "{name}", "category": "policy", '
            '"severity": "high"{extra}}}\n')
    write(tmp_path, {
        "estate/d.yaml": DEPLOYMENT,
        "p/pack.yaml": "name: odd\n",
        "p/exits.py": '"""Exits."""\nimport sys\n' + meta.format(
            id="ODD001", name="exits", extra="") +
        "def check(m, ctx):\n    print('noise on stdout')\n    sys.exit(0)\n    yield\n",
        "p/garbage.py": '"""Garbage."""\nfrom checker.model import Violation\n' + meta.format(
            id="ODD002", name="garbage", extra=', "scope": "estate"') +
        "def check(estate, ctx):\n    yield 'Deployment/web', Violation('x')\n"
        "    yield estate.manifests[0], Violation('kept')\n",
    })
    code, report, _ = check(tmp_path, "--policy", "p")
    assert code == 2  # stdout stayed valid JSON despite the print
    assert "rule ODD001 raised SystemExit" in messages(report)
    assert "rule ODD002" in messages(report) and "yielded a tuple" in messages(report)
    assert [f["message"] for f in report["findings"] if f["rule_id"] == "ODD002"] == ["kept"]


def test_refreshing_a_baseline_keeps_what_it_accepted(tmp_path: Path) -> None:
    write(tmp_path, {"estate/d.yaml": DEPLOYMENT, "p/p.rego": (
        'package main\n\nimport rego.v1\n\ndeny contains "x" if input.kind == "Deployment"\n')})
    baseline = tmp_path / "baseline.json"
    subprocess.run([sys.executable, "-m", "checker", "check", "estate", "--policy", "p",
                    "--no-bundled-packs", "--write-baseline", baseline], cwd=tmp_path,
                   capture_output=True, check=True, timeout=120)
    subprocess.run([sys.executable, "-m", "checker", "check", "estate", "--policy", "p",
                    "--no-bundled-packs", "--baseline", baseline, "--write-baseline",
                    baseline], cwd=tmp_path, capture_output=True, check=True, timeout=120)
    code, report, _ = check(tmp_path, "--policy", "p", "--baseline", baseline)
    assert code == 0 and report["summary"]["suppressed"] == 1


def test_conftest_empty_exception_excepts_plain_deny(tmp_path: Path) -> None:
    write(tmp_path, {"estate/d.yaml": DEPLOYMENT, "p/p.rego": (
        'package main\n\nimport rego.v1\n\ndeny contains "x" if input.kind == "Deployment"\n\n'
        'exception contains rules if {\n\tinput.metadata.name == "web"\n\trules := [""]\n}\n')})
    code, report, _ = check(tmp_path, "--policy", "p")
    assert code == 0
    assert [f["suppressed_by"] for f in report["findings"]] == [
        "conftest exception (data.main.exception)"]


def test_reserved_data_keys_are_refused(tmp_path: Path) -> None:
    write(tmp_path, {"estate/d.yaml": DEPLOYMENT, "p/data.yaml": "inventory: {a: 1}\n",
                     "p/p.rego": 'package main\n\nimport rego.v1\n\ndeny contains "x" if false\n'})
    code, report, _ = check(tmp_path, "--policy", "p")
    assert code == 2 and "data key(s) inventory are reserved" in messages(report)


def test_config_exceptions_paths_and_unknown_rules(tmp_path: Path) -> None:
    write(tmp_path, {"estate/nested/deep/d.yaml": DEPLOYMENT, "p/p.rego": (
        'package main\n\nimport rego.v1\n\n# METADATA\n# custom:\n#   id: POL001\n'
        'deny contains "x" if input.kind == "Deployment"\n')})
    config = tmp_path / "config.yaml"
    config.write_text("exceptions:\n  - rules: [POL001]\n    paths: ['*.yaml']\n"
                      "    reason: gitignore-like, matches at any depth\n")
    code, report, _ = check(tmp_path, "--policy", "p", "--config", config)
    assert code == 0 and report["findings"][0]["suppressed_by"].startswith("config exception")
    config.write_text("exceptions:\n  - rules: [POL01]\n    reason: typo\n")
    done = subprocess.run([sys.executable, "-m", "checker", "check", "estate", "--policy",
                           "p", "--no-bundled-packs", "--config", config], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 2 and "unknown rule(s) POL01" in done.stderr


def test_expired_config_exception_is_located_from_outside_the_root(tmp_path: Path) -> None:
    write(tmp_path, {"repo/d.yaml": DEPLOYMENT, "repo/.gitops-checker.yaml": (
        "exceptions:\n  - rules: [SCH002]\n    reason: old\n    until: '2020-01-01'\n")})
    done = subprocess.run([sys.executable, "-m", "checker", "check", "repo", "--format",
                           "json", "--no-bundled-packs"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120, check=False)
    expired = [f for f in json.loads(done.stdout)["findings"] if f["rule_id"] == "EXC001"]
    assert [(f["location"]["path"], f["location"]["line"]) for f in expired] == \
        [(".gitops-checker.yaml", 2)]


def test_infinite_numbers_are_document_errors_and_rules_still_run(tmp_path: Path) -> None:
    write(tmp_path, {
        "estate/d.yaml": DEPLOYMENT,
        "estate/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n"
                          "  namespace: shop\ndata:\n  ratio: .inf\n",
        "p/p.rego": ('package main\n\nimport rego.v1\n\n'
                     'deny contains "seen" if input.kind == "Deployment"\n')})
    code, report, stderr = check(tmp_path, "--policy", "p")
    assert code == 2 and "Traceback" not in stderr
    assert [(e["path"], e["line"]) for e in report["errors"]] == [("cm.yaml", 7)]
    assert [f["message"] for f in report["findings"]] == ["seen"]


def test_the_test_command_uses_pack_data_and_reports_bad_cases(tmp_path: Path) -> None:
    write(tmp_path, {
        "pack/pack.yaml": "name: t\n",
        "pack/data.yaml": "limits: {max: 3}\n",
        "pack/p.rego": ('package t\n\nimport rego.v1\n\n# METADATA\n# custom:\n#   id: T001\n'
                        'deny contains "too many" if input.spec.replicas > data.limits.max\n'),
        "pack/p_test.rego": ('package t_test\n\nimport rego.v1\n\nimport data.t\n\n'
                             'test_limit_from_data if {\n'
                             '\tcount(t.deny) == 1 with input as {"spec": {"replicas": 4}}\n}\n'),
        "pack/tests/T001.yaml": ("rule: T001\ncases:\n  - name: bad regex\n    objects:\n"
                                 "      - {apiVersion: v1, kind: Pod, metadata: {name: a}}\n"
                                 "    expect:\n      - message: 'unclosed('\n"),
    })
    done = subprocess.run([sys.executable, "-m", "checker", "test", "pack", "-v"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120,
                          check=False)
    assert "PASS  pack/p_test.rego::test_limit_from_data" in done.stdout
    assert "ERROR pack/tests/T001.yaml::bad regex" in done.stdout
    assert "not a regular expression" in done.stdout and done.returncode == 2
    empty = write(tmp_path / "empty", {"pack.yaml": "name: e\n"})
    done = subprocess.run([sys.executable, "-m", "checker", "test", empty], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 1 and "no tests found" in done.stdout


def test_estate_data_overrides_bundled_pack_defaults(tmp_path: Path) -> None:
    """The tls pack's entry points are defaults an estate may change (not a merge conflict)."""
    route = ("apiVersion: traefik.io/v1alpha1\nkind: IngressRoute\nmetadata:\n  name: r\n"
             "  namespace: shop\nspec:\n  entryPoints: [https-internal]\n  routes:\n"
             "    - match: Host(`shop.example`)\n      kind: Rule\n      services:\n"
             "        - name: web\n          port: 80\n  tls:\n    secretName: shop-tls\n")
    write(tmp_path, {"estate/r.yaml": route,
                     "p/data.yaml": "tls_pack:\n  tls_entry_points:\n"
                                    "    https-internal: our TLS entry point\n"})
    done = subprocess.run([sys.executable, "-m", "checker", "check", "estate", "--format",
                           "json"], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                          check=False)
    before = {f["rule_id"] for f in json.loads(done.stdout)["findings"]}
    assert "TLS002" in before
    done = subprocess.run([sys.executable, "-m", "checker", "check", "estate", "--format",
                           "json", "--policy", "p"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120, check=False)
    report = json.loads(done.stdout)
    assert "TLS002" not in {f["rule_id"] for f in report["findings"]}
    assert report["errors"] == []
