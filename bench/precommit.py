"""Time the pre-commit hooks' command on one changed file, against the floors it cannot beat.

    python bench/precommit.py [--estate DIR] [--documents N] [--repeat 5] [--dev]

The hooks run where pre-commit runs them: a virtual environment of their own (made under
bench/out/hook-venv for each run of this script) with this checkout installed as a package,
not in development mode, and the policy hook's additional dependency (the OPA bindings),
installed offline from the wheelhouse `make install` builds (.venv/wheelhouse); the
commands are its `gitops-checker` script. `--dev` (or no wheelhouse) measures this venv
instead, with `python -m checker` (its editable install adds ~10 ms to every start).

Measured in one run, each in a fresh process (as pre-commit starts one), best of --repeat:
- interpreter: `python -c pass` (the floor of any Python hook);
- read the file: the interpreter plus PyYAML CSafeLoader on the changed file;
- imports: the interpreter importing what `check` imports (checker.cli, checker.pipeline);
- schema hook: `gitops-checker check --changed --schema-only FILE`, the file edited before
  each run (as each commit changes it);
- policy hook: `gitops-checker check --changed FILE` (schema + all built-in packs), once with
  the file as the previous run saw it (the result cache answers) and once edited.
The estate is copied to a temporary directory first and made a git repository with a
remote (as a hook's estate is: the checker reads its remotes to recognise its own apps), and
the runs use a result cache of their own.
The estate is the bundled example (Kustomize overlays, Helm charts, Argo CD apps) unless
--estate is given; --documents N checks a synthetic estate (bench/generate_estate.py)
instead. The changed file is a plain manifest of that estate. The target (issue 6):
the hook's own time — its wall time less the interpreter's — at most 0.3 s.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import Sample, measure

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
EXAMPLE = REPO / "fixtures" / "estates" / "odoo-finance"
EXAMPLE_FILE = "clusters/prod/reporting/ingress.yaml"

READ_SCRIPT = """
import sys, yaml
with open(sys.argv[1], encoding="utf-8") as f:
    list(yaml.load_all(f, Loader=yaml.CSafeLoader))
"""


def _changed_file(estate: Path) -> str:
    """A plain manifest (not in a Kustomize directory) of a generated estate."""
    for path in sorted(estate.rglob("*.yaml")):
        if path.name in ("kustomization.yaml", "values.yaml", "Chart.yaml") or \
                ".github" in path.parts:
            continue
        if not (path.parent / "kustomization.yaml").exists():
            return path.relative_to(estate).as_posix()
    raise SystemExit(f"no plain manifest in {estate}")


def _git_repository(estate: Path) -> None:
    """A hook runs in a repository: the copy gets one, with the remote its apps name."""
    env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    for command in (["git", "init", "--quiet"],
                    ["git", "remote", "add", "origin",
                     "https://git.acme-finance.example/platform/gitops-estate.git"]):
        subprocess.run(command, cwd=estate, env=env, check=True)


HOOK_DEPENDENCIES = ["opa-golib-python-bindings==0.4.4"]
"""The policy hook's `additional_dependencies` (.pre-commit-hooks.yaml)."""


def hook_environment() -> Path | None:
    """A venv as pre-commit makes one for the hooks, or None without a wheelhouse."""
    wheelhouse = Path(sys.prefix) / "wheelhouse"
    if not wheelhouse.is_dir():
        return None
    venv = HERE / "out" / "hook-venv"
    shutil.rmtree(venv, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    env = {**os.environ, "PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(wheelhouse),
           "PIP_CONFIG_FILE": os.devnull, "PIP_DISABLE_PIP_VERSION_CHECK": "1",
           "PIP_IGNORE_REQUIRES_PYTHON": "1"}  # (the OPA wheel's: see docs/install.md)
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet",
                    str(REPO), *HOOK_DEPENDENCIES], check=True, env=env)
    return venv


