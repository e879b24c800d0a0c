"""Generate strict JSON Schemas for CRD-backed kinds from a directory of CRD YAML.

    python scripts/generate_crd_schemas.py [--source DIR] [--out DIR]

Walks every .yaml/.yml file under --source (multi-document; anything that is not an
apiextensions.k8s.io CustomResourceDefinition is skipped), converts each CRD with
`checker.crds`, and writes:

- <out>/<group>/<kind lowercased>_<version>.json for every *served* version, compact
  and with sorted keys so re-running gives byte-identical files;
- <out>/index.json: every version of every kept CRD, sorted by (group, version, kind),
  one entry per line. A version that is not served is listed with "file": null (the API
  server would refuse it, so there is nothing to validate against, but the checker can
  say "not served" instead of "unknown kind").

Stale *.json files under <out> (from CRDs that disappeared) are removed, but only when
<out>/index.json already exists, i.e. the directory is one this script made.

Duplicates: when several files define the same CRD (same group and kind), one is kept
deterministically: the file holding the fewest CRDs wins (a per-kind file over a
bundle), then the smaller source path. For Traefik this keeps
traefik/per-kind-helm-chart/*.yaml (the Helm chart, released Traefik v3.7.11) over
traefik/kubernetes-crd-definition-v1.yml (a bundle from Traefik master, which adds
`peerCertSANs` to ServersTransport and ServersTransportTCP ahead of a release). Every
skipped duplicate is reported on stderr, with whether its schemas differ.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from checker.crds import CrdVersion, crd_versions, iter_crds, load_yaml_documents

DEFAULT_SOURCE = REPO_ROOT.parent / "shared" / "crds"
DEFAULT_OUT = REPO_ROOT / "schemas" / "crds"
YAML_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class Candidate:
    source: str  # path relative to the source dir, POSIX style
    crds_in_file: int
    versions: tuple[CrdVersion, ...]

    @property
    def crd_key(self) -> tuple[str, str]:
        first = self.versions[0]
        return (first.group, first.kind)

    @property
    def preference(self) -> tuple[int, str]:
        return (self.crds_in_file, self.source)


def dump_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def collect(source: Path) -> list[Candidate]:
    candidates: list[Candidate] = []
    files = sorted(
        (
            p
            for p in source.rglob("*")
            if p.is_file() and p.suffix.lower() in YAML_SUFFIXES
        ),
        key=lambda p: p.relative_to(source).as_posix(),
    )
    for path in files:
        rel = path.relative_to(source).as_posix()
        try:
            documents = load_yaml_documents(path.read_text(encoding="utf-8"))
        except Exception as exc:  # a broken file must not silently drop CRDs
            raise SystemExit(f"error: cannot parse {rel}: {exc}") from exc
        crds = list(iter_crds(documents))
        for crd in crds:
            try:
                versions = tuple(crd_versions(crd))
            except ValueError as exc:
                raise SystemExit(f"error: {rel}: {exc}") from exc
            candidates.append(Candidate(rel, len(crds), versions))
    return candidates


def choose(candidates: list[Candidate]) -> list[Candidate]:
    """One candidate per (group, kind); see the module docstring for the rule."""
    by_key: dict[tuple[str, str], list[Candidate]] = {}
    for candidate in candidates:
        by_key.setdefault(candidate.crd_key, []).append(candidate)
    kept: list[Candidate] = []
    for key in sorted(by_key):
        group = sorted(by_key[key], key=lambda c: c.preference)
        winner = group[0]
        for loser in group[1:]:
            same = [(v.key, v.schema) for v in loser.versions] == [
                (v.key, v.schema) for v in winner.versions
            ]
            print(
                f"duplicate CRD {key[1]}.{key[0]}: kept {winner.source}, skipped {loser.source}"
                f" ({'same schemas' if same else 'schemas differ'})",
                file=sys.stderr,
            )
        kept.append(winner)
    return kept


def schema_file(version: CrdVersion) -> str:
    return f"{version.group}/{version.kind.lower()}_{version.version}.json"


def check_compiles(path: str, schema: dict[str, Any]) -> None:
    try:
        import jsonschema_rs
    except ImportError:  # optional: the venv has it, CI images may not
        return
    try:
        jsonschema_rs.validator_for(schema)
    except Exception as exc:
        raise SystemExit(
            f"error: generated schema {path} does not compile: {exc}"
        ) from exc


def generate(source: Path, out: Path) -> tuple[int, int, int]:
    """Write schemas and index; returns (CRDs kept, schema files, bytes written)."""
    if not source.is_dir():
        raise SystemExit(f"error: source directory {source} does not exist")
    kept = choose(collect(source))

    files: dict[str, str] = {}
    index: list[dict[str, Any]] = []
    for candidate in kept:
        for version in candidate.versions:
            file: str | None = None
            if version.served:
                file = schema_file(version)
                if file in files:
                    raise SystemExit(f"error: two CRDs map to {file}")
                check_compiles(file, version.schema)
                files[file] = dump_json(version.schema) + "\n"
            index.append(
                {
                    "group": version.group,
                    "version": version.version,
                    "kind": version.kind,
                    "plural": version.plural,
                    "scope": version.scope,
                    "file": file,
                    "source": candidate.source,
                    "cel_rules_dropped": version.cel_rules_dropped,
                    "deprecated": version.deprecated,
                    "served": version.served,
                    "storage": version.storage,
                }
            )
    index.sort(key=lambda e: (e["group"], e["version"], e["kind"]))
    index_text = "[\n" + ",\n".join(dump_json(entry) for entry in index) + "\n]\n"

    had_index = (out / "index.json").is_file()
    out.mkdir(parents=True, exist_ok=True)
    for rel, text in files.items():
        target = out / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    (out / "index.json").write_text(index_text, encoding="utf-8")
    if had_index:
        remove_stale(out, set(files) | {"index.json"})

    size = sum(len(t.encode("utf-8")) for t in files.values()) + len(
        index_text.encode("utf-8")
    )
    return len(kept), len(files), size


def remove_stale(out: Path, wanted: set[str]) -> None:
    for path in sorted(out.rglob("*.json")):
        if path.relative_to(out).as_posix() not in wanted:
            print(f"removing stale {path.relative_to(out).as_posix()}", file=sys.stderr)
            path.unlink()
    for directory in sorted((d for d in out.rglob("*") if d.is_dir()), reverse=True):
        if not any(directory.iterdir()):
            directory.rmdir()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--source",
        type=Path,
        default=DEFAULT_SOURCE,
        help="directory of CRD YAML files (default: ../shared/crds relative to the repo root)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        help="output directory (default: schemas/crds in the repo)",
    )
    args = parser.parse_args(argv)
    crds, schemas, size = generate(args.source.resolve(), args.out.resolve())
    print(f"{crds} CRDs, {schemas} schemas, {size} bytes written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
