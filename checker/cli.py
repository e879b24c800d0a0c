"""Command line: parse arguments, run, write reports, map outcomes to exit codes.

Exit codes: 0 nothing at or above --fail-on; 1 findings at or above it; 2 the tool could
not decide (bad arguments or config, unreadable input, internal error). Tracebacks are
shown only with --debug.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import gc
import io
import os
import sys
import time
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from checker import __version__
from checker.errors import CheckerError, ConfigError, UsageError
from checker.model import Report, Severity
from checker.secrets import recording

if TYPE_CHECKING:
    from checker.config import Config

EXIT_OK, EXIT_FINDINGS, EXIT_UNDECIDED = 0, 1, 2
PROGRESS_DELAY_SECONDS = 2.0


class _ArgumentParser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        raise UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    from checker.report import REPORTERS
    from checker.versions import SUPPORTED_VERSIONS

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
    _policy_arguments(check)
    check.add_argument("--baseline", type=Path, metavar="FILE",
                       help="report the findings recorded in FILE as suppressed")
    check.add_argument("--write-baseline", type=Path, metavar="FILE",
                       help="record every active finding in FILE (accepting them) and exit 0")
    check.add_argument("--base", metavar="REF",
                       help="pull-request mode: also check the merge base of REF and HEAD "
                            "(read from git, the working tree is not touched) and fail only "
                            "on findings it does not have")
    check.add_argument("--changed", action="store_true",
                       help="PATHs are the files a change touched (as pre-commit passes them): "
                            "the whole estate at --root (default: the current directory) is "
                            "checked, and only findings located in those files are reported")
    check.add_argument("--schema-only", action="store_true",
                       help="only the schema stage: no rule packs or policies")
    check.add_argument("--no-progress", action="store_true", help="never show a progress bar")
    check.add_argument("--no-cache", action="store_true",
                       help="neither use nor keep the result of an earlier run with the same "
                            "files and settings (kept in $GITOPS_CHECKER_CACHE_DIR, else the "
                            "user cache directory)")
    check.add_argument("--debug", action="store_true", help="show tracebacks of internal errors")

    drift = commands.add_parser("drift", help="compare the declared objects with the live "
                                              "cluster (or a snapshot of it)")
    drift.add_argument("paths", nargs="*", default=["."], metavar="PATH",
                       help="files or directories that declare the objects")
    live = drift.add_mutually_exclusive_group()
    live.add_argument("--live", action="append", type=Path, default=[], metavar="FILE|DIR",
                      help="read live state from `kubectl get -o yaml|json` dumps instead of "
                           "a cluster; repeatable")
    live.add_argument("--context", metavar="NAME", help="kubeconfig context (default: current)")
    drift.add_argument("--kubeconfig", type=Path, metavar="FILE",
                       help="kubeconfig file (default: $KUBECONFIG or ~/.kube/config; "
                            "in a pod, its service account)")
    drift.add_argument("--cluster", metavar="NAME",
                       help="the estate's name for the cluster read (an Argo CD destination "
                            "name or server, a Flux kubeConfig secret): needed when the "
                            "estate deploys to several")
    drift.add_argument("--request-timeout", type=_positive_seconds, default=30.0,
                       metavar="SECONDS", help="time one API request may take (default 30)")
    drift.add_argument("--server-side-diff", action="store_true", default=None,
                       help="compare the server's dry-run apply of each object with live "
                            "(needs patch rights)")
    for option in ("--format", "--fail-on", "--config", "--root", "--kubernetes-version",
                   "--namespace", "--baseline", "--trust-config-code", "--debug"):
        _copy_argument(check, drift, option)

    sod = commands.add_parser("sod", help="segregation of duties in the change history: "
                                          "approvals, signatures and code owners of commits "
                                          "that change protected paths")
    span = sod.add_mutually_exclusive_group(required=True)
    span.add_argument("--range", dest="rev_range", metavar="BASE..HEAD",
                      help="the commits to check: reachable from HEAD and not from BASE")
    span.add_argument("--base", metavar="REF", help="the same as --range REF..HEAD")
    sod.add_argument("--repo", type=Path, default=Path("."), metavar="DIR",
                     help="the repository (default: the current directory); its top level "
                          "holds the config and paths are reported relative to it")
    for option in ("--format", "--fail-on", "--config", "--baseline", "--debug"):
        _copy_argument(check, sod, option)

    report = commands.add_parser("report", help="the nightly report: policy check and drift "
                                                "together, with history, as HTML, JSON and "
                                                "Markdown")
    report.add_argument("paths", nargs="*", default=["."], metavar="PATH",
                        help="files or directories of the estate")
    report.add_argument("--out", type=Path, required=True, metavar="DIR",
                        help="where to write report.html, report.json, summary.md and "
                             "nightly.json")
    report.add_argument("--history", type=Path, metavar="FILE",
                        help="the history database (SQLite; default OUT/history.sqlite)")
    report.add_argument("--nights", type=_positive_int, default=30, metavar="N",
                        help="runs shown in the trend (default 30)")
    report.add_argument("--no-drift", action="store_true",
                        help="the policy check only (no live state to compare with)")
    report.add_argument("--at", type=_timestamp, metavar="TIME",
                        help="record the run at this UTC time (ISO 8601; default now): for "
                             "backfills and tests")
    for option in ("--live", "--context", "--kubeconfig", "--cluster", "--request-timeout"):
        _copy_argument(drift, report, option)
    for option in ("--fail-on", "--config", "--root", "--kubernetes-version", "--namespace",
                   "--baseline", "--trust-config-code", "--debug"):
        _copy_argument(check, report, option)

    rules = commands.add_parser("rules", help="list the rules, or explain one")
    rules_commands = rules.add_subparsers(dest="rules_command", required=True, metavar="ACTION")
    listing = rules_commands.add_parser("list", help="every known rule, one line each")
    listing.add_argument("--format", choices=("text", "json"), default="text")
    explain = rules_commands.add_parser("explain", help="a rule's documentation")
    explain.add_argument("rule", metavar="ID", help="rule id or name")
    for sub in (listing, explain):
        sub.add_argument("--config", type=Path, metavar="FILE")
        sub.add_argument("--root", type=Path, default=Path.cwd(), metavar="DIR")
        _policy_arguments(sub)
        sub.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)

    test = commands.add_parser("test", help="run the rule packs' own tests (Rego unit tests "
                                            "and YAML rule cases)")
    test.add_argument("paths", nargs="*", metavar="PATH",
                      help="pack or policy directories (default: the bundled packs)")
    test.add_argument("--run", metavar="REGEX", help="only tests whose name matches")
    test.add_argument("--verbose", "-v", action="store_true", help="list passing tests too")
    test.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)
    return parser


def _copy_argument(source: argparse.ArgumentParser, target: argparse.ArgumentParser,
                   option: str) -> None:
    """The same option, with the same help, on another command."""
    for action in source._actions:
        if option in action.option_strings:
            target._add_action(action)
            return
    raise ValueError(option)


def _policy_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--policy", action="append", type=Path, default=[], metavar="DIR",
                        help="extra policy directory (Rego, data, Gatekeeper templates and "
                             "constraints, or a pack); repeatable")
    parser.add_argument("--policy-namespace", action="append", default=[], metavar="PKG",
                        help="Rego package to evaluate in plain policy directories "
                             "(default main); repeatable")
    parser.add_argument("--all-namespaces", action="store_true", default=None,
                        help="evaluate every Rego package of plain policy directories")
    parser.add_argument("--rule-timeout", type=_positive_seconds, metavar="SECONDS",
                        help="time one Rego query may take before the rule is reported as "
                             "failed (default 30)")
    parser.add_argument("--no-bundled-packs", dest="bundled_packs", action="store_false",
                        default=None, help="do not load the rule packs shipped with "
                                           "gitops-checker (only --policy and installed packs)")
    parser.add_argument("--opa-url", metavar="URL",
                        help="evaluate Rego on this OPA server (policies are pushed to it)")
    parser.add_argument("--trust-config-code", action="store_true", default=None,
                        help="run the Python rules of the policy directories the checked "
                             "repository's config names (by default only their Rego runs: "
                             "see docs/security.md)")


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {text!r}")
    return int(text)


def _timestamp(text: str) -> dt.datetime:
    try:
        at = dt.datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an ISO 8601 time such as "
                                         f"2026-12-07T02:30:00Z, got {text!r}") from None
    return at if at.tzinfo is not None else at.replace(tzinfo=dt.UTC)


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}")
    return value


def _severity(text: str) -> Severity:
    try:
        return Severity.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def run() -> None:
    """The command-line entry point: `main`, then an exit that skips tearing the heap down
    object by object (about a second after checking 10,000 documents). Reports are written
    and closed by then; standard streams are flushed here.

    The process collects no garbage cycles: it lives for one command and makes few (15,710
    objects left unreachable after checking 10,000 documents; the same peak memory), while
    looking for them cost ~5–10 ms of the imports of a pre-commit hook's run."""
    gc.disable()
    code = main()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            code = code or EXIT_UNDECIDED
    os._exit(code)


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args_list
    with recording() as redactor:  # every Secret value the run reads, for what is printed here
        try:
            args = build_parser().parse_args(args_list)
            if args.command == "check":
                return _check(args)
            if args.command == "drift":
                return _drift(args)
            if args.command == "sod":
                return _sod(args)
            if args.command == "rules":
                return _rules(args)
            if args.command == "report":
                return _report(args)
            if args.command == "test":
                return _test(args)
            raise UsageError(f"unknown command {args.command!r}")
        except CheckerError as exc:
            print(redactor.text(f"gitops-checker: error: {exc}"), file=sys.stderr)
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
            # An exception's message may quote input: Secret values are masked in it.
            if debug:
                print(redactor.text(traceback.format_exc()), end="", file=sys.stderr)
            else:
                print(redactor.text(f"gitops-checker: internal error: {type(exc).__name__}: "
                                    f"{exc} (run with --debug for details)"), file=sys.stderr)
            return EXIT_UNDECIDED


