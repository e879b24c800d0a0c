"""Command line: parse arguments, run, write reports, map outcomes to exit codes.

Exit codes: 0 nothing at or above --fail-on; 1 findings at or above it; 2 the tool could
not decide (bad arguments or config, unreadable input, internal error). Tracebacks are
shown only with --debug.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TextIO

from checker import __version__
from checker.errors import CheckerError, ConfigError, UsageError
from checker.model import Report, Severity

EXIT_OK, EXIT_FINDINGS, EXIT_UNDECIDED = 0, 1, 2
PROGRESS_DELAY_SECONDS = 2.0


class _ArgumentParser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        raise UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    from checker.report import REPORTERS
    from checker.schema import SUPPORTED_VERSIONS

    parser = _ArgumentParser(prog="gitops-checker",
                             description="Policy and schema checks for GitOps repositories.")
    parser.add_argument("--version", action="version", version=f"gitops-checker {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    check = commands.add_parser("check", help="validate manifests against schemas and rules")
    check.add_argument("paths", nargs="*", default=["."], metavar="PATH",
                       help="files or directories to check; '-' reads standard input")
    check.add_argument("--format", action="append", dest="formats", metavar="NAME[=FILE]",
                       help=f"output format, repeatable ({', '.join(REPORTERS)}); "
                            "default text to standard output")
    check.add_argument("--fail-on", type=_severity, metavar="SEVERITY",
                       help="lowest severity that fails the run (default high)")
    check.add_argument("--config", type=Path, metavar="FILE",
                       help="configuration file (default ROOT/.gitops-checker.yaml)")
    check.add_argument("--root", type=Path, metavar="DIR",
                       help="directory paths are reported relative to (default: the one "
                            "directory given, else the current directory)")
    check.add_argument("--kubernetes-version", choices=SUPPORTED_VERSIONS, metavar="X.Y",
                       help=f"Kubernetes schemas to validate against ({SUPPORTED_VERSIONS[0]}"
                            f"–{SUPPORTED_VERSIONS[-1]}, default {SUPPORTED_VERSIONS[-1]})")
    strict = check.add_mutually_exclusive_group()
    strict.add_argument("--strict", dest="strict", action="store_true", default=None,
                        help="unknown fields are findings (default)")
    strict.add_argument("--no-strict", dest="strict", action="store_false",
                        help="allow fields the schema does not define")
    check.add_argument("--unknown-kinds", choices=("warn", "error", "ignore"),
                       help="kinds without a schema: warn (default), error or ignore")
    check.add_argument("--namespace", metavar="NS",
                       help="namespace for namespaced objects that declare none")
    check.add_argument("--no-progress", action="store_true", help="never show a progress bar")
    check.add_argument("--debug", action="store_true", help="show tracebacks of internal errors")
    return parser


def _severity(text: str) -> Severity:
    try:
        return Severity.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args_list
    try:
        args = build_parser().parse_args(args_list)
        if args.command == "check":
            return _check(args)
        raise UsageError(f"unknown command {args.command!r}")
    except CheckerError as exc:
        print(f"gitops-checker: error: {exc}", file=sys.stderr)
        return EXIT_UNDECIDED
    except KeyboardInterrupt:
        print("gitops-checker: interrupted", file=sys.stderr)
        return EXIT_UNDECIDED
    except BrokenPipeError:
        # The reader went away (`| head`); nothing more to say, and nothing was decided.
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_UNDECIDED
    except Exception as exc:  # noqa: BLE001 - the one place that turns a crash into exit 2
        if debug:
            traceback.print_exc()
        else:
            print(f"gitops-checker: internal error: {type(exc).__name__}: {exc} "
                  "(run with --debug for details)", file=sys.stderr)
        return EXIT_UNDECIDED


def _check(args: argparse.Namespace) -> int:
    from checker.config import find_config, load_config
    from checker.pipeline import run_check

    outputs = _parse_formats(args.formats or ["text"])
    root = args.root
    if root is None:
        dirs = [p for p in args.paths if p != "-" and Path(p).is_dir()]
        root = Path(dirs[0]) if len(args.paths) == 1 and dirs else Path.cwd()
    if not root.is_dir():
        raise UsageError(f"--root {root} is not a directory")
    for path in args.paths:
        if path != "-" and not Path(path).exists():
            raise UsageError(f"path {path!r} does not exist")
    config_path = args.config if args.config is not None else find_config(root)
    if args.config is not None and not args.config.is_file():
        raise ConfigError(f"config file {args.config} does not exist")
    config = load_config(config_path)
    overrides = {
        "fail_on": args.fail_on, "kubernetes_version": args.kubernetes_version,
        "strict": args.strict, "unknown_kinds": args.unknown_kinds,
        "namespace": args.namespace,
    }
    config = replace(config, **{k: v for k, v in overrides.items() if v is not None})

    with _progress(enabled=not args.no_progress) as progress:
        run = run_check(args.paths, root=root, config=config, progress=progress)
    for name, target in outputs:
        _write(name, target, run.report)
    return run.report.exit_code(config.fail_on)


def _parse_formats(specs: Sequence[str]) -> list[tuple[str, str | None]]:
    from checker.report import REPORTERS

    outputs = []
    for spec in specs:
        name, _, target = spec.partition("=")
        if name not in REPORTERS:
            raise UsageError(f"unknown format {name!r}; expected one of {', '.join(REPORTERS)}")
        outputs.append((name, target or None))
    to_stdout = [name for name, target in outputs if target is None]
    if len(to_stdout) > 1:
        raise UsageError(f"formats {', '.join(to_stdout)} all write to standard output; "
                         "give all but one a file (NAME=FILE)")
    return outputs


def _write(name: str, target: str | None, report: Report) -> None:
    from checker.report import reporter

    write = reporter(name)
    if target is None or target == "-":
        write(report, sys.stdout)
        sys.stdout.flush()
        return
    buffer = io.StringIO()
    write(report, buffer)
    try:
        Path(target).parent.mkdir(parents=True, exist_ok=True)
        Path(target).write_text(buffer.getvalue(), encoding="utf-8")
    except OSError as exc:
        raise CheckerError(f"cannot write {name} report to {target}: {exc.strerror}") from None


@contextlib.contextmanager
def _progress(*, enabled: bool,
              stream: TextIO | None = None) -> Iterator[Callable[[int, int], None] | None]:
    """A progress bar on a terminal, shown only once a run has taken ~2 s."""
    stream = stream if stream is not None else sys.stderr
    if not enabled or not stream.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import Progress

    started = time.monotonic()
    bar: Progress | None = None
    task = None

    def update(done: int, total: int) -> None:
        nonlocal bar, task
        if bar is None:
            if time.monotonic() - started < PROGRESS_DELAY_SECONDS:
                return
            bar = Progress(console=Console(file=stream), transient=True)
            bar.start()
            task = bar.add_task("checking files", total=total)
        bar.update(task, completed=done, total=total)  # type: ignore[arg-type]

    try:
        yield update
    finally:
        if bar is not None:
            bar.stop()
