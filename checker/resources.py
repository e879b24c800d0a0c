"""Where the checker's data directories are: `schemas/` and `rules/`.

In a checkout (the source tree, or an editable install of it) they are the repository's own
top-level directories, so edits to a schema or a bundled pack take effect at once. A built
wheel (`pip install .`, as pre-commit does) carries copies of both under `checker/_data/`
(setup.py's `build_py` puts them there); those are used when there is no checkout.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

PACKAGE_DIR = Path(__file__).resolve().parent
PACKAGED_DATA = PACKAGE_DIR / "_data"


def _is_checkout(root: Path) -> bool:
    return ((root / "pyproject.toml").is_file() and (root / "schemas").is_dir()
            and (root / "rules").is_dir())


DATA_ROOT = PACKAGE_DIR.parent if _is_checkout(PACKAGE_DIR.parent) else PACKAGED_DATA
"""The directory holding `schemas/` and `rules/`."""

SCHEMAS_DIR = DATA_ROOT / "schemas"
RULES_DIR = DATA_ROOT / "rules"


def schema_errors(schema_path: Path, instance: Any) -> list[Any]:
    """The errors of `instance` against one of the checker's own JSON schemas (config, rule
    METADATA), as `jsonschema` reports them, by path; [] when it is valid.

    jsonschema-rs decides first: it is loaded already, while importing `jsonschema` costs
    ~0.1 s of every run (a pre-commit hook's budget), and nearly every document is valid.
    Only an invalid one (or one jsonschema-rs cannot take) is explained by `jsonschema`,
    whose errors the messages are made from."""
    try:
        if _validator(schema_path).is_valid(instance):
            return []
    except (ValueError, TypeError, OverflowError):
        pass  # a value jsonschema-rs does not convert: let jsonschema judge
    import jsonschema

    schema = json.loads(schema_path.read_text(encoding="utf-8"))
    return sorted(jsonschema.Draft202012Validator(schema).iter_errors(instance),
                  key=lambda e: list(map(str, e.absolute_path)))


@functools.cache
def _validator(schema_path: Path) -> Any:
    import jsonschema_rs

    return jsonschema_rs.validator_for(json.loads(schema_path.read_text(encoding="utf-8")))
