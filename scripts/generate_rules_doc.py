"""Write docs/rules.md from the bundled rules' own documentation (run after changing a rule)."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from checker.config import Config
from checker.rulesdoc import known_rules, render_catalogue

TARGET = ROOT / "docs" / "rules.md"


def catalogue() -> str:
    """Bundled packs and built-in rules only: installed plug-ins do not belong in the docs."""
    found, rules = known_rules(Config(), ROOT, (), entry_points=False)
    if rules.errors:
        problems = "\n".join(f"{e.path}:{e.line}: {e.message}" for e in rules.errors)
        raise SystemExit(f"rules do not load:\n{problems}")
    return render_catalogue(found)


if __name__ == "__main__":
    TARGET.write_text(catalogue(), encoding="utf-8")
    print(f"wrote {TARGET.relative_to(ROOT)}")