def _check(args: argparse.Namespace) -> int:
    from checker.rego.worker import discard_spare, start_spare

    if not args.schema_only and "-" not in args.paths:
        # The OPA worker's interpreter starts beside this one's imports, and is ready when the
        # rules are (a run answered from the cache, or asked to use an OPA server, ends it).
        start_spare()
    try:
        return _check_started(args)
    finally:
        discard_spare()


def _check_started(args: argparse.Namespace) -> int:
    outputs = _parse_formats(args.formats or ["text"])
    focus = None
    if args.changed:
        args.paths, focus = _changed_files(args)
    root, config = _root_and_config(args, {"strict": args.strict,
                                           "unknown_kinds": args.unknown_kinds})
    if focus is not None:
        focus = _focus(focus, root)
    if args.base is not None and (args.changed or "-" in args.paths):
        raise UsageError("--base compares directories of a repository: it cannot be used "
                         "with --changed or standard input")
    report = _cached_check(args, root, config, focus)
    if args.base is not None:
        report = _against_base(args, root, report, config)
    for name, target in outputs:
        _write(name, target, report)
    if args.write_baseline is not None:
        from checker.exceptions import write_baseline

        count = write_baseline(report.findings, args.write_baseline)
        print(f"gitops-checker: wrote {count} finding(s) to {args.write_baseline}",
              file=sys.stderr)
        return EXIT_UNDECIDED if report.errors else EXIT_OK
    return report.exit_code(config.fail_on)


