"""Time `gitops-checker check` against the CSafeLoader floor and Checkov, as ratios from one run.

    python bench/run.py [--sizes 1000 10000] [--repeat 3] [--work DIR] [--json FILE]
        [--check-arg=--no-cache ...] [--checkov-venv DIR] [--checkov-arg=ARG ...]
        [--checkov-repeat 1] [--checkov-timeout 1800] [--skip-checkov] [--prepare-only]

For each size, a synthetic estate is generated (bench/generate_estate.py, seed 1) under
WORK/estate-N, then, on that same estate, in this order:
- floor: a fresh Python process that reads every .yaml/.yml file of the estate and loads
  it with `yaml.load_all(..., Loader=yaml.CSafeLoader)` (process start included, as for
  the checker);
- check: `python -m checker check ESTATE --format json=/dev/null --no-progress`, plus each
  `--check-arg` in the order given (all built-in stages and rules; kubectl builds and the
  OPA worker are child processes of the check and are counted with it);
- checkov: `checkov -d ESTATE --framework kubernetes --quiet --compact -o json`, plus each
  `--checkov-arg`, its JSON written to WORK/checkov-N.json (exit 1, "failed checks", counts
  as success), from a separate venv (`--checkov-venv`, default bench/out/checkov-venv) that
  this script creates with `python -m venv` and `pip install checkov==CHECKOV_VERSION` when
  it is missing or holds another version. A run over `--checkov-timeout` seconds is killed
  (its process group) and reported as a timeout.
Every command runs with the estate as its working directory (so the checker does not apply
this repository's .gitignore to a WORK under bench/out/). floor and check run `--repeat`
times, Checkov `--checkov-repeat` times; the best wall time is kept.

What is measured, per run (Linux):
- wall: time.perf_counter() from just before the fork to the return of wait4() for the
  command's process; descendants still running then are not waited for in this figure;
- CPU: user + sys from the delta of getrusage(RUSAGE_CHILDREN) of this script around the
  run. That covers the command's process and every descendant that was waited for: the
  kernel adds a reaped process's usage, with its own reaped descendants', to its parent's
  (so wait4 of the command already includes the kubectl builds and the OPA worker that the
  check waits for). This script also makes itself a child subreaper (prctl), so descendants
  orphaned on the way are re-parented to it and reaped, and counted, too. Descendants that
  outlive the command are waited for (not in wall, in CPU), noted under the table when
  they outlived it by more than LINGER_NOTE_SECONDS, and killed after LINGER_SECONDS;
- peak RSS: the largest ru_maxrss of any one process of that tree (wait4's figure for the
  command is the maximum over it and its waited-for descendants; orphans reaped here are
  included), in MiB. It is not the sum of processes alive at the same time; a forked
  worker's RSS includes the pages it shares with its parent, and a child's ru_maxrss starts
  from its parent's RSS when it was spawned (which never exceeds the parent's own peak).
The Markdown tables (one per size) give check ÷ floor and Checkov ÷ check (the check's
speed-up over Checkov), by wall and by CPU, then how the time scaled from the smallest to
the largest size. `--json FILE` writes every sample. `--prepare-only` creates the Checkov
venv and generates the estates, then stops.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import platform
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
CHECKOV_VERSION = "3.3.30"
"""The Checkov release compared against (the newest on PyPI on 2026-12-07)."""
DEFAULT_WORK = HERE / "out" / "run"
DEFAULT_CHECKOV_VENV = HERE / "out" / "checkov-venv"
LINGER_SECONDS = 10.0
"""How long descendants may outlive the measured command before they are killed."""
LINGER_NOTE_SECONDS = 0.5
"""Descendants outliving the command by more than this are noted under the table (Python's
multiprocessing resource tracker, which the check starts, exits a few ms after it)."""
PR_SET_CHILD_SUBREAPER = 36

CHECK_ENV = {**{k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"},
             "PYTHONPATH": os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH"))
                                           if p)}
"""The check imports this checkout's `checker` whatever its working directory, with its
bytecode cached as on any user's machine (this machine's shells set
PYTHONDONTWRITEBYTECODE, which would recompile ~90 modules in every run)."""

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

Obj = dict[str, Any]


@dataclass
class Sample:
    """One run of one command."""

    wall: float
    cpu: float
    """user + sys of the command and its descendants (RUSAGE_CHILDREN delta)."""
    peak_mb: float
    """Largest ru_maxrss of one process of the tree, MiB."""
    exit_code: int | None
    timed_out: bool = False
    lingering: int = 0
    """Descendants still running when the command exited (reaped here)."""
    linger_s: float = 0.0
    """How long after the command's exit the last of them was reaped."""


