"""Code from the checked repository runs only when the operator trusts it.

A repository's `.gitops-checker.yaml` may name policy directories of its own. Their Rego
runs (OPA is sandboxed), but their Python rules are code the change under check can alter
(in a pull request from anyone): they are not imported unless `--trust-config-code` is
given, and the rules that did not run make the run exit 2, never pass silently.
"""

from __future__ import annotations

import io
import json
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

from checker.cli import main

RULE = '''\
"""Marks the machine when imported: proves whether the module ran."""

from pathlib import Path

Path({marker!r}).write_text("ran")

METADATA = {{"id": "SHOP001", "name": "shop-rule", "category": "custom",
             "severity": "high", "kinds": ["ConfigMap"]}}


def check(manifest, ctx):
    yield "a ConfigMap the shop rule dislikes"
'''

REGO = """\
package main

import rego.v1

# METADATA
# custom:
#   id: SHOP002
#   severity: high
deny contains msg if {
  input.kind == "ConfigMap"
  msg := "a ConfigMap the Rego rule dislikes"
}
"""


def _estate(tmp_path: Path) -> tuple[Path, Path]:
    root = tmp_path / "estate"
    (root / "policy").mkdir(parents=True)
    marker = tmp_path / "marker"
    (root / "policy" / "shop_rule.py").write_text(RULE.format(marker=str(marker)))
    (root / "policy" / "shop.rego").write_text(REGO)
    (root / ".gitops-checker.yaml").write_text("policies: [policy/]\n")
    (root / "cm.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n"
                                  "  name: settings\n  namespace: shop\ndata: {a: b}\n")
    return root, marker


def _check(root: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(["check", str(root), "--format", "json", "--no-bundled-packs", *extra])
    return code, json.loads(out.getvalue())


def test_python_rules_named_by_the_repository_do_not_run_by_default(tmp_path: Path) -> None:
    root, marker = _estate(tmp_path)
    code, report = _check(root)
    assert not marker.exists()
    assert code == 2
    [error] = report["errors"]
    assert error["path"] == "policy/shop_rule.py"
    assert "Python rule not run" in error["message"]
    assert "--trust-config-code" in error["message"]
    # The repository's Rego still ran.
    assert [f["rule_id"] for f in report["findings"]] == ["SHOP002"]


def test_the_operator_can_trust_them(tmp_path: Path) -> None:
    root, marker = _estate(tmp_path)
    code, report = _check(root, "--trust-config-code")
    assert marker.read_text() == "ran"
    assert report["errors"] == []
    assert sorted(f["rule_id"] for f in report["findings"]) == ["SHOP001", "SHOP002"]
    assert code == 1


def test_a_policy_directory_given_on_the_command_line_is_trusted(tmp_path: Path) -> None:
    root, marker = _estate(tmp_path)
    (root / ".gitops-checker.yaml").write_text("{}\n")
    code, report = _check(root, "--policy", str(root / "policy"))
    assert marker.exists() and report["errors"] == [] and code == 1


def test_the_config_cannot_trust_itself(tmp_path: Path) -> None:
    root, marker = _estate(tmp_path)
    (root / ".gitops-checker.yaml").write_text("policies: [policy/]\ntrust_config_code: true\n")
    err = io.StringIO()
    with redirect_stdout(io.StringIO()), redirect_stderr(err):
        code = main(["check", str(root), "--no-bundled-packs"])
    assert code == 2 and not marker.exists()
    assert "trust_config_code" in err.getvalue()  # not a setting a config may hold
