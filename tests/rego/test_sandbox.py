"""Policies may not reach the network or read the environment: a module calling such a
builtin is refused, located, and the other rules still run (exit 2)."""

from __future__ import annotations

import io
import json
import re
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from checker.cli import main
from checker.rego.engine import _STRING_OR_COMMENT, code_only, sandboxed

GOOD = """\
package main

import rego.v1

deny contains "a ConfigMap" if input.kind == "ConfigMap"
"""

CALLS = {
    "http.send": 'r := http.send({"method": "get", "url": "http://127.0.0.1:9/leak"})',
    "net.lookup_ip_addr": 'r := net.lookup_ip_addr("example.com")',
    "opa.runtime": "r := opa.runtime().env",
}


@pytest.mark.parametrize("builtin", sorted(CALLS))
def test_a_policy_calling_a_forbidden_builtin_is_refused(tmp_path: Path, builtin: str) -> None:
    policy = tmp_path / "policy"
    policy.mkdir()
    (policy / "good.rego").write_text(GOOD)
    (policy / "bad.rego").write_text(
        "package main\n\nimport rego.v1\n\n# a comment naming http.send( is fine\n"
        f"warn contains msg if {{\n  {CALLS[builtin]}\n  msg := sprintf(\"%v\", [r])\n}}\n")
    (tmp_path / "cm.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n"
                                      "  name: a\n  namespace: b\n")
    out = io.StringIO()
    with redirect_stdout(out), redirect_stderr(io.StringIO()):
        code = main(["check", str(tmp_path / "cm.yaml"), "--root", str(tmp_path),
                     "--policy", str(policy), "--no-bundled-packs", "--format", "json"])
    report = json.loads(out.getvalue())
    assert code == 2
    [error] = report["errors"]
    assert (error["path"], error["line"]) == ("policy/bad.rego", 7)
    assert f"calls {builtin}" in error["message"]
    assert [f["message"] for f in report["findings"]] == ["a ConfigMap"]


def test_strings_and_comments_naming_a_builtin_are_not_calls() -> None:
    source = ('package p\n# http.send(x)\nmsg := "do not call http.send(x)"\n'
              "raw := `opa.runtime()`\nlookup_ip_addr(x) := x\n")
    allowed, problems = sandboxed({"p.rego": source})
    assert problems == [] and allowed == {"p.rego": source}


@given(st.text(alphabet=st.sampled_from(list('ab"`#\\\n é{}')), max_size=80))
def test_code_only_blanks_strings_and_comments_in_place(source: str) -> None:
    """Every character of a string or comment becomes a space, newlines stay where they
    were, and code is left alone: offsets and lines of the rest are those of the source."""
    expected = _STRING_OR_COMMENT.sub(lambda m: re.sub(r"[^\n]", " ", m.group()), source)
    assert code_only(source) == expected
    assert len(code_only(source)) == len(source)