def become_subreaper() -> bool:
    """Make orphaned descendants of our children ours to reap (Linux); False elsewhere."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return bool(libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0)
    except (OSError, AttributeError):
        return False


def reap_descendants(group: int) -> tuple[int, float, float]:
    """Reap children left over from a run (orphans re-parented to us): how many were still
    running when the command exited, how long after it the last of them was reaped, and the
    largest ru_maxrss (KiB) among them. Kills the run's process group if they outlive
    LINGER_SECONDS."""
    lingering, last, peak, killed = 0, 0.0, 0.0, False
    started = time.monotonic()
    deadline = started + LINGER_SECONDS
    seen_running = False
    while True:
        try:
            pid, _, usage = os.wait4(-1, os.WNOHANG)
        except ChildProcessError:
            return lingering, last, peak
        if pid:
            peak = max(peak, usage.ru_maxrss)
            if seen_running:
                lingering, last = lingering + 1, time.monotonic() - started
            continue
        seen_running = True
        if time.monotonic() > deadline:
            if killed:
                print("warning: descendants survive SIGKILL of their process group; "
                      "later figures may include them", file=sys.stderr)
                return lingering + 1, time.monotonic() - started, peak
            print(f"warning: descendants still running {LINGER_SECONDS:.0f} s after the "
                  "command exited: killed", file=sys.stderr)
            try:
                os.killpg(group, signal.SIGKILL)
            except ProcessLookupError:
                pass
            killed, deadline = True, time.monotonic() + 5
        time.sleep(0.005)


def measure(command: list[str], cwd: Path, *, env: dict[str, str] | None = None,
            stdout: Path | None = None, timeout: float | None = None,
            ok: tuple[int, ...] = (0,), log: Path) -> Sample:
    """Run a command to completion (or until `timeout`): wall, CPU of the whole tree, peak
    RSS of its largest process. Exits with its stderr on an exit code not in `ok`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    fired = threading.Event()
    with open(stdout or os.devnull, "wb") as out, open(log, "wb") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(command, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                stdout=out, stderr=err, start_new_session=True)

        def kill() -> None:
            fired.set()
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

        timer = threading.Timer(timeout, kill) if timeout else None
        if timer:
            timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        except BaseException:  # Ctrl-C: the command has its own session, so it did not get it
            kill()
            raise
        finally:
            if timer:
                timer.cancel()
        wall = time.perf_counter() - started
    proc.returncode = code = os.waitstatus_to_exitcode(status)
    lingering, linger_s, orphan_peak = reap_descendants(proc.pid)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    peak_mb = max(usage.ru_maxrss, orphan_peak) / 1024
    if fired.is_set():
        return Sample(wall, cpu, peak_mb, None, True, lingering, linger_s)
    if code not in ok:
        tail = log.read_text(encoding="utf-8", errors="replace")[-4000:]
        raise SystemExit(f"{' '.join(command[:4])} … failed with exit code {code} "
                         f"(stderr: {log}):\n{tail}")
    return Sample(wall, cpu, peak_mb, code, False, lingering, linger_s)


