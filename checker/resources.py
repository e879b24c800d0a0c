"""Where the checker's data directories are: `schemas/` and `rules/`.

In a checkout (the source tree, or an editable install of it) they are the repository's own
top-level directories, so edits to a schema or a bundled pack take effect at once. A built
wheel (`pip install .`, as pre-commit does) carries copies of both under `checker/_data/`
(setup.py's `build_py` puts them there); those are used when there is no checkout.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
PACKAGED_DATA = PACKAGE_DIR / "_data"


def _is_checkout(root: Path) -> bool:
    return ((root / "pyproject.toml").is_file() and (root / "schemas").is_dir()
            and (root / "rules").is_dir())


DATA_ROOT = PACKAGE_DIR.parent if _is_checkout(PACKAGE_DIR.parent) else PACKAGED_DATA
"""The directory holding `schemas/` and `rules/`."""

SCHEMAS_DIR = DATA_ROOT / "schemas"
RULES_DIR = DATA_ROOT / "rules"
