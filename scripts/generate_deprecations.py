"""Write schemas/deprecations.json: which built-in API serves which kind in which version.

    python scripts/generate_deprecations.py [--out FILE]

Reads the `_definitions.json` of every Kubernetes minor version bundled in the installed
`kubernetes-validate` package (the `v1.X.0-local` directories, 1.25 to 1.37) and lists every
top-level kind (a definition with exactly one `x-kubernetes-group-version-kind`, outside
`io.k8s.apimachinery`; `*List` kinds are left out, they follow their item kind) with the first and last bundled minor
version that serves it. A kind that some version's description declares deprecated
("Deprecated: This API is deprecated in v1.33+", "Deprecated in 1.7, please use …") gets
`deprecated_in` and the sentence as `hint`, from the newest version that says so.

The output is sorted and one entry a line, so re-running gives byte-identical output;
tests/test_deprecations.py fails when it no longer matches the installed schemas.
`checker/deprecations.py` adds the hand-written facts the schemas cannot give.
"""

from __future__ import annotations

import argparse
import json
import re
from importlib import metadata, resources
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "schemas" / "deprecations.json"
MINORS = range(25, 38)
PACKAGE = "kubernetes-validate"

_HINT = re.compile(r"Deprecated(?::[^.]*?| in) v?(1\.\d+)\b[^\n]*")


def _definitions(minor: int) -> dict[str, Any]:
    base = resources.files("kubernetes_validate").joinpath("kubernetes-json-schema")
    text = base.joinpath(f"v1.{minor}.0-local", "_definitions.json").read_text(encoding="utf-8")
    defs: dict[str, Any] = json.loads(text)["$defs"]
    return defs


def _hint(description: str) -> tuple[str, str] | None:
    """(version, sentence) of a "Deprecated … 1.N" remark in a definition's description."""
    match = _HINT.search(description)
    if match is None:
        return None
    return match.group(1), match.group(0).strip()


def build() -> dict[str, Any]:
    """The table, from the installed package's schemas."""
    served: dict[tuple[str, str, str], list[int]] = {}
    hints: dict[tuple[str, str, str], tuple[str, str]] = {}
    for minor in MINORS:
        for name, definition in _definitions(minor).items():
            if name.startswith("io.k8s.apimachinery."):
                continue  # Status, DeleteOptions, APIGroup…: wire types, not resources
            gvks = definition.get("x-kubernetes-group-version-kind") or []
            if len(gvks) != 1:
                continue
            gvk = (gvks[0]["group"], gvks[0]["version"], gvks[0]["kind"])
            if gvk[2].endswith("List"):
                continue
            served.setdefault(gvk, []).append(minor)
            hint = _hint(definition.get("description") or "")
            if hint is not None:
                hints[gvk] = hint
    apis = []
    for gvk in sorted(served):
        minors = served[gvk]
        if minors != list(range(minors[0], minors[-1] + 1)):
            raise SystemExit(f"{gvk} is not served in consecutive versions: {minors}")
        entry: dict[str, Any] = {"group": gvk[0], "version": gvk[1], "kind": gvk[2],
                                 "first": f"1.{minors[0]}", "last": f"1.{minors[-1]}"}
        if gvk in hints:
            entry["deprecated_in"], entry["hint"] = hints[gvk]
        apis.append(entry)
    return {
        "source": f"{PACKAGE} {metadata.version(PACKAGE)}: "
                  "kubernetes-json-schema/v1.X.0-local/_definitions.json",
        "generated_by": "scripts/generate_deprecations.py",
        "versions": [f"1.{minor}" for minor in MINORS],
        "apis": apis,
    }


def render(data: dict[str, Any]) -> str:
    """Stable JSON text: one API a line, its keys in the order `build` gives them."""
    def dump(value: Any) -> str:
        return json.dumps(value, ensure_ascii=False)

    head = ",\n".join(f"  {dump(key)}: {dump(data[key])}" for key in sorted(data)
                      if key != "apis")
    apis = ",\n".join(f"    {dump(entry)}" for entry in data["apis"])
    return "{\n" + head + ',\n  "apis": [\n' + apis + "\n  ]\n}\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=TARGET)
    args = parser.parse_args()
    data = build()
    args.out.write_text(render(data), encoding="utf-8")
    print(f"wrote {len(data['apis'])} APIs to {args.out}")


if __name__ == "__main__":
    main()