def _cached_check(args: argparse.Namespace, root: Path, config: Any, focus: Any) -> Report:
    """The check's report: an earlier run's when nothing it read has changed, else a new
    one (kept for the next run when every object could be checked)."""
    from checker.cache import JsonCache, RenderCache, ResultCache, run_key
    from checker.discover import discover

    today = dt.date.today()
    cache = None if args.no_cache or "-" in args.paths else ResultCache.open()
    derived = JsonCache.open(cache, "derived") if cache is not None else None
    key, listing = "", []
    if cache is not None:
        baseline = args.baseline or (root / config.baseline if config.baseline else None)
        key = run_key(paths=args.paths, root=root, config=config, policy_dirs=args.policy,
                      config_dirs=[root / p for p in config.policies], baseline=baseline,
                      focus=sorted(focus.files) if focus is not None else None,
                      with_rules=not args.schema_only, today=today, derived=derived)
        found, skipped = discover(args.paths, root, exclude=config.exclude)
        listing = [c.display for c in found] + [f"{s.display}\0{s.reason}" for s in skipped]
        cached = cache.get(key, listing)
        if cached is not None:
            return cached
    from checker.pipeline import run_check

    started_ns = time.time_ns()
    with _progress(enabled=not args.no_progress) as progress:
        run = run_check(args.paths, root=root, config=config, progress=progress,
                        policy_dirs=args.policy, baseline=args.baseline, focus=focus,
                        with_rules=not args.schema_only, today=today,
                        render_cache=RenderCache.open(cache) if cache is not None else None,
                        derived_cache=derived)
    if cache is not None and not run.report.errors and run.cacheable:
        extra = [Path(config.path)] if config.path else []
        cache.put(key, listing, [*run.inputs, *extra], run.report, started_ns=started_ns)
    return run.report


