"""Time `gitops-checker check` against the PyYAML CSafeLoader floor, as ratios from one run.

    python bench/run.py [--sizes 1000 10000] [--repeat 3] [--work DIR]

For each size, a synthetic estate is generated (bench/generate_estate.py, seed 1), then:
- floor: a fresh Python process that reads every .yaml/.yml file of the estate and loads
  it with `yaml.load_all(..., Loader=yaml.CSafeLoader)` (process start included, as for
  the checker);
- check: `gitops-checker check ESTATE --format json=/dev/null --no-progress` (schema stage,
  all built-in checks that exist).
Each is run `--repeat` times; the best wall time is kept, with its CPU time (user+sys of
the child) and peak RSS. The table is printed as Markdown for docs/performance.md.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent

FLOOR_SCRIPT = """
import sys, pathlib, yaml
root = pathlib.Path(sys.argv[1])
count = 0
for path in sorted(root.rglob("*")):
    if path.suffix in (".yaml", ".yml") and path.is_file():
        for _ in yaml.load_all(path.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader):
            count += 1
print(count)
"""


@dataclass
class Sample:
    wall: float
    cpu: float
    peak_mb: float


def measure(command: list[str]) -> Sample:
    """Run a command to completion; wall, child CPU and the child's peak RSS."""
    started = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode not in (0, 1):
        err = proc.stderr.read().decode() if proc.stderr else ""
        raise SystemExit(f"{command[:3]} failed with {proc.returncode}: {err}")
    return Sample(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024)


def best(command: list[str], repeat: int) -> Sample:
    samples = [measure(command) for _ in range(repeat)]
    return min(samples, key=lambda s: s.wall)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--work", type=Path, default=None,
                        help="where to generate estates (default: a temporary directory)")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="gitops-bench-"))
    python = sys.executable
    checker = [python, "-m", "checker", "check"]
    rows = []
    for size in args.sizes:
        estate = work / f"estate-{size}"
        subprocess.run([python, str(HERE / "generate_estate.py"), "--documents", str(size),
                        "--out", str(estate)], check=True, stdout=subprocess.DEVNULL)
        floor = best([python, "-c", FLOOR_SCRIPT, str(estate)], args.repeat)
        check = best([*checker, str(estate), "--format", "json=/dev/null", "--no-progress"],
                     args.repeat)
        rows.append((size, floor, check))
    print("| documents | CSafeLoader load: wall s (CPU s, peak MB) | check: wall s (CPU s, peak MB)"
          " | check ÷ load (wall) |")
    print("|---:|---:|---:|---:|")
    for size, floor, check in rows:
        print(f"| {size:,} | {floor.wall:.2f} ({floor.cpu:.2f}, {floor.peak_mb:.0f}) "
              f"| {check.wall:.2f} ({check.cpu:.2f}, {check.peak_mb:.0f}) "
              f"| {check.wall / floor.wall:.2f}× |")
    if len(rows) >= 2:
        (s1, _, c1), (s2, _, c2) = rows[0], rows[-1]
        print(f"\nscaling: {s2 / s1:.0f}× the documents took {c2.wall / c1.wall:.1f}× the time")


if __name__ == "__main__":
    main()