def best(name: str, size: int, repeat: int, run: Callable[[], Sample]) -> Obj:
    """Run `run()` `repeat` times (stopping at a timeout); the best wall time and all samples."""
    samples: list[Sample] = []
    for attempt in range(repeat):
        sample = run()
        samples.append(sample)
        state = "TIMEOUT" if sample.timed_out else f"{sample.wall:.2f} s"
        print(f"  {size:,} documents: {name} {attempt + 1}/{repeat}: {state} "
              f"(CPU {sample.cpu:.2f} s, peak {sample.peak_mb:.0f} MiB, "
              f"load {os.getloadavg()[0]:.1f})", file=sys.stderr)
        if sample.timed_out:
            break
    finished = [s for s in samples if not s.timed_out]
    top = min(finished, key=lambda s: s.wall) if finished else samples[0]
    return {"best": asdict(top), "samples": [asdict(s) for s in samples]}


def installed_checkov(venv: Path) -> str | None:
    """The checkov version in `venv`, or None."""
    python = venv / "bin" / "python"
    if not python.exists():
        return None
    found = subprocess.run(
        [str(python), "-c", "import importlib.metadata as m; print(m.version('checkov'))"],
        capture_output=True, text=True, check=False)
    return found.stdout.strip() if found.returncode == 0 else None


def ensure_checkov(venv: Path) -> Path:
    """Create `venv` with checkov==CHECKOV_VERSION unless it is there; its `checkov`."""
    if installed_checkov(venv) != CHECKOV_VERSION:
        if not (venv / "bin" / "python").exists():
            print(f"creating {venv}", file=sys.stderr)
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        print(f"installing checkov=={CHECKOV_VERSION} into {venv}", file=sys.stderr)
        subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet",
                        f"checkov=={CHECKOV_VERSION}"], check=True)
        if (found := installed_checkov(venv)) != CHECKOV_VERSION:
            raise SystemExit(f"{venv}: checkov {found} after installing {CHECKOV_VERSION}")
    return venv / "bin" / "checkov"


def generate(size: int, work: Path) -> Path:
    """Generate (or regenerate, identically) the estate of `size` documents, seed 1."""
    estate = work / f"estate-{size}"
    subprocess.run([sys.executable, str(HERE / "generate_estate.py"), "--documents", str(size),
                    "--seed", "1", "--out", str(estate)], check=True, stdout=subprocess.DEVNULL)
    return estate