def _against_base(args: argparse.Namespace, root: Path, report: Report,
                  current: Config) -> Report:
    """The same check on the merge base, with the base's own config and in-repository
    policies; a base that cannot be checked at all leaves every finding new. Then the
    segregation of duties of the commits since the base, by the base's `sod:` rules (a
    change must not be judged by rules it rewrites itself)."""
    from checker.changes import compare_with_base, merge_base_tree
    from checker.config import find_config, load_config
    from checker.model import ToolError
    from checker.pipeline import run_check

    with merge_base_tree(root, args.base) as tree:
        base_root = tree.map(root)
        paths = [str(tree.map(Path(p))) for p in args.paths if tree.map(Path(p)).exists()]
        base = Report((), (), {}, 0, 0, report.tool_version)
        sod_config = current
        if base_root.is_dir() and paths:
            try:
                config_path = args.config if args.config is not None else \
                    find_config(base_root)
                config = _with_overrides(load_config(config_path), args, {
                    "fail_on": args.fail_on, "kubernetes_version": args.kubernetes_version,
                    "namespace": args.namespace, "strict": args.strict,
                    "unknown_kinds": args.unknown_kinds})
                sod_config = config
                base = run_check(paths, root=base_root, config=config,
                                 policy_dirs=[tree.map(p) for p in args.policy],
                                 baseline=args.baseline,
                                 with_rules=not args.schema_only).report
            except CheckerError as exc:
                base = replace(base, errors=(ToolError(
                    "base", f"the merge base {tree.label} could not be checked: {exc}"),))
        compared = compare_with_base(report, base, tree)
    return _with_sod(compared, sod_config, tree.commit, root, args.baseline)


def _with_sod(report: Report, config: Config, base_commit: str, root: Path,
              baseline: Path | None) -> Report:
    """`report` with the `sod` findings of BASE..HEAD (all new), paths made relative to the
    check's root; nothing when the config protects no path."""
    from checker.discover import relative_display
    from checker.gitgates.sod import repository_root, run_sod
    from checker.model import Finding, ToolError

    if not config.sod.protected or report.base is None:
        return report
    try:
        sod = run_sod(root, f"{base_commit}..HEAD", config, baseline=baseline)
        top = repository_root(root)
    except CheckerError as exc:
        problem = ToolError("git", f"segregation of duties not checked: {exc}")
        return replace(report, errors=(*report.errors, problem))

    def rerooted(finding: Finding) -> Finding:
        location = finding.location
        if location.path is not None:
            location = replace(location, path=relative_display(top / location.path, root))
        return replace(finding, location=location,
                       details={**finding.details, "baseline_state": "new"})

    findings = [rerooted(f) for f in sod.findings]
    new = sum(1 for f in findings if f.suppressed_by is None)
    return replace(report,
                   findings=tuple(sorted((*report.findings, *findings), key=Finding.sort_key)),
                   errors=(*report.errors, *sod.errors), rules={**report.rules, **sod.rules},
                   base=replace(report.base, new=report.base.new + new))


def _report(args: argparse.Namespace) -> int:
    from checker.drift.run import LiveSource
    from checker.nightly.run import BUNDLE, run_report

    root, config = _root_and_config(args, {})
    if args.no_drift and (args.live or args.context or args.kubeconfig):
        raise UsageError("--no-drift leaves no use for --live, --context or --kubeconfig")
    for path in args.live:
        if not path.exists():
            raise UsageError(f"--live {path} does not exist")
    source = None if args.no_drift else LiveSource(
        tuple(args.live), args.kubeconfig, args.context, args.request_timeout, args.cluster)
    nightly = run_report(args.paths, root=root, config=config, out=args.out,
                         history=args.history, live_source=source, nights=args.nights,
                         at=args.at or dt.datetime.now(dt.UTC).replace(microsecond=0),
                         baseline=args.baseline)
    report = nightly.report
    comparison = nightly.comparison
    print(f"gitops-checker: {len(report.active_findings)} findings "
          f"({len(comparison.new)} new, {len(comparison.fixed)} fixed), "
          f"{len(report.errors)} could not be checked; wrote "
          f"{', '.join(str(args.out / name) for name in BUNDLE)}", file=sys.stderr)
    return report.exit_code(config.fail_on)