def best(command: list[str], repeat: int, before: Callable[[int], None] | None = None,
         env: dict[str, str] | None = None) -> Sample:
    """The fastest of `repeat` runs (exit codes 0 and 1 both mean the hook ran);
    `before(n)` runs before the n-th."""
    log = Path(tempfile.mkdtemp(prefix="gitops-bench-log-")) / "stderr.txt"
    samples = []
    for attempt in range(repeat):
        if before is not None:
            before(attempt)
        samples.append(measure(command, REPO, ok=(0, 1), log=log, env=env))
    return min(samples, key=lambda s: s.wall)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--estate", type=Path, default=None)
    parser.add_argument("--documents", type=int, default=None)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--dev", action="store_true",
                        help="measure this venv (python -m checker), not a hook environment")
    args = parser.parse_args()
    venv = None if args.dev else hook_environment()
    python = str(venv / "bin" / "python") if venv is not None else sys.executable
    if args.documents:
        estate = Path(tempfile.mkdtemp(prefix="gitops-bench-")) / "estate"
        subprocess.run([python, str(HERE / "generate_estate.py"), "--documents",
                        str(args.documents), "--out", str(estate)], check=True,
                       stdout=subprocess.DEVNULL)
        changed = _changed_file(estate)
    else:
        source = args.estate or EXAMPLE
        changed = EXAMPLE_FILE if source == EXAMPLE else _changed_file(source)
        # A copy: each hook run below edits the changed file, as a commit would.
        estate = Path(tempfile.mkdtemp(prefix="gitops-bench-")) / "estate"
        shutil.copytree(source, estate)
    _git_repository(estate)
    original = (estate / changed).read_text(encoding="utf-8")

    def edit(attempt: int) -> None:
        """A new edit of the changed file before each run: what a commit hands the hook."""
        (estate / changed).write_text(f"{original}\n# edit {attempt} {time.time_ns()}\n",
                                      encoding="utf-8")

    # Bytecode cached, as on a user's machine and in pre-commit's own environments.
    cache = {**{k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"},
             "GITOPS_CHECKER_CACHE_DIR": tempfile.mkdtemp(prefix="gitops-cache-")}

    def in_estate(command: list[str]) -> list[str]:
        # The hook runs at the repository's top with paths relative to it.
        return ["sh", "-c", 'cd "$0" && exec "$@"', str(estate), *command]

    program = [str(venv / "bin" / "gitops-checker")] if venv is not None else \
        [python, "-m", "checker"]
    checker = [*program, "check", "--changed", "--no-progress", "--format", "json=/dev/null"]
    rows: list[tuple[str, Sample]] = [
        ("interpreter (`python -c pass`)", best([python, "-c", "pass"], args.repeat)),
        ("read the file (CSafeLoader)",
         best([python, "-c", READ_SCRIPT, str(estate / changed)], args.repeat)),
        ("imports (checker.cli, checker.pipeline)",
         best([python, "-c", "import checker.cli, checker.pipeline"], args.repeat)),
        ("schema hook (`check --changed --schema-only`), file edited",
         best(in_estate([*checker, "--schema-only", changed]), args.repeat, edit, cache)),
        ("policy hook (`check --changed`), file unchanged since the last run",
         best(in_estate([*checker, changed]), args.repeat, None, cache)),
        ("policy hook (`check --changed`), file edited",
         best(in_estate([*checker, changed]), args.repeat, edit, cache)),
    ]
    interpreter = rows[0][1].wall
    print(f"estate: {estate if args.documents is None else f'{args.documents} documents'}; "
          f"changed file: {changed}; hooks run from "
          f"{venv if venv is not None else 'this venv (python -m checker)'}\n")
    print("| step | wall s | CPU s | peak MB | own time s (wall − interpreter) |")
    print("|---|---:|---:|---:|---:|")
    for name, sample in rows:
        print(f"| {name} | {sample.wall:.3f} | {sample.cpu:.3f} | {sample.peak_mb:.0f} "
              f"| {sample.wall - interpreter:.3f} |")
    own = rows[-1][1].wall - interpreter
    print(f"\npolicy hook's own time: {own:.2f} s (target ≤ 0.3 s: "
          f"{'met' if own <= 0.3 else 'not met'})")


if __name__ == "__main__":
    main()
