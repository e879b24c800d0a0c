"""Compare YAML parsers on the same files, as ratios to PyYAML's CSafeLoader in one run.

    python bench/parsers.py DIR [--repeat 3]

Every parser reads every .yaml/.yml file under DIR (already in memory, so disk is not
measured). Parsers that are not installed are reported as such. The checker's own
reader (`checker.parse.parse_yaml`) is the one the tool uses; the others are candidates
it was chosen against (see docs/parsing.md).
"""

from __future__ import annotations

import argparse
import gc
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from checker.parse import Document, parse_yaml


def load_texts(root: Path) -> list[str]:
    files = sorted(p for p in root.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())
    return [p.read_text(encoding="utf-8") for p in files]


def csafe(texts: list[str]) -> int:
    return sum(1 for t in texts for _ in yaml.load_all(t, Loader=yaml.CSafeLoader))


def checker_reader(texts: list[str]) -> int:
    return sum(1 for t in texts for e in parse_yaml(t) if isinstance(e, Document))


def checker_reference(texts: list[str]) -> int:
    """The checker's reader without its yaml-rs fast path (libyaml + go-yaml's rules)."""
    return sum(1 for t in texts for e in parse_yaml(t, fast=False) if isinstance(e, Document))


def candidates() -> dict[str, Callable[[list[str]], int] | str]:
    found: dict[str, Callable[[list[str]], int] | str] = {
        "pyyaml CSafeLoader (floor)": csafe,
        "checker.parse (chosen: fast path, else reference)": checker_reader,
        "checker.parse reference path only (fast=False)": checker_reference,
    }
    try:
        from ruamel.yaml import YAML

        safe = YAML(typ="safe", pure=False)
        rt = YAML(typ="rt")
        found["ruamel.yaml safe (C)"] = lambda texts: sum(
            1 for t in texts for _ in safe.load_all(t))
        found["ruamel.yaml round-trip"] = lambda texts: sum(
            1 for t in texts for _ in rt.load_all(t))
    except ImportError:
        found["ruamel.yaml"] = "not installed"
    try:
        import yaml_rs

        def rs(texts: list[str]) -> int:
            count = 0
            for t in texts:
                data: Any = yaml_rs.loads(t, parse_datetime=False)
                count += len(data) if isinstance(data, list) else 1
            return count

        found["yaml-rs (YAML 1.2, no positions)"] = rs
    except ImportError:
        found["yaml-rs"] = "not installed"
    try:
        import ryml

        def rapid(texts: list[str]) -> int:
            count = 0
            for t in texts:
                tree = ryml.parse_in_arena(t.encode())
                count += max(1, tree.num_children(tree.root_id())) if tree.is_stream(
                    tree.root_id()) else 1
            return count

        found["rapidyaml (tree only, no Python objects)"] = rapid
    except ImportError:
        found["rapidyaml"] = "not installed"
    return found


def best_of(fn: Callable[[list[str]], int], texts: list[str], repeat: int) -> tuple[float, int]:
    best = float("inf")
    count = 0
    for _ in range(repeat):
        gc.collect()
        started = time.perf_counter()
        count = fn(texts)
        best = min(best, time.perf_counter() - started)
    return best, count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", type=Path)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    texts = load_texts(args.directory)
    size = sum(len(t.encode()) for t in texts)
    print(f"{len(texts)} files, {size / 1e6:.1f} MB, best of {args.repeat}\n")
    print("| parser | documents | seconds | ms/doc | × CSafeLoader |")
    print("|---|---:|---:|---:|---:|")
    floor = None
    for name, fn in candidates().items():
        if isinstance(fn, str):
            print(f"| {name} | – | – | – | {fn} |")
            continue
        seconds, count = best_of(fn, texts, args.repeat)
        floor = floor or seconds
        print(f"| {name} | {count} | {seconds:.3f} | {1000 * seconds / max(count, 1):.3f} "
              f"| {seconds / floor:.2f} |")


if __name__ == "__main__":
    main()
