"""Every bundled pack's own tests (Rego unit tests and YAML rule cases) pass, every rule has
documentation and at least one failing and one passing case, and `rules explain` renders."""

from __future__ import annotations

import io
import re
import subprocess
import sys
from pathlib import Path

import pytest

from checker.builtin import BUILTIN_RULES
from checker.config import Config
from checker.packs import BUNDLED_RULES
from checker.rulesdoc import known_rules
from checker.testing import run_tests

pytestmark = pytest.mark.slow

PACKS = sorted(p for p in BUNDLED_RULES.iterdir() if (p / "pack.yaml").is_file())


@pytest.mark.parametrize("pack", PACKS, ids=[p.name for p in PACKS])
def test_pack_tests_pass(pack: Path) -> None:
    out = io.StringIO()
    code = run_tests([pack], pattern=None, verbose=False, out=out)
    assert code == 0, out.getvalue()
    assert re.search(r"^[1-9]\d* passed, 0 failed, 0 errors$", out.getvalue(),
                     re.MULTILINE)


def test_every_pack_rule_has_docs_and_both_kinds_of_case() -> None:
    found, rules = known_rules(Config(), BUNDLED_RULES.parent, (), entry_points=False)
    assert rules.errors == []
    pack_rules = [r for r in found if r.info.id not in BUILTIN_RULES]
    assert len(pack_rules) >= 30
    for rule in pack_rules:
        assert rule.info.remediation, rule.info.id
        assert len(rule.documentation) > 200, rule.info.id
        pack_dir = BUNDLED_RULES / rule.pack if rule.pack else None
        assert pack_dir is not None
        cases = (pack_dir / "tests" / f"{rule.info.id}.yaml").read_text()
        assert re.search(r"expect:\s*\[\]", cases), f"{rule.info.id}: no passing case"
        assert re.search(r"expect:\s*\n\s+- ", cases), f"{rule.info.id}: no failing case"


def test_rules_explain_renders_a_pack_rule() -> None:
    done = subprocess.run([sys.executable, "-m", "checker", "rules", "explain", "BAK001"],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("BAK001 volume-not-backed-up")
    assert "critical critical" in done.stdout and "Remediation:" in done.stdout