def _changed_files(args: argparse.Namespace) -> tuple[list[str], list[str]]:
    """(estate paths, changed files) for --changed: the estate is the root; files that no
    longer exist (a deletion in the change) have nothing to report."""
    changed = [p for p in args.paths if p != "."]
    if "-" in changed:
        raise UsageError("--changed takes file names, not standard input")
    if args.root is None:
        args.root = Path.cwd()
    return [str(args.root)], changed


def _focus(changed: Sequence[str], root: Path) -> Any:
    from checker.discover import relative_display
    from checker.pipeline import Focus

    return Focus(frozenset(relative_display(Path(p).absolute(), root) for p in changed))


def _drift(args: argparse.Namespace) -> int:
    from checker.drift.run import LiveSource, run_drift

    outputs = _parse_formats(args.formats or ["text"])
    root, config = _root_and_config(args, {})
    for path in args.live:
        if not path.exists():
            raise UsageError(f"--live {path} does not exist")
    if args.kubeconfig is not None and not args.kubeconfig.is_file():
        raise UsageError(f"--kubeconfig {args.kubeconfig} does not exist")
    if args.server_side_diff:
        if args.live:
            raise UsageError("--server-side-diff needs a cluster, not --live snapshots")
        config = replace(config, drift=replace(config.drift, server_side=True))
    source = LiveSource(tuple(args.live), args.kubeconfig, args.context, args.request_timeout,
                        args.cluster)
    run = run_drift(args.paths, root=root, config=config, live_source=source,
                    baseline=args.baseline)
    for name, target in outputs:
        _write(name, target, run.report)
    return run.report.exit_code(config.fail_on)


def _sod(args: argparse.Namespace) -> int:
    from checker.config import find_config, load_config
    from checker.gitgates.sod import repository_root, run_sod

    outputs = _parse_formats(args.formats or ["text"])
    root = repository_root(args.repo)
    if args.config is not None and not args.config.is_file():
        raise ConfigError(f"config file {args.config} does not exist")
    if args.baseline is not None and not args.baseline.is_file():
        raise UsageError(f"--baseline {args.baseline} does not exist")
    config_path = args.config if args.config is not None else find_config(root)
    config = _with_overrides(load_config(config_path), args, {"fail_on": args.fail_on})
    rev_range = args.rev_range if args.rev_range is not None else f"{args.base}..HEAD"
    report = run_sod(root, rev_range, config, baseline=args.baseline)
    for name, target in outputs:
        _write(name, target, report)
    return report.exit_code(config.fail_on)


def _root_and_config(args: argparse.Namespace, extra: Mapping[str, Any]) -> tuple[Path, Config]:
    """The root paths are shown relative to, and the config with command-line overrides."""
    from checker.config import find_config, load_config

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
    config = _with_overrides(load_config(config_path), args, {
        "fail_on": args.fail_on, "kubernetes_version": args.kubernetes_version,
        "namespace": args.namespace, **extra,
    })
    if args.baseline is not None and not args.baseline.is_file():
        raise UsageError(f"--baseline {args.baseline} does not exist")
    return root, config


def _with_overrides(config: Config, args: argparse.Namespace,
                    extra: Mapping[str, Any] | None = None) -> Config:
    """Command-line options win over the config file."""
    overrides: dict[str, Any] = dict(extra or {})
    overrides.update({
        "rule_timeout": getattr(args, "rule_timeout", None),
        "opa_url": getattr(args, "opa_url", None),
        "all_namespaces": getattr(args, "all_namespaces", None),
        "bundled_packs": getattr(args, "bundled_packs", None),
        "trust_config_code": getattr(args, "trust_config_code", None),
        "policy_namespaces": tuple(getattr(args, "policy_namespace", ())) or None,
    })
    return replace(config, **{k: v for k, v in overrides.items() if v is not None})


def _rules(args: argparse.Namespace) -> int:
    from checker.config import find_config, load_config
    from checker.rulesdoc import explain_rule, list_rules

    config_path = args.config if args.config is not None else find_config(args.root)
    config = _with_overrides(load_config(config_path), args)
    if args.rules_command == "list":
        return list_rules(config, args.root, args.policy, args.format, sys.stdout)
    return explain_rule(config, args.root, args.policy, args.rule, sys.stdout)


def _test(args: argparse.Namespace) -> int:
    from checker.testing import run_tests

    return run_tests([Path(p) for p in args.paths], pattern=args.run, verbose=args.verbose,
                     out=sys.stdout)


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
