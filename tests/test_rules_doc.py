"""docs/rules.md is generated from the rules; a change to a rule without regenerating it fails
here (run `python scripts/generate_rules_doc.py`)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_rule_catalogue_is_up_to_date() -> None:
    spec = importlib.util.spec_from_file_location("generate_rules_doc",
                                                  ROOT / "scripts" / "generate_rules_doc.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    expected = module.catalogue()
    current = (ROOT / "docs" / "rules.md").read_text(encoding="utf-8")
    assert current == expected, "docs/rules.md is stale: run python scripts/generate_rules_doc.py"


def test_catalogue_lists_every_built_in_rule() -> None:
    text = (ROOT / "docs" / "rules.md").read_text(encoding="utf-8")
    for rule_id in ("SCH001", "SCH005", "EXC001", "EXC002", "TIER001"):
        assert f"### {rule_id}" in text