def checkov_summary(report: Path) -> Obj:
    """Counts from Checkov's JSON report (one framework: an object; several: a list)."""
    try:
        data = json.loads(report.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return {"error": f"unreadable report: {exc}"}
    reports = data if isinstance(data, list) else [data]
    total: Obj = {}
    for item in reports:
        summary = item.get("summary", item)
        for key in ("passed", "failed", "skipped", "parsing_errors", "resource_count"):
            total[key] = total.get(key, 0) + int(summary.get(key, 0))
        total["checkov_version"] = summary.get("checkov_version")
    return total


def run_size(size: int, args: argparse.Namespace, checkov: Path | None) -> Obj:
    """Generate the estate of `size` documents and time floor, check and Checkov on it."""
    work: Path = args.work
    estate = generate(size, work)
    logs = work / "logs"
    logs.mkdir(exist_ok=True)
    python = sys.executable
    result: Obj = {"documents": size, "estate": str(estate),
                   "load_average_before": os.getloadavg()}
    floor_cmd = [python, "-c", FLOOR_SCRIPT, str(estate)]
    result["floor"] = {"command": ["python", "-c", "FLOOR_SCRIPT", str(estate)], **best(
        "floor", size, args.repeat,
        lambda: measure(floor_cmd, estate, log=logs / f"floor-{size}.stderr"))}
    check_cmd = [python, "-m", "checker", "check", str(estate), "--format", "json=/dev/null",
                 "--no-progress", "--no-cache", *args.check_arg]
    result["check"] = {"command": check_cmd, **best(
        "check", size, args.repeat,
        lambda: measure(check_cmd, estate, env=CHECK_ENV, ok=(0, 1),
                        log=logs / f"check-{size}.stderr"))}
    # The same check again with its result cache (a run of its own fills it first): what a
    # second run over an unchanged estate costs.
    rerun_cmd = [c for c in check_cmd if c != "--no-cache"]
    rerun_env = {**CHECK_ENV, "GITOPS_CHECKER_CACHE_DIR": str(work / f"cache-{size}")}
    shutil.rmtree(work / f"cache-{size}", ignore_errors=True)
    measure(rerun_cmd, estate, env=rerun_env, ok=(0, 1), log=logs / f"fill-{size}.stderr")
    result["rerun"] = {"command": rerun_cmd, **best(
        "unchanged rerun", size, args.repeat,
        lambda: measure(rerun_cmd, estate, env=rerun_env, ok=(0, 1),
                        log=logs / f"rerun-{size}.stderr"))}
    if checkov is not None:
        report = work / f"checkov-{size}.json"
        checkov_cmd = [str(checkov), "-d", str(estate), "--framework", "kubernetes", "--quiet",
                       "--compact", "-o", "json", *args.checkov_arg]
        result["checkov"] = {"command": checkov_cmd, "version": CHECKOV_VERSION,
                             "timeout": args.checkov_timeout, **best(
            "checkov", size, args.checkov_repeat,
            lambda: measure(checkov_cmd, estate, stdout=report, ok=(0, 1),
                            timeout=args.checkov_timeout,
                            log=logs / f"checkov-{size}.stderr"))}
        if not result["checkov"]["best"]["timed_out"]:
            result["checkov"]["report"] = {"path": str(report), **checkov_summary(report)}
    result["load_average_after"] = os.getloadavg()
    return result


def ratio(a: Obj, b: Obj, key: str) -> str:
    """`a ÷ b` for `key` of two best samples; `> N×` when `a` timed out."""
    if b["timed_out"]:
        return "—"
    if a["timed_out"]:
        return f"> {a['wall'] / b[key]:.1f}×" if key == "wall" else "—"
    return f"{a[key] / b[key]:.2f}×"


def print_tables(results: list[Obj]) -> None:
    """One Markdown table per size, then the scaling lines."""
    for r in results:
        floor, check = r["floor"]["best"], r["check"]["best"]
        print(f"\n{r['documents']:,} documents (load average {r['load_average_before'][0]:.1f} "
              f"before, {r['load_average_after'][0]:.1f} after):\n")
        print("| run | wall s | CPU s | peak RSS MiB | ratio (wall) | ratio (CPU) |")
        print("|---|---:|---:|---:|---:|---:|")
        print(f"| floor: CSafeLoader load | {floor['wall']:.2f} | {floor['cpu']:.2f} "
              f"| {floor['peak_mb']:.0f} | | |")
        print(f"| check | {check['wall']:.2f} | {check['cpu']:.2f} | {check['peak_mb']:.0f} "
              f"| check ÷ floor: {ratio(check, floor, 'wall')} "
              f"| {ratio(check, floor, 'cpu')} |")
        if "rerun" in r:
            again = r["rerun"]["best"]
            print(f"| check again, nothing changed (result cache) | {again['wall']:.2f} "
                  f"| {again['cpu']:.2f} | {again['peak_mb']:.0f} | | |")
        if "checkov" in r:
            c = r["checkov"]["best"]
            wall = (f"timeout ({r['checkov']['timeout']:.0f} s)" if c["timed_out"]
                    else f"{c['wall']:.2f}")
            cpu = "—" if c["timed_out"] else f"{c['cpu']:.2f}"
            peak = "—" if c["timed_out"] else f"{c['peak_mb']:.0f}"
            print(f"| Checkov {r['checkov']['version']} | {wall} | {cpu} | {peak} "
                  f"| Checkov ÷ check: **{ratio(c, check, 'wall')}** "
                  f"| {ratio(c, check, 'cpu')} |")
            summary = r["checkov"].get("report")
            if summary and "error" not in summary:
                print(f"\nCheckov: {summary['resource_count']:,} resources, "
                      f"{summary['passed']:,} passed and {summary['failed']:,} failed checks, "
                      f"{summary['parsing_errors']} parsing errors.")
        lingering = [f"{name}: {b['lingering']} for {b['linger_s']:.2f} s"
                     for name in ("floor", "check", "checkov") if name in r
                     for b in [r[name]["best"]] if b["linger_s"] > LINGER_NOTE_SECONDS]
        if lingering:
            print(f"\ndescendants that outlived the command (not in wall): "
                  f"{'; '.join(lingering)}")
    if len(results) >= 2:
        first, last = results[0], results[-1]
        factor = last["documents"] / first["documents"]
        for name, label in (("check", "check"), ("checkov", "Checkov")):
            if name not in first or name not in last:
                continue
            a, b = first[name]["best"], last[name]["best"]
            if a["timed_out"] or b["timed_out"]:
                continue
            print(f"\nscaling ({label}): {factor:.0f}× the documents took "
                  f"{b['wall'] / a['wall']:.1f}× the time")


def git_commit() -> str | None:
    """The checkout's HEAD commit, '+dirty' when the work tree has changes (read-only)."""
    try:
        head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], check=True,
                              capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain",
                                "--untracked-files=no"], check=True, capture_output=True,
                               text=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return head + ("+dirty" if dirty else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--repeat", type=int, default=3, help="runs of floor and check")
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK,
                        help="where estates, Checkov reports and stderr logs go "
                             "(default: bench/out/run)")
    parser.add_argument("--json", type=Path, default=None, help="also write all figures here")
    parser.add_argument("--check-arg", action="append", default=[], metavar="ARG",
                        help="extra argument for `check`, repeatable (--check-arg=--no-cache)")
    parser.add_argument("--checkov-venv", type=Path, default=DEFAULT_CHECKOV_VENV,
                        help="venv holding Checkov, created when missing "
                             "(default: bench/out/checkov-venv)")
    parser.add_argument("--checkov-arg", action="append", default=[], metavar="ARG",
                        help="extra argument for Checkov, repeatable "
                             "(--checkov-arg=--skip-download)")
    parser.add_argument("--checkov-repeat", type=int, default=1)
    parser.add_argument("--checkov-timeout", type=float, default=1800.0, metavar="SECONDS")
    parser.add_argument("--skip-checkov", action="store_true")
    parser.add_argument("--prepare-only", action="store_true",
                        help="create the Checkov venv and generate the estates, then stop")
    args = parser.parse_args()
    args.work = args.work.resolve()
    args.work.mkdir(parents=True, exist_ok=True)
    checkov = None if args.skip_checkov else ensure_checkov(args.checkov_venv.resolve())
    if args.prepare_only:
        for size in args.sizes:
            print(generate(size, args.work))
        if checkov is not None:
            print(checkov)
        return
    if not become_subreaper():
        print("warning: not a child subreaper: CPU of orphaned descendants is not counted",
              file=sys.stderr)
    # Recorded before the run: the working tree may move while it lasts (minutes).
    started, commit = datetime.now(UTC).isoformat(timespec="seconds"), git_commit()
    results = [run_size(size, args, checkov) for size in args.sizes]
    print_tables(results)
    if args.json is not None:
        data = {"date": started,
                "commit": commit, "machine": {"cpus": os.cpu_count(),
                                                    "platform": platform.platform(),
                                                    "python": platform.python_version()},
                "argv": sys.argv[1:], "checkov_version": None if args.skip_checkov
                else CHECKOV_VERSION, "sizes": results}
        if len(results) >= 2:
            first, last = results[0], results[-1]
            data["scaling"] = {
                name: last[name]["best"]["wall"] / first[name]["best"]["wall"]
                for name in ("floor", "check", "checkov")
                if name in first and name in last and not first[name]["best"]["timed_out"]
                and not last[name]["best"]["timed_out"]}
        args.json.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
